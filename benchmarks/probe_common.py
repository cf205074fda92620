"""Shared by the handmade probes: load the embedded shield, judge dialogues and count how many are flagged."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from mmshield import Policy, get_shield
from mmshield.dialogue import Dialogue, Turn
from mmshield.shields.embedded.training import rank_auroc


def embedded(weights: str | None = None, **options):
    """The embedded shield (packaged weights unless `weights` is given; the probes are text only, so no image
    models are loaded; `options` go to the shield, e.g. `correct_spelling=False`) and the default policy."""
    return get_shield("embedded", weights=weights, read_images=False, **options), Policy.default()


def tally_dialogues(shield, policy: Policy, dialogues: list[Dialogue], side: str) -> dict:
    """How many dialogues have `side` flagged Unsafe, of how many, that side's unsafe scores, and how many flagged
    sides name each dimension."""
    sides = [shield.moderate(d, policy).side(side) for d in dialogues]
    return {"flagged": sum(s.rating == "Unsafe" for s in sides), "n": len(sides),
            "scores": [round(sum(s.scores.values()), 3) for s in sides],
            "dimensions": dict(Counter(s.dimension for s in sides if s.rating == "Unsafe"))}


def tally(shield, policy: Policy, texts: list[str], prefix: str) -> dict:
    """Each text as a one-turn user dialogue, tallied on the user side (`tally_dialogues`)."""
    dialogues = [Dialogue(id=f"{prefix}-{i}", turns=[Turn(role="user", content=t)]) for i, t in enumerate(texts)]
    return tally_dialogues(shield, policy, dialogues, "user")


def tallies_auroc(positive: dict, negative: dict) -> float | None:
    """AUROC of two tallies' unsafe scores (the `positive` set should score higher), rounded; None if one is empty."""
    auroc = rank_auroc(np.array(positive["scores"]), np.array(negative["scores"]))
    return None if auroc is None else round(auroc, 3)


def write_json(path: str | None, results: dict) -> None:
    """Write probe results (non-ASCII kept readable) when a path is given."""
    if path:
        Path(path).write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
