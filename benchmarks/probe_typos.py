"""How much do ordinary typos cost the shield? Real users misspell; a reader that only knows clean spellings
loses the word, and with it the request.

Takes the text-only dialogues of a build's test split (never trained on), writes every user turn again with
typos (a share of its words of 4+ letters get one slip each: two letters swapped, one dropped, one doubled, or
one replaced by a keyboard neighbour) and judges both versions. Prints, per typo rate, user AUROC and the share
flagged at the weights' threshold, for gold-Unsafe and gold-Safe user sides. Typos are drawn from a fixed seed
per dialogue, so runs are comparable across weights.

Run: .venv/bin/python benchmarks/probe_typos.py [--data build/mmds-open] [--rates 0.1 0.2 0.3] [--limit N]
     [--weights W ...] [--compare-spelling] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

import numpy as np

from mmshield.dialogue import Dialogue, Turn
from mmshield.policy import Policy
from mmshield.shields.embedded.features.spelling import KEYBOARD_NEIGHBOURS
from mmshield.shields.embedded.training import rank_auroc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe_common import embedded, write_json  # noqa: E402

_WORD = re.compile(r"[A-Za-z]{4,}")


def slip(word: str, rng: random.Random) -> str:
    """One typo in `word` (4+ letters): swap, drop, double or a keyboard neighbour; the first letter stays."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:
        return word[:i] + word[i + 1:]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    c = word[i]
    near = sorted(KEYBOARD_NEIGHBOURS.get(c.lower(), ()))
    if not near:
        return word
    n = rng.choice(near)
    return word[:i] + (n.upper() if c.isupper() else n) + word[i + 1:]


def with_typos(text: str, rate: float, rng: random.Random) -> str:
    """`text` with one slip in each of about `rate` of its words of 4+ letters."""
    return _WORD.sub(lambda m: slip(m.group(0), rng) if rng.random() < rate else m.group(0), text)


def text_only_dialogues(path: Path, limit: int | None) -> list[tuple[Dialogue, bool]]:
    """(dialogue, gold user Unsafe) for the records of `path` with no image and a rated user side; each dialogue
    keeps its record's usage policy (the label holds under it)."""
    out: list[tuple[Dialogue, bool]] = []
    for line in path.read_text("utf-8").splitlines():
        r = json.loads(line)
        if r.get("user_rating") not in ("Safe", "Unsafe") or any(t.get("image") for t in r["conversations"]):
            continue
        turns = [Turn(role=t["role"], content=t["content"]) for t in r["conversations"]]
        out.append((Dialogue(id=r["id"], turns=turns, record={"usage_policy": r.get("usage_policy")}), r["user_rating"] == "Unsafe"))
    rng = random.Random(0)
    rng.shuffle(out)
    return out[:limit] if limit else out


def misspelled(d: Dialogue, rate: float) -> Dialogue:
    rng = random.Random(f"typos|{d.id}|{rate}")
    turns = [Turn(role=t.role, content=with_typos(t.content, rate, rng) if t.role == "user" else t.content)
             for t in d.turns]
    return Dialogue(id=d.id, turns=turns, record=d.record)


def user_scores(shield, dialogues: list[Dialogue]) -> list[tuple[float, bool]]:
    """(user unsafe mass under the dialogue's own policy, flagged) per dialogue."""
    out = []
    for d in dialogues:
        policy = Policy.from_list(d.usage_policy) if d.usage_policy else Policy.default()
        side = shield.moderate(d, policy).user
        out.append((float(sum(side.scores.values())), side.rating == "Unsafe"))
    return out


def summary(scored: list[tuple[float, bool]], gold: list[bool]) -> dict:
    pos = [f for (_, f), g in zip(scored, gold) if g]
    neg = [f for (_, f), g in zip(scored, gold) if not g]
    scores = np.array([s for s, _ in scored])
    labels = np.array(gold, dtype=bool)
    a = rank_auroc(scores[labels], scores[~labels])
    return {"auroc": None if a is None else round(a, 4),
            "recall": round(sum(pos) / len(pos), 4) if pos else None,
            "fpr": round(sum(neg) / len(neg), 4) if neg else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("build/mmds-open"))
    ap.add_argument("--rates", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    ap.add_argument("--limit", type=int, default=None, help="at most this many dialogues (a fixed random draw)")
    ap.add_argument("--weights", nargs="*", default=[None])
    ap.add_argument("--compare-spelling", action="store_true",
                    help="also judge with the spelling step off (typos read as written)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    pairs = text_only_dialogues(args.data / "test.jsonl", args.limit)
    gold = [g for _, g in pairs]
    results: dict = {"n": len(pairs), "unsafe": sum(gold), "weights": {}}
    runs = [(w, spelled) for w in args.weights for spelled in ((True, False) if args.compare_spelling else (True,))]
    for w, spelled in runs:
        shield, _ = embedded(w, correct_spelling=spelled)
        name = (w or "packaged") + ("" if spelled else " (typos read as written)")
        rows = {"clean": summary(user_scores(shield, [d for d, _ in pairs]), gold)}
        for rate in args.rates:
            rows[f"typos {rate:g}"] = summary(user_scores(shield, [misspelled(d, rate) for d, _ in pairs]), gold)
        results["weights"][name] = rows
        print(f"{name}: {len(pairs)} text-only test dialogues, {sum(gold)} with an Unsafe user side")
        for k, v in rows.items():
            print(f"  {k:12s} user AUROC {v['auroc']:.3f}  recall {v['recall']:.3f}  FPR {v['fpr']:.3f}")
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
