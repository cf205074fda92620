"""Torch-free feature extractors of the embedded shield: text embeddings, OCR, image safety, image facts.

Heavy modules (onnxruntime sessions, RapidOCR) load lazily on first use, never at import.
"""

from mmshield.shields.embedded.features.cache import LRUCache, cache_dir
from mmshield.shields.embedded.features.image_analyzer import FACT_NAMES, ImageAnalyzer, ImageFeatures
from mmshield.shields.embedded.features.image_safety import ImageSafety
from mmshield.shields.embedded.features.ocr import OCREngine, OCRLine, OCRResult
from mmshield.shields.embedded.features.text_encoder import TextEncoder

__all__ = [
    "FACT_NAMES",
    "ImageAnalyzer",
    "ImageFeatures",
    "ImageSafety",
    "LRUCache",
    "OCREngine",
    "OCRLine",
    "OCRResult",
    "TextEncoder",
    "cache_dir",
]
