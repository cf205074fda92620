"""Policy-adaptation test (SPEC section 7): re-judge gold-Unsafe sides with the violated dimension removed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mmshield.dialogue import SIDES, Dialogue
from mmshield.evaluation.metrics import AdaptationResult, policy_adaptation_fpr
from mmshield.policy import Policy
from mmshield.shields.base import Shield
from mmshield.verdict import UNSAFE, Verdict


@dataclass
class AdaptationCase:
    """One side of one dialogue whose gold label is Unsafe, and the policy without its dimension."""

    dialogue: Dialogue
    side: str
    dimension: str
    policy: Policy


def adaptation_cases(dialogues: Iterable[Dialogue], *, preset: str = "balanced") -> Iterator[AdaptationCase]:
    """Gold-Unsafe sides whose violated dimension is in force; the policy has that dimension removed.

    The starting policy is the record's `usage_policy`, else all 8 dimensions. A case whose policy
    would become empty is skipped (a policy needs at least one dimension).
    """
    for d in dialogues:
        base = Policy.from_list(d.usage_policy, preset=preset) if d.usage_policy else Policy.default(preset)
        for side in SIDES:
            if d.record.get(f"{side}_rating") != UNSAFE:
                continue
            dim = d.record.get(f"{side}_dimension")
            if not dim or dim not in base or len(base.names) < 2:
                continue
            yield AdaptationCase(d, side, dim, base.without(dim))


def run_policy_adaptation(shield: Shield, dialogues: Iterable[Dialogue], *, preset: str = "balanced",
                          failures: str = "wrong") -> dict[str, AdaptationResult]:
    """Judge every adaptation case with `shield`; per side, the share still flagged Unsafe."""
    ratings: dict[str, list[tuple[str, str | None]]] = {s: [] for s in SIDES}
    for case in adaptation_cases(dialogues, preset=preset):
        try:
            v: Verdict = shield.moderate(case.dialogue, case.policy)
            rating = v.side(case.side).rating
        except Exception:  # noqa: BLE001 - a failure is counted, not hidden
            rating = None
        ratings[case.side].append((case.dialogue.id, rating))
    return {s: policy_adaptation_fpr(r, failures=failures) for s, r in ratings.items()}
