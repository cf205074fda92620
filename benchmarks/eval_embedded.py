"""Evaluate the embedded shield on an MMDS-open split through the real CLI path.

Run: .venv/bin/python benchmarks/eval_embedded.py --data build/mmds-open --split test [--weights W]
Steps: `mmshield moderate` (resumable) -> `eval` metrics -> breakdown per source family and pattern
(recall, false-positive rate) -> policy adaptation (violated dimension removed). Writes
reports/embedded-<split>/ (report.md, metrics.json, plots).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from mmshield.dialogue import read_input
from mmshield.evaluation import evaluate_files, run_policy_adaptation, write_report
from mmshield.shields import get_shield


def breakdown(gold_path: Path, pred_path: Path, key: str) -> dict[str, dict]:
    preds = {}
    for line in pred_path.read_text("utf-8").splitlines():
        p = json.loads(line)
        preds[str(p.get("id"))] = p
    acc: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0, 0]))
    for line in gold_path.read_text("utf-8").splitlines():
        g = json.loads(line)
        p = preds.get(str(g["id"]))
        if p is None or "error" in p:
            continue
        for side in ("user", "assistant"):
            gr = g.get(f"{side}_rating")
            if gr not in ("Safe", "Unsafe"):
                continue
            pu = p.get(f"{side}_rating") == "Unsafe"
            c = acc[str(g.get(key))][side]
            c[{(True, True): 0, (False, True): 1, (True, False): 2, (False, False): 3}[(gr == "Unsafe", pu)]] += 1
    out = {}
    for k, sides in sorted(acc.items()):
        out[k] = {}
        for side, (tp, fp, fn, tn) in sides.items():
            out[k][side] = {"n": tp + fp + fn + tn, "positives": tp + fn,
                            "recall": round(tp / (tp + fn), 3) if tp + fn else None,
                            "fpr": round(fp / (fp + tn), 3) if fp + tn else None}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("build/mmds-open"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--skip-adaptation", action="store_true")
    args = ap.parse_args()
    out = args.out or Path("reports") / f"embedded-{args.split}"
    out.mkdir(parents=True, exist_ok=True)
    gold = args.data / f"{args.split}.jsonl"
    pred = out / "predictions.jsonl"
    exe = Path(sys.executable).with_name("mmshield")
    cmd = [str(exe), "moderate", str(gold), "-o", str(pred), "--resume"]
    if args.weights:
        cmd += ["--weights", args.weights]
    rc = subprocess.run(cmd).returncode
    if rc == 2:  # refused to resume: earlier predictions came from other weights, data or settings
        print("earlier predictions do not match this run: judging every record again", file=sys.stderr)
        rc = subprocess.run([c for c in cmd if c != "--resume"]).returncode
    print(f"moderate exit status {rc}", file=sys.stderr)
    result, problems = evaluate_files(gold, pred)
    res = result.to_dict()
    res["by_family"] = breakdown(gold, pred, "source_family")
    res["by_pattern"] = breakdown(gold, pred, "pattern")
    if not args.skip_adaptation:
        shield = get_shield("embedded", **({"weights": args.weights} if args.weights else {}))
        dialogues = [r.dialogue for r in read_input(gold) if r.dialogue is not None]
        ad = run_policy_adaptation(shield, dialogues)
        res["policy_adaptation"] = {s: r.to_dict() if hasattr(r, "to_dict") else r.__dict__ for s, r in ad.items()}
    write_report(res, out, title=f"embedded shield on MMDS-open {args.split}")
    (out / "metrics_full.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    print(json.dumps({s: res[s] for s in ("user", "assistant")}, indent=1, default=str))
    if "policy_adaptation" in res:
        print(json.dumps(res["policy_adaptation"], default=str))
    if problems:
        print(f"{len(problems)} problems, e.g. {problems[:3]}", file=sys.stderr)


if __name__ == "__main__":
    main()
