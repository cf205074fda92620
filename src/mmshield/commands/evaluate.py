"""`mmshield eval GOLD PRED [--report DIR] [--json]`: score predictions against gold labels."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mmshield.evaluation.files import load_gold, load_predictions
from mmshield.evaluation.metrics import FAILURE_MODES, evaluate
from mmshield.evaluation.report import BINARY_KEYS, write_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("gold", type=Path, help="MMDS JSONL with gold labels")
    parser.add_argument("pred", type=Path, help="predictions JSONL (the output of `mmshield moderate`), matched by id")
    parser.add_argument("--report", type=Path, metavar="DIR", help="write report.md, metrics.json and PNG plots here")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the figures")
    parser.add_argument("--failures", choices=FAILURE_MODES, default="wrong",
                        help="missing/error predictions count as wrong answers (default) or are excluded")
    parser.add_argument("--no-plots", action="store_true", help="with --report, skip the PNG plots")


def run(args: argparse.Namespace) -> int:
    for p in (args.gold, args.pred):
        if not p.is_file():
            print(f"mmshield eval: file not found: {p}", file=sys.stderr)
            return 2
    gold, policies, gproblems = load_gold(args.gold)
    preds, pproblems = load_predictions(args.pred)
    for msg in gproblems:
        print(f"gold {args.gold}: {msg}", file=sys.stderr)
    for msg in pproblems:
        print(f"predictions: {msg}", file=sys.stderr)
    if not gold:
        print(f"mmshield eval: no labelled records in {args.gold}", file=sys.stderr)
        return 2
    try:
        result = evaluate(gold, preds, policies=policies, failures=args.failures).to_dict()
    except ValueError as exc:
        print(f"mmshield eval: {exc}", file=sys.stderr)
        return 2
    if result["missing"]:
        print(f"{len(result['missing'])} record(s) have no prediction (counted as failures): "
              + ", ".join(result["missing"]), file=sys.stderr)
    for rid, err in result["errors"].items():
        print(f"record {rid}: prediction failed ({err.get('type', 'error')}: {err.get('message', '')}); counted as failure",
              file=sys.stderr)
    if args.report:
        files = write_report(result, args.report, plots=not args.no_plots,
                             sources={"gold": str(args.gold), "predictions": str(args.pred)})
        print(f"report written: {', '.join(str(f) for f in files)}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _print_table(result)
    return 0


def _print_table(result: dict[str, Any]) -> None:
    def fmt(v: Any) -> str:
        return "n/a" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))

    print(f"{'side':<10}" + "".join(f"{k:>11}" for k in BINARY_KEYS))
    for side in ("user", "assistant"):
        print(f"{side:<10}" + "".join(f"{fmt(result[side][k]):>11}" for k in BINARY_KEYS))
    for side in ("user", "assistant"):
        per = result["per_dimension"][side]
        if per:
            print(f"per-dimension F1 ({side}): " + ", ".join(f"{d}={fmt(v)}" for d, v in per.items()))
    for side in ("user", "assistant"):
        pr = result["details"][side]["pr"]
        if pr:
            print(f"AUPRC ({side}): {fmt(pr['auprc'])}; best F1 {fmt(pr['best_f1'])} at threshold {fmt(pr['best_threshold'])}")
