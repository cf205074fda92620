"""`mmshield train`: reproduce the embedded shield's weights from an MMDS-open build."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from mmshield.shields.embedded.shield import default_weights_path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=Path("build/mmds-open"),
                   help="folder of an `mmshield data build` output (train/dev/test.jsonl)")
    p.add_argument("--out", type=Path, default=None, help="weights file to write (default: the packaged weights)")
    p.add_argument("--features-cache", type=Path, default=Path("build/features"),
                   help="folder for cached featurized splits (delete to recompute)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--holdout-family", action="append", default=[],
                   help="leave this source family out of train and dev (repeatable); the report tests on it")
    p.add_argument("--no-images", action="store_true", help="skip OCR and image-safety models (faster, text only)")
    p.add_argument("--cached-images-only", action="store_true",
                   help="use only image features already in the disk cache (benchmarks/precompute_image_features.py); "
                        "dialogues with uncached images are skipped and counted")


def run(args: argparse.Namespace) -> int:
    from mmshield.shields.embedded import training as tr
    from mmshield.shields.embedded.features import TextEncoder
    from mmshield.shields.embedded.featurize import DialogueEncoder
    from mmshield.shields.embedded.model import ContextModel

    t0 = time.time()
    args.features_cache.mkdir(parents=True, exist_ok=True)
    table = tr.TableEncoder(TextEncoder(), path=args.features_cache / "text_table.npy")
    analyzer = None
    if args.cached_images_only:
        from mmshield.shields.embedded.features import ImageAnalyzer

        analyzer = tr.CacheOnlyAnalyzer(ImageAnalyzer())
    enc = DialogueEncoder(table, analyzer, read_images=not args.no_images)
    splits = {}
    for split in ("train", "dev", "test"):
        path = args.data / f"{split}.jsonl"
        if not path.is_file():
            print(f"missing {path}: run `mmshield data build --out {args.data}` first", file=sys.stderr)
            return 2
        cache = args.features_cache / f"{split}{'-noimg' if args.no_images else ''}.npz"
        if cache.is_file() and cache.stat().st_mtime > path.stat().st_mtime:
            splits[split] = tr.load_examples(cache)
        else:
            splits[split] = tr.featurize(tr.load_records(path), args.data, enc, desc=split)
            tr.save_examples(cache, splits[split])
            table.save()
        print(f"{split}: {len(splits[split])} dialogues", file=sys.stderr)
    hold = set(args.holdout_family)
    train_ex = [e for e in splits["train"] if e.family not in hold]
    dev_ex = [e for e in splits["dev"] if e.family not in hold]
    cfg = tr.TrainConfig(epochs=args.epochs, seed=args.seed, hidden=args.hidden)
    model, dev_loss = tr.train(train_ex, dev_ex, cfg, log=lambda m: print(m, file=sys.stderr))
    out = args.out or default_weights_path()
    meta = {"dev_loss": round(dev_loss, 5), "config": cfg.__dict__, "data": str(args.data),
            "holdout_families": sorted(hold), "n_train": len(train_ex), "n_dev": len(dev_ex)}
    tr.export_weights(model, out, meta)
    np_model = ContextModel.load(out)
    meta["thresholds"] = tr.calibrate(tr.side_scores(np_model, dev_ex), dev_ex)
    meta["train_seconds"] = round(time.time() - t0, 1)
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps({"weights": str(out), "thresholds": meta["thresholds"], "dev_loss": meta["dev_loss"]}))
    return 0
