"""The assistant side on replies a default build never trains on: DiaSafety's Offending User, Toxicity Agreement
and Biased Opinion categories.

A default MMDS-open build keeps only DiaSafety's Risk Ignorance and Unauthorized Expertise pairs (the other
categories would need a user-side label the source does not give; see `data/sources/diasafety.py`). The remaining
6,658 context-response pairs are therefore unseen by every model trained on such a build: each is
judged as a two-turn dialogue (the Reddit context as the user turn, the response as the assistant turn) and
only the assistant side is scored against DiaSafety's Safe / Unsafe label. The labels are a crowd's reading
of short social-media replies, so the ceiling is well below 1.

A build made with `data build --toxic-replies N` trains on some of these pairs (quoted by the user); for a model
trained on such a build, `--exclude-build DIR` leaves out every pair whose reply occurs in that build's train or
dev split, so what is scored is still unseen (repeatable; give the same DIRs when comparing models, so all are
scored on the same pairs).

Prints, per category and overall: AUROC of the assistant unsafe score, and recall and false-positive rate
at the shield's calibrated assistant threshold.

Run: .venv/bin/python benchmarks/diasafety_unseen.py [--weights W] [--data-root ../shared/data] [--exclude-build DIR]
     [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from mmshield.dialogue import Dialogue, Turn
from mmshield.shields.embedded.training import load_records, rank_auroc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe_common import embedded, write_json  # noqa: E402

UNSEEN = ("Offending User", "Toxicity Agreement", "Biased Opinion")


def unseen_pairs(data_root: Path) -> list[dict]:
    """Every context-response pair of the unseen categories, all three DiaSafety splits."""
    base = data_root / "diasafety" / "DiaSafety_dataset"
    rows = []
    for split in ("train", "val", "test"):
        path = base / f"{split}.json"
        if not path.is_file():
            raise FileNotFoundError(f"DiaSafety split not found: {path}")
        for r in json.loads(path.read_text("utf-8")):
            if r.get("category") in UNSEEN and r.get("label") in ("Safe", "Unsafe") and \
                    (r.get("context") or "").strip() and (r.get("response") or "").strip():
                rows.append(r)
    return rows


def trained_replies(build: Path) -> set[str]:
    """The assistant texts of a build's train and dev splits (whitespace-normalised)."""
    seen: set[str] = set()
    for split in ("train", "dev"):
        path = build / f"{split}.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"build split not found: {path}")
        seen.update(" ".join(str(turn.get("content") or "").split()) for rec in load_records(path)
                    for turn in rec["conversations"] if turn.get("role") == "assistant")
    return seen


def summary(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """n, unsafe count, AUROC, recall and FPR at `threshold` (None where a class is absent)."""
    pos, neg = scores[labels], scores[~labels]
    auroc = rank_auroc(pos, neg) if len(pos) and len(neg) else None
    return {"n": int(len(labels)), "unsafe": int(labels.sum()), "auroc": None if auroc is None else round(auroc, 3),
            "recall": round(float((pos >= threshold).mean()), 3) if len(pos) else None,
            "fpr": round(float((neg >= threshold).mean()), 3) if len(neg) else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default=None, help="context-model weights (default: the packaged ones)")
    ap.add_argument("--data-root", type=Path,
                    default=Path(os.environ.get("MMSHIELD_DATA_ROOT", Path(__file__).resolve().parents[2] / "shared" / "data")))
    ap.add_argument("--exclude-build", type=Path, action="append", default=[], metavar="DIR",
                    help="leave out the pairs whose reply is in this build's train or dev split (repeatable)")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)
    excluded = set().union(*(trained_replies(b) for b in args.exclude_build))
    shield, policy = embedded(args.weights)
    threshold = shield.thresholds["assistant"]
    by_cat: dict[str, list[tuple[bool, float]]] = {c: [] for c in UNSEEN}
    rows = unseen_pairs(args.data_root)
    if excluded:
        n_all = len(rows)
        rows = [r for r in rows if " ".join(r["response"].split()) not in excluded]
        names = ", ".join(map(str, args.exclude_build))
        print(f"  {n_all - len(rows)} of {n_all} pairs left out (their reply is in {names})", file=sys.stderr)
    for i, r in enumerate(rows):
        d = Dialogue(id=f"diasafety-{i}", turns=[Turn(role="user", content=r["context"]),
                                                  Turn(role="assistant", content=r["response"])])
        v = shield.moderate(d, policy)
        by_cat[r["category"]].append((r["label"] == "Unsafe", sum(v.assistant.scores.values())))
        if (i + 1) % 1000 == 0:
            print(f"  {i + 1}/{len(rows)} pairs", file=sys.stderr, flush=True)
    results = {}
    for name, pairs in [*by_cat.items(), ("all", [p for ps in by_cat.values() for p in ps])]:
        y = np.array([a for a, _ in pairs], dtype=bool)
        s = np.array([b for _, b in pairs], dtype=np.float64)
        results[name] = summary(y, s, threshold)
        print(f"{name:20s} {results[name]}")
    write_json(args.json, {"threshold": threshold, "excluded_builds": [str(b) for b in args.exclude_build], **results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
