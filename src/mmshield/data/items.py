"""Normalised source items and the draft dialogues built from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mmshield.taxonomy import DIMENSION_NAMES

V, H, S, SH, I, D, P, M = DIMENSION_NAMES  # noqa: E741
"""Short aliases of the 8 dimension names, in O1..O8 order."""
CODES = {"V": V, "H": H, "S": S, "SH": SH, "I": I, "D": D, "P": P, "M": M}


@dataclass
class Item:
    """One normalised unit read from a source.

    `text` is a user prompt (or a goal); `turns` holds a native multi-turn context as (role, text)
    pairs when the source has one; `response` an assistant reply with its own label when known.
    `label` is the user-side label ("unsafe" / "safe" / None when unknown).
    """

    text: str
    label: str | None
    source: str
    family: str
    license: str
    group_id: str
    dimension: str = ""
    subdimension: str = ""
    turns: list[tuple[str, str]] = field(default_factory=list)
    response: str | None = None
    response_label: str | None = None
    response_dimension: str = ""
    kind: str = "prompt"
    """prompt | goal | dialogue | pair | quoted_pair | chat | visual_chat | spam | ham"""
    lang: str = "en"
    image_path: str | None = None
    """A source photo (absolute path) for visual items."""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class DraftTurn:
    """One turn of a dialogue under construction; images are PIL images or source file paths."""

    role: str
    content: str
    images: list[Any] = field(default_factory=list)


@dataclass
class Draft:
    """A dialogue with its labels, built from one or more items; turned into an MMDS record later."""

    turns: list[DraftTurn]
    pattern: str
    group_id: str
    sources: list[str]
    licenses: list[str]
    family: str
    user_rating: str | None
    assistant_rating: str | None
    user_dimension: str | None
    assistant_dimension: str | None
    user_rationale: str | None
    assistant_rationale: str | None
    dimension: str = ""
    subdimension: str = ""
    malicious_intent: str = ""
    risk_user_turns: list[int] = field(default_factory=list)
    risk_assistant_turns: list[int] = field(default_factory=list)
    risk_images: list[int] = field(default_factory=list)
    data_type: str = "default"
    usage_policy: list[str] = field(default_factory=lambda: list(DIMENSION_NAMES))
    lang: str = "en"
    strategy: str = ""
    augmentation: str = ""
    parent: str = ""
    group_ids: list[str] = field(default_factory=list)
    """Every source group the dialogue uses (the main one first); all share one split."""
