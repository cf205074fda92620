"""Verdict: per role rating, dimension, rationale, plus scores, evidence, backend and timing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mmshield.taxonomy import NONE_APPLYING

SAFE = "Safe"
UNSAFE = "Unsafe"


@dataclass
class Evidence:
    """One piece of evidence: a turn (and optionally one of its images) that drove the decision."""

    turn: int
    role: str
    weight: float = 0.0
    image: int | None = None
    """Index of the image within the dialogue (0-based, running across turns), when the evidence is an image."""
    text: str = ""
    """The snippet that mattered (turn text or OCR text)."""
    kind: str = "turn"
    """`turn`, `image`, `ocr`, `decoded` (what an encoded or disguised turn says, as the shield read it), or
    `threshold` (the turn where risk crossed the threshold)."""


@dataclass
class RoleVerdict:
    """The judgement of one side. `rating` None means that side has no turns (serialised as null)."""

    rating: str | None
    dimension: str | None
    rationale: str | None
    scores: dict[str, float] = field(default_factory=dict)
    """Per-dimension probability that this side violates that dimension (dimensions in force only)."""
    evidence: list[Evidence] = field(default_factory=list)
    subdimension: str | None = None

    @classmethod
    def absent(cls) -> RoleVerdict:
        return cls(rating=None, dimension=None, rationale=None)

    @classmethod
    def safe(cls, rationale: str, scores: dict[str, float] | None = None) -> RoleVerdict:
        return cls(rating=SAFE, dimension=NONE_APPLYING, rationale=rationale, scores=dict(scores or {}))

    @property
    def unsafe(self) -> bool:
        return self.rating == UNSAFE


@dataclass
class Verdict:
    """The full judgement of one dialogue under one policy."""

    user: RoleVerdict
    assistant: RoleVerdict
    backend: str = ""
    latency_ms: float = 0.0
    id: str = ""
    policy: list[str] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    """Backend-specific accounting, e.g. token usage of a remote model."""
    notes: list[str] = field(default_factory=list)
    """Things the caller should know (e.g. oldest turns dropped to fit the context)."""

    def side(self, role: str) -> RoleVerdict:
        return self.user if role == "user" else self.assistant

    def llavashield(self) -> dict[str, str | None]:
        """The six LLaVAShield keys, exactly."""
        return {
            "user_rating": self.user.rating,
            "assistant_rating": self.assistant.rating,
            "user_dimension": self.user.dimension,
            "assistant_dimension": self.assistant.dimension,
            "user_rationale": self.user.rationale,
            "assistant_rationale": self.assistant.rationale,
        }

    def to_dict(self) -> dict[str, Any]:
        """The output line of `mmshield moderate`: id, six keys, scores, evidence and metadata."""
        out: dict[str, Any] = {"id": self.id}
        out.update(self.llavashield())
        out["scores"] = {"user": self.user.scores, "assistant": self.assistant.scores}
        out["evidence"] = {
            "user": [asdict(e) for e in self.user.evidence],
            "assistant": [asdict(e) for e in self.assistant.evidence],
        }
        out["subdimension"] = {"user": self.user.subdimension, "assistant": self.assistant.subdimension}
        out["backend"] = self.backend
        out["latency_ms"] = round(self.latency_ms, 3)
        out["policy"] = list(self.policy)
        if self.usage:
            out["usage"] = self.usage
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        """Inverse of `to_dict`; also accepts a bare six-key LLaVAShield object."""
        scores = d.get("scores") or {}
        evidence = d.get("evidence") or {}
        sub = d.get("subdimension") or {}

        def side(role: str) -> RoleVerdict:
            return RoleVerdict(
                rating=_null(d.get(f"{role}_rating")),
                dimension=_null(d.get(f"{role}_dimension")),
                rationale=_null(d.get(f"{role}_rationale")),
                scores=dict(scores.get(role) or {}),
                evidence=[Evidence(**e) for e in evidence.get(role) or []],
                subdimension=sub.get(role) if isinstance(sub, dict) else None,
            )

        return cls(
            user=side("user"),
            assistant=side("assistant"),
            backend=d.get("backend", ""),
            latency_ms=float(d.get("latency_ms", 0.0)),
            id=str(d.get("id", "")),
            policy=list(d.get("policy") or []),
            usage=dict(d.get("usage") or {}),
            notes=list(d.get("notes") or []),
        )

    def moderation(self) -> dict[str, Any]:
        """OpenAI-moderation-shaped view: `flagged`, `categories`, `category_scores` (max over sides)."""
        in_force = {p.partition(":")[0].strip() for p in self.policy}  # custom ones are "name: definition"
        names = sorted(set(self.user.scores) | set(self.assistant.scores) | in_force)
        cat_scores = {n: max(self.user.scores.get(n, 0.0), self.assistant.scores.get(n, 0.0)) for n in names}
        cats = {n: any(s.unsafe and s.dimension == n for s in (self.user, self.assistant)) for n in names}
        return {
            "id": self.id,
            "flagged": self.user.unsafe or self.assistant.unsafe,
            "categories": cats,
            "category_scores": cat_scores,
            "sides": {"user": self.user.rating, "assistant": self.assistant.rating},
        }


def _null(v: Any) -> Any:
    """LLaVAShield writes absent values as the string "null"; normalise to None."""
    return None if v in (None, "null", "None") else v
