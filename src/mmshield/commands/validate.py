"""`mmshield validate FILE`: every problem with record id, turn index and field; exit status 2 if any."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mmshield.images import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, ImageLimits
from mmshield.validation import validate_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="MMDS JSONL file, or one JSON dialogue")
    parser.add_argument("--json", action="store_true", help="print one JSON object (file, ok, counts, problems)")
    parser.add_argument("--no-images", action="store_true", help="do not open the images (faster; structure and labels only)")
    parser.add_argument("--max-image-bytes", type=int, default=MAX_IMAGE_BYTES, help="largest encoded image accepted")
    parser.add_argument("--max-image-pixels", type=int, default=MAX_IMAGE_PIXELS, help="largest image (width x height) accepted")


def run(args: argparse.Namespace) -> int:
    limits = ImageLimits(max_bytes=args.max_image_bytes, max_pixels=args.max_image_pixels)
    report = validate_file(args.file, limits=limits, check_images=not args.no_images)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        for p in report.problems:
            print(f"{args.file}: {p}")
        status = "OK" if report.ok else f"{len(report.problems)} problem(s)"
        print(f"{args.file}: {report.records} record(s), {report.valid_records} valid, "
              f"{report.images_checked} image(s) checked: {status}", file=sys.stderr)
    return 0 if report.ok else 2
