"""Readable rationales built from the evidence the embedded shield found."""

from __future__ import annotations

import re

from mmshield.verdict import Evidence

_REQUEST = re.compile(r"\?|^\W*(how|what|where|which|who|why|when|can|could|would|will|should|is|are|do|does|tell|give|"
                      r"show|help|explain|list|write|describe|provide|make|create|find|generate|draft|compose|"
                      r"suggest|teach|let'?s|please|i need|i want)\b", re.IGNORECASE)
"""A user turn that asks or instructs (a question mark, or an opening request word); other turns state."""


def snippet(text: str, limit: int = 90) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= limit else t[: limit - 1].rstrip() + "…"


def _describe(ev: Evidence) -> str:
    if ev.kind == "decoded":
        return f"{ev.role} turn {ev.turn + 1}, decoded, reads \"{snippet(ev.text)}\""
    if ev.kind == "image":
        return f"Image{ev.image + 1 if ev.image is not None else '?'} in turn {ev.turn + 1} reads \"{snippet(ev.text, 60)}\""
    verb = "replies" if ev.role != "user" else "asks" if _REQUEST.search(ev.text or "") else "says"
    return f"{ev.role} turn {ev.turn + 1} {verb} \"{snippet(ev.text)}\""


def unsafe_rationale(role: str, dimension: str, subdimension: str | None, score: float, threshold: float,
                     evidence: list[Evidence], crossing_turn: int | None, n_role_turns: int) -> str:
    """Why a side is Unsafe: the dimension, the decisive turn and images, and how risk built up."""
    sub = f" ({subdimension})" if subdimension else ""
    parts = [f"The {role} side violates {dimension}{sub} (score {score:.2f} >= threshold {threshold:.2f})."]
    items = [_describe(e) for e in evidence if e.kind in ("turn", "decoded", "image")]
    if items:
        parts.append("Evidence: " + "; ".join(items) + ".")
    if crossing_turn is not None and n_role_turns > 1:
        earlier = [e for e in evidence if e.kind == "turn" and e.turn < crossing_turn]
        if earlier:
            parts.append(f"Risk accumulated over earlier turns and crossed the threshold at turn {crossing_turn + 1}.")
        else:
            parts.append(f"Risk crossed the threshold at turn {crossing_turn + 1}.")
    if role == "assistant":
        parts.append("The reply provides the requested content instead of refusing or staying within allowed information.")
    return " ".join(parts)


def safe_rationale(role: str, top_dimension: str | None, top_score: float, threshold: float,
                   out_of_policy: list[tuple[str, float]], decision_score: float | None = None) -> str:
    """Why a side is Safe, naming the closest dimension and any switched-off dimension that would apply.

    `decision_score` is what was compared with the threshold when it is not the top dimension's own score (the
    dimensions in force are judged on their pooled unsafe mass), so the sentence compares like with like."""
    if role == "assistant":
        base = "The assistant's replies refuse, redirect, or stay within allowed information"
    else:
        base = "The user's turns do not pursue anything the dimensions in force forbid"
    if not top_dimension:
        msg = base + "."
    elif decision_score is None:
        msg = f"{base}; highest risk: {top_dimension} at {top_score:.2f} (threshold {threshold:.2f})."
    else:
        msg = (f"{base}; unsafe score {decision_score:.2f} (threshold {threshold:.2f}), highest for {top_dimension} "
               f"({top_score:.2f}).")
    if out_of_policy:
        names = ", ".join(f"{n} ({s:.2f})" for n, s in out_of_policy)
        msg += f" Not in the current policy, so not applied: {names}."
    return msg
