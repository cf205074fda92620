"""Train the context model under several recipe variants on the same cached features; compare them on test.

Each variant is `NAME=KEY:VALUE,KEY:VALUE` over `TrainConfig` fields (for example `drop1=policy_drop_weight:1`,
`flat=family_balance:0.5`, `pairs=preference_weight:1`: preference pairs cached by `mmshield train
--preference-weight`); `base` (the defaults) is always run first. Every variant is trained on the train
split with early stopping and thresholds from dev, and scored on the test split: F1, AUROC, the share of
gold-Unsafe sides still flagged once their violated dimension is switched off, and recall under a policy
holding only that dimension; with cached preference pairs, the share of test pairs ranked right.

Run: .venv/bin/python benchmarks/recipe_variants.py --features-cache build/features drop1=policy_drop_weight:1
Writes reports/recipe_variants.json and .md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from mmshield.shields.embedded import heads_training as ht
from mmshield.shields.embedded import training as tr
from mmshield.shields.embedded.model import ContextModel

COLUMNS = ("f1", "fpr", "adaptation_still_flagged", "restricted_policy_recall")


def parse_variant(spec: str) -> tuple[str, dict[str, float | str]]:
    """`NAME=KEY:VALUE,...` -> (NAME, {KEY: VALUE}); keys must be TrainConfig fields."""
    name, _, body = spec.partition("=")
    defaults = dataclasses.asdict(tr.TrainConfig())
    changes: dict[str, float | str] = {}
    for part in filter(None, body.split(",")):
        key, _, value = part.partition(":")
        if key not in defaults:
            raise SystemExit(f"variant {name!r}: {key!r} is not a TrainConfig field ({', '.join(sorted(defaults))})")
        changes[key] = value if isinstance(defaults[key], str) else type(defaults[key])(float(value))
    return name, changes


def evaluate(cfg: tr.TrainConfig, splits: dict[str, list[tr.Example]], label: str,
             pairs: dict[str, list[tr.PairExample]] | None = None) -> dict:
    """Train one variant; its thresholds, test metrics and AUROC (and preference-pair accuracy on test pairs)."""
    pairs = pairs or {"train": [], "dev": [], "test": []}
    model, dev_loss = tr.train(splits["train"], splits["dev"], cfg, log=lambda m: print(f"[{label}] {m}", file=sys.stderr),
                               pairs=(pairs["train"], pairs["dev"]))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.npz"
        tr.export_weights(model, path, {})
        npm = ContextModel.load(path)
    th = tr.calibrate(tr.side_scores(npm, splits["dev"]), splits["dev"])
    scores = tr.side_scores(npm, splits["test"])
    return {"dev_loss": round(dev_loss, 5), "thresholds": th, **tr.quick_metrics(scores, splits["test"], th),
            "auroc": tr.auroc(scores, splits["test"]), "pair_accuracy": tr.pair_accuracy(npm, pairs["test"])}


def table(results: dict[str, dict]) -> str:
    head = ["variant"] + [f"{side} {c}" for side in tr.SIDES for c in ("auroc", *COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in results.items():
        cells = [name]
        for side in tr.SIDES:
            cells.append(str(r["auroc"][side]))
            cells += [str(r[side][c]) for c in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("variants", nargs="*", help="NAME=KEY:VALUE,... over TrainConfig fields")
    ap.add_argument("--features-cache", type=Path, default=Path("build/features"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[13])
    ap.add_argument("--out", type=Path, default=Path("reports/recipe_variants"))
    ap.add_argument("--text-table", type=Path, default=None, metavar="NPY",
                    help="a vector per slot text of the cache, read beside the mean embeddings "
                         "(`generalisation.py --text-table`)")
    ap.add_argument("--text-table-instead", action="store_true",
                    help="with --text-table: the table's vectors replace the mean embeddings")
    ap.add_argument("--set", default="", metavar="KEY:VALUE,...",
                    help="TrainConfig changes applied to every variant, base included (for example epochs:4)")
    args = ap.parse_args(argv)
    common = parse_variant(f"all={args.set}")[1]
    splits = {s: tr.load_examples(args.features_cache / f"{s}.npz") for s in ("train", "dev", "test")}
    if args.text_table is not None:
        splits = ht.with_text_table(splits, args.text_table, args.features_cache, instead=args.text_table_instead)
    pairs = tr.load_cached_pairs(args.features_cache)
    results: dict[str, dict] = {}
    for name, changes in [("base", {}), *map(parse_variant, args.variants)]:
        for seed in args.seeds:
            label = name if len(args.seeds) == 1 else f"{name} seed {seed}"
            cfg = dataclasses.replace(tr.TrainConfig(seed=seed), **{**common, **changes})
            results[label] = {"config": changes, **evaluate(cfg, splits, label, pairs)}
            print(json.dumps({label: results[label]}), file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(table(results) + "\n", encoding="utf-8")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
