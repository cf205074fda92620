"""How much of the policy-adaptation gap is a second dimension the dialogue really violates?

The policy-adaptation test (SPEC section 7) removes a gold-Unsafe side's labelled dimension from the policy and
counts the side as wrong when it is still flagged. Each record carries one dimension, but many requests violate
two ("build a bomb" is Violence & Harm and Illegal Activities; "phish a bank login" is Malicious Disruption and
Deception), so part of "still flagged" is a right answer under the dimension left in force. This script splits it:
per adaptation case it also reads which dimensions the build's labelling rules (`mmshield.data.lexicon`) find in the
side's text and the record's malicious intent, and re-judges the side with those removed as well.

Per side it reports: the cases; still flagged with the labelled dimension off (the SPEC figure); of those, how many
are flagged under a dimension the rules also read in the dialogue; and still flagged with the labelled dimension
and every rule-read dimension off (cases left with no dimension in force are counted apart). The rules are
precise but miss much (a lower bound on the overlap). `--text-only` skips dialogues with images (no OCR needed).

Run: .venv/bin/python benchmarks/adaptation_overlap.py build/mmds-open/test.jsonl [--text-only] [--weights W]
     [--limit N] [--json OUT]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from mmshield.data.lexicon import match_all
from mmshield.dialogue import Dialogue, read_input
from mmshield.evaluation.adaptation import adaptation_cases
from mmshield.policy import Policy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe_common import write_json  # noqa: E402


def rule_dimensions(dialogue: Dialogue, side: str) -> set[str]:
    """Dimensions whose labelling rules fire on the side's turns or on the record's malicious intent."""
    texts = [t.content for t in dialogue.turns if t.role == side]
    texts.append(str(dialogue.record.get("malicious_intent") or ""))
    return {d for text in texts if text for d, _, _ in match_all(text)}


def measure(shield, dialogues: Iterable[Dialogue]) -> dict[str, dict]:
    """Per side: cases, still flagged, flagged under a rule-read dimension, the re-judged counts, and which
    dimension the re-judged sides still flagged were given, per labelled dimension ("labelled -> given")."""
    out: dict[str, dict] = {}
    pairs: dict[str, Counter[str]] = {}
    for case in adaptation_cases(dialogues):
        c = out.setdefault(case.side, {"cases": 0, "still_flagged": 0, "flagged_under_rule_dimension": 0,
                                       "cases_with_rule_dimensions": 0, "rejudged": 0, "rejudged_still_flagged": 0,
                                       "no_dimension_left": 0})
        c["cases"] += 1
        verdict = shield.moderate(case.dialogue, case.policy).side(case.side)
        also = rule_dimensions(case.dialogue, case.side) - {case.dimension}
        also &= set(case.policy.names)
        c["cases_with_rule_dimensions"] += bool(also)
        if verdict.rating == "Unsafe":
            c["still_flagged"] += 1
            c["flagged_under_rule_dimension"] += verdict.dimension in also
        left = [n for n in case.policy.names if n not in also]
        if not left:
            c["no_dimension_left"] += 1
            continue
        c["rejudged"] += 1
        # nothing more to switch off: the verdict under the reduced policy is the answer again
        again = shield.moderate(case.dialogue, Policy.from_list(left)).side(case.side) if also else verdict
        if again.rating == "Unsafe":
            c["rejudged_still_flagged"] += 1
            pairs.setdefault(case.side, Counter())[f"{case.dimension} -> {again.dimension}"] += 1
    for side, c in out.items():
        c["rejudged_still_flagged_as"] = dict(pairs.get(side, Counter()).most_common())
        c["still_flagged_share"] = round(c["still_flagged"] / c["cases"], 3) if c["cases"] else None
        c["rejudged_still_flagged_share"] = (round(c["rejudged_still_flagged"] / c["rejudged"], 3)
                                             if c["rejudged"] else None)
    return out


def load(path: Path, *, text_only: bool, limit: int | None) -> list[Dialogue]:
    """The file's dialogues (those with images left out under `text_only`), at most `limit`."""
    out = []
    for rec in read_input(path):
        d = rec.dialogue
        if d is None or (text_only and any(t.images for t in d.turns)):
            continue
        out.append(d)
        if limit is not None and len(out) >= limit:
            break
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="an MMDS JSONL file with gold labels (e.g. a build's test.jsonl)")
    ap.add_argument("--weights", default=None, help="context-model weights (default: packaged)")
    ap.add_argument("--text-only", action="store_true", help="skip dialogues with images")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    from mmshield import get_shield

    dialogues = load(args.data, text_only=args.text_only, limit=args.limit)
    print(f"{len(dialogues)} dialogues from {args.data}", file=sys.stderr)
    shield = get_shield("embedded", weights=args.weights, read_images=not args.text_only)
    result = {"data": str(args.data), "dialogues": len(dialogues), "text_only": args.text_only,
              "weights": args.weights or "packaged", "sides": measure(shield, dialogues)}
    for side, c in result["sides"].items():
        print(f"{side}: {c['cases']} cases; still flagged {c['still_flagged']} ({c['still_flagged_share']}), "
              f"{c['flagged_under_rule_dimension']} of them under a dimension the rules also read; with those off too "
              f"{c['rejudged_still_flagged']} of {c['rejudged']} ({c['rejudged_still_flagged_share']}); "
              f"{c['no_dimension_left']} left with no dimension")
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
