"""Shared by the handmade probes: judge single-turn user requests and count how many are flagged."""

from __future__ import annotations

import json
from pathlib import Path

from mmshield import Policy
from mmshield.dialogue import Dialogue, Turn


def tally(shield, policy: Policy, texts: list[str], prefix: str) -> dict:
    """Each text as a one-turn user dialogue: how many are flagged Unsafe, of how many, and their user-side
    unsafe scores."""
    verdicts = [shield.moderate(Dialogue(id=f"{prefix}-{i}", turns=[Turn(role="user", content=t)]), policy)
                for i, t in enumerate(texts)]
    return {"flagged": sum(v.user.rating == "Unsafe" for v in verdicts), "n": len(verdicts),
            "scores": [round(sum(v.user.scores.values()), 3) for v in verdicts]}


def write_json(path: str | None, results: dict) -> None:
    """Write probe results (non-ASCII kept readable) when a path is given."""
    if path:
        Path(path).write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
