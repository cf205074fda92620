"""Does the assistant side catch real models' harmful answers, not only generated ones?

JailbreakBench's artifacts hold 1,803 real jailbreak prompts with the attacked model's reply, judged twice
(`jailbroken` by the benchmark's judge, `jailbroken_llama_guard1` by Llama Guard). Replies both judges call
jailbroken are Unsafe; replies both call not jailbroken are Safe; the rest are left out as disputed. Each
prompt + reply is judged as a two-turn dialogue and the assistant side is scored: recall, false-positive
rate (at the weights' threshold and at 0.5) and AUROC of the assistant's unsafe probability.

The packaged weights were trained on these families, so they score them in distribution. For the honest,
held-out figure, train without the jbb family and pass those weights:

    .venv/bin/mmshield train --data build/mmds-open --cached-images-only --holdout-family jbb \\
        --out build/no-jbb/context_model.npz
    .venv/bin/python benchmarks/real_replies.py --weights build/no-jbb/context_model.npz

Run: .venv/bin/python benchmarks/real_replies.py [--weights W] [--data-root ../shared/data] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from mmshield import Policy, get_shield
from mmshield.data.builder import default_data_root
from mmshield.dialogue import Dialogue, Turn
from mmshield.shields.embedded.training import rank_auroc


def agreed_replies(root: Path) -> tuple[list[tuple[str, str, bool]], int]:
    """(prompt, reply, unsafe) for every artifact both judges agree on, and the number left out as disputed."""
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, str, bool]] = []
    disputed = 0
    for path in sorted((root / "jailbreakbench_artifacts").rglob("*.json")):
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        for j in data.get("jailbreaks", []) if isinstance(data, dict) else []:
            prompt, reply = (j.get("prompt") or "").strip(), (j.get("response") or "").strip()
            a, b = j.get("jailbroken"), j.get("jailbroken_llama_guard1")
            if not prompt or not reply or (prompt, reply) in seen or a is None or b is None:
                continue
            seen.add((prompt, reply))
            if bool(a) != bool(b):
                disputed += 1
                continue
            out.append((prompt, reply, bool(a)))
    return out, disputed


def evaluate(weights: str | None, root: Path) -> dict:
    shield = get_shield("embedded", weights=weights)
    policy = Policy.default()
    rows, disputed = agreed_replies(root)
    scores, flagged, labels = [], [], []
    for k, (prompt, reply, unsafe) in enumerate(rows, 1):
        v = shield.moderate(Dialogue(id=f"jbb-{k}", turns=[Turn("user", prompt), Turn("assistant", reply)]), policy)
        scores.append(sum(v.assistant.scores.values()))
        flagged.append(v.assistant.rating == "Unsafe")
        labels.append(unsafe)
        if k % 200 == 0 or k == len(rows):
            print(f"\r{k}/{len(rows)} replies judged", end="", file=sys.stderr)
    print(file=sys.stderr)
    s, f, y = np.array(scores), np.array(flagged), np.array(labels)
    meta = getattr(shield, "meta", {}) or {}
    return {
        "weights": weights or "packaged", "held_out_jbb": "jbb" in meta.get("holdout_families", []),
        "unsafe": int(y.sum()), "safe": int((~y).sum()), "disputed_left_out": disputed,
        "recall": round(float(f[y].mean()), 4), "fpr": round(float(f[~y].mean()), 4),
        "recall_at_0.5": round(float((s[y] > 0.5).mean()), 4), "fpr_at_0.5": round(float((s[~y] > 0.5).mean()), 4),
        "auroc": None if (a := rank_auroc(s[y], s[~y])) is None else round(a, 4),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", action="append", default=None, help="weights file(s); default: the packaged weights")
    ap.add_argument("--data-root", type=Path, default=None, help="the shared data folder (default: ../shared/data)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    root = args.data_root or default_data_root()
    results = [evaluate(w, root) for w in (args.weights or [None])]
    for r in results:
        where = "held out (trained without jbb)" if r["held_out_jbb"] else "IN DISTRIBUTION (jbb was in training)"
        print(f"{r['weights']}: {where}\n  {r['unsafe']} unsafe / {r['safe']} safe replies ({r['disputed_left_out']} "
              f"disputed, left out)\n  at the weights' threshold: recall {r['recall']:.3f}, FPR {r['fpr']:.3f}\n"
              f"  at 0.5: recall {r['recall_at_0.5']:.3f}, FPR {r['fpr_at_0.5']:.3f}; AUROC {r['auroc']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
