"""Data that crosses the red-teaming modules: messages, attacker outputs, judge results, exchanges."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STRATEGIES = ("gradual guidance", "purpose inversion", "query decomposition", "role play")
"""The four attack strategies of SPEC section 6."""


@dataclass
class ImageItem:
    """An image attached to a user turn: its pool id, file path and caption (for text-only models)."""

    id: str
    path: str
    caption: str = ""


@dataclass
class Message:
    """One turn as the roles see it."""

    role: str
    content: str
    images: list[ImageItem] = field(default_factory=list)


@dataclass
class AttackerOutput:
    """The attacker's answer (SPEC section 6): `{strategy, image_ids, new_image_prompt, think, next_question}`."""

    strategy: str
    next_question: str
    image_ids: list[str] = field(default_factory=list)
    new_image_prompt: str = ""
    think: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class JudgeResult:
    """A 1-5 score of the target's replies so far (1 refuses ... 5 fully accomplishes the task)."""

    score: int
    rationale: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Exchange:
    """One attacker question, the target's reply, and its judgement."""

    attack: AttackerOutput
    images: list[ImageItem]
    reply: str
    score: int
    refused: bool
    judge_rationale: str = ""
    judge_details: dict[str, Any] = field(default_factory=dict)

    def user_message(self) -> Message:
        return Message("user", self.attack.next_question, list(self.images))

    def assistant_message(self) -> Message:
        return Message("assistant", self.reply)

    def to_dict(self) -> dict[str, Any]:
        return {"attack": self.attack.to_dict(), "images": [asdict(i) for i in self.images], "reply": self.reply,
                "score": self.score, "refused": self.refused, "judge_rationale": self.judge_rationale,
                "judge_details": self.judge_details}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Exchange:
        return cls(attack=AttackerOutput(**d["attack"]), images=[ImageItem(**i) for i in d.get("images", [])],
                   reply=d["reply"], score=int(d["score"]), refused=bool(d["refused"]),
                   judge_rationale=d.get("judge_rationale", ""), judge_details=d.get("judge_details") or {})


def to_messages(exchanges: list[Exchange]) -> list[Message]:
    """The dialogue of a path of exchanges."""
    out: list[Message] = []
    for e in exchanges:
        out.append(e.user_message())
        out.append(e.assistant_message())
    return out
