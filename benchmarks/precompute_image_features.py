"""Fill the image-feature disk cache (OCR + safety) for every image of an MMDS build, in parallel.

Run: .venv/bin/python benchmarks/precompute_image_features.py build/mmds-open --workers 2
Order: train and dev interleaved at random (a partial run still gives a balanced training subset), then test.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from multiprocessing import Process
from pathlib import Path


def image_paths(root: Path) -> list[Path]:
    out: list[Path] = []
    seen: set[str] = set()
    for group in (("train", "dev"), ("test",)):
        batch = []
        for split in group:
            with open(root / f"{split}.jsonl", encoding="utf-8") as fh:
                for line in fh:
                    for t in json.loads(line)["conversations"]:
                        for p in t.get("image") or []:
                            if p not in seen:
                                seen.add(p)
                                batch.append(root / p)
        random.Random(0).shuffle(batch)
        out.extend(batch)
    return out


def worker(paths: list[Path], k: int, n: int) -> None:
    from mmshield.errors import ImageError
    from mmshield.images import ImageRef
    from mmshield.shields.embedded.features import ImageAnalyzer

    a = ImageAnalyzer()
    mine = paths[k::n]
    t0 = time.time()
    for i, p in enumerate(mine):
        try:
            a.analyze(ImageRef(str(p)))
        except ImageError as exc:
            print(f"[worker {k}] {exc}", file=sys.stderr)
        if i % 50 == 0:
            print(f"[worker {k}] {i}/{len(mine)} ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    paths = image_paths(args.root)
    print(f"{len(paths)} images", file=sys.stderr)
    procs = [Process(target=worker, args=(paths, k, args.workers)) for k in range(args.workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()


if __name__ == "__main__":
    main()
