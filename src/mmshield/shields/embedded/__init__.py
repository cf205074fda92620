"""The embedded CPU shield (default backend): ONNX text encoder, OCR, image safety, small context model."""

from mmshield.shields.embedded.shield import EmbeddedShield, ShieldSession

__all__ = ["EmbeddedShield", "ShieldSession"]
