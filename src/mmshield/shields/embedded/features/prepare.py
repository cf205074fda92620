"""One-time preparation of the feature models (quantise the text encoder, open every session).

`python -m mmshield.shields.embedded.features.prepare` after install makes the first real call fast
and proves that every model loads offline; it prints the seconds each step took.
"""

from __future__ import annotations

import json
import sys
import time


def prepare_models(images: bool = True) -> dict[str, float]:
    """Load (and on first use quantise) the text encoder, then the OCR and safety models; seconds per step."""
    from mmshield.shields.embedded.features.image_safety import ImageSafety
    from mmshield.shields.embedded.features.ocr import OCREngine
    from mmshield.shields.embedded.features.text_encoder import TextEncoder

    out: dict[str, float] = {}
    t = time.perf_counter()
    enc = TextEncoder()
    enc.load()
    enc.encode(["warm up"])
    out["text_encoder_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    enc.encode(["Xin chào, bạn khỏe không?"])  # the cross-lingual path (multilingual-e5-small)
    out["multilingual_encoder_s"] = round(time.perf_counter() - t, 3)
    if images:
        t = time.perf_counter()
        OCREngine().load()
        out["ocr_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        ImageSafety().load()
        out["image_safety_s"] = round(time.perf_counter() - t, 3)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print(json.dumps(prepare_models(images="--text-only" not in args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
