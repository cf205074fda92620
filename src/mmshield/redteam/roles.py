"""Build the roles from short specs, each role configured separately.

Specs:
- attacker: `programmatic` (offline default), `openai` (needs base_url and model), `py:module:factory`
- target:   `smollm2` (offline default), `openai`, `py:module:factory`
- judge:    `shield` / `shield:NAME` (a registered Shield; `embedded` by default), `openai`, `py:module:factory`
- refusal:  `classifier` (the packaged refusal classifier), `py:module:factory`
`py:` factories are called with no arguments and must return an object honouring the role's protocol.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from typing import Any

from mmshield.redteam.attacker import Attacker, LLMAttacker, ProgrammaticAttacker
from mmshield.redteam.chat import OpenAIChat
from mmshield.redteam.imagegen import ImageGenerator, make_generator
from mmshield.redteam.judge import Judge, LLMJudge, ShieldJudge
from mmshield.redteam.refusal import RefusalDetector, default_detector
from mmshield.redteam.target import ChatTarget, SmolLM2Chat, Target


@dataclass
class RoleSpec:
    """One role's configuration."""

    kind: str
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"
    max_tokens: int | None = None
    temperature: float | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "base_url": self.base_url, "model": self.model, "max_tokens": self.max_tokens,
                "temperature": self.temperature, **self.options}


@dataclass
class Roles:
    attacker: Attacker
    target: Target
    judge: Judge
    refusal: RefusalDetector
    generator: ImageGenerator | None


def _py(spec: str) -> Any:
    mod, _, attr = spec[3:].rpartition(":")
    if not mod:
        raise ValueError(f"a py: role spec is py:module:factory, got {spec!r}")
    return getattr(importlib.import_module(mod), attr)()


def _openai(role: str, s: RoleSpec, default_max: int) -> OpenAIChat:
    if not s.base_url or not s.model:
        raise ValueError(f"the {role} role 'openai' needs --{role}-base-url and --{role}-model")
    return OpenAIChat(s.base_url, s.model, api_key_env=s.api_key_env, max_tokens=s.max_tokens or default_max,
                      temperature=0.7 if s.temperature is None else s.temperature)


def build_attacker(s: RoleSpec) -> Attacker:
    if s.kind == "programmatic":
        return ProgrammaticAttacker(**{k: float(v) for k, v in s.options.items() if k in ("image_rate", "generate_rate")})
    if s.kind == "openai":
        return LLMAttacker(_openai("attacker", s, 512))
    if s.kind.startswith("py:"):
        return _py(s.kind)
    raise ValueError(f"unknown attacker {s.kind!r}; use programmatic, openai or py:module:factory")


def build_target(s: RoleSpec) -> Target:
    if s.kind == "smollm2":
        return ChatTarget(SmolLM2Chat(max_new_tokens=s.max_tokens or 96,
                                      temperature=0.0 if s.temperature is None else s.temperature))
    if s.kind == "openai":
        return ChatTarget(_openai("target", s, 512))
    if s.kind.startswith("py:"):
        return _py(s.kind)
    raise ValueError(f"unknown target {s.kind!r}; use smollm2, openai or py:module:factory")


class _LockedJudge:
    """Serialises calls to a judge whose model is shared between task threads."""

    def __init__(self, inner: Judge) -> None:
        self.inner = inner
        self.name = inner.name
        self._lock = threading.Lock()

    def score(self, task, messages):
        with self._lock:
            return self.inner.score(task, messages)


def build_judge(s: RoleSpec, refusal: RefusalDetector) -> Judge:
    if s.kind == "shield" or s.kind.startswith("shield:"):
        from mmshield.shields import get_shield

        name = s.kind.partition(":")[2] or "embedded"
        opts: dict[str, Any] = {k: float(v) for k, v in s.options.items() if k in ("t2", "t3", "t4", "other_weight")}
        if "min_words_5" in s.options:
            opts["min_words_5"] = int(s.options["min_words_5"])
        shield_opts = {"weights": s.options["weights"]} if s.options.get("weights") else {}
        return _LockedJudge(ShieldJudge(get_shield(name, **shield_opts), refusal=refusal, **opts))
    if s.kind == "openai":
        return LLMJudge(_openai("judge", s, 128))
    if s.kind.startswith("py:"):
        return _py(s.kind)
    raise ValueError(f"unknown judge {s.kind!r}; use shield[:NAME], openai or py:module:factory")


def build_refusal(kind: str) -> RefusalDetector:
    if kind == "classifier":
        return default_detector()
    if kind.startswith("py:"):
        return _py(kind)
    raise ValueError(f"unknown refusal detector {kind!r}; use classifier or py:module:factory")


def build_roles(attacker: RoleSpec, target: RoleSpec, judge: RoleSpec, *, refusal: str = "classifier",
                generator: str | None = "typography") -> Roles:
    det = build_refusal(refusal)
    return Roles(attacker=build_attacker(attacker), target=build_target(target), judge=build_judge(judge, det),
                 refusal=det, generator=make_generator(generator) if generator != "none" else None)
