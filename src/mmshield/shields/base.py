"""The one small contract every backend honours, and the registry that finds backends by name."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, runtime_checkable

from mmshield.dialogue import Dialogue
from mmshield.policy import Policy
from mmshield.verdict import Verdict


@runtime_checkable
class Shield(Protocol):
    """A backend: judges a dialogue under a policy and returns a Verdict, or raises an MMShieldError."""

    name: str

    def moderate(self, dialogue: Dialogue, policy: Policy | None = None) -> Verdict:
        """Judge one dialogue (all 8 dimensions when policy is None)."""
        ...

    def moderate_many(
        self, dialogues: Iterable[Dialogue], policy: Policy | None = None
    ) -> Iterator[Verdict | Exception]:
        """Judge many; a failure yields the exception in that position and the rest go on."""
        ...


class BaseShield:
    """Convenience base: `moderate_many` loops over `moderate`, timing and error capture included."""

    name = "base"

    def moderate(self, dialogue: Dialogue, policy: Policy | None = None) -> Verdict:
        raise NotImplementedError

    def moderate_many(
        self, dialogues: Iterable[Dialogue], policy: Policy | None = None
    ) -> Iterator[Verdict | Exception]:
        for d in dialogues:
            t0 = time.perf_counter()
            try:
                v = self.moderate(d, policy)
            except Exception as exc:  # noqa: BLE001 - reported per record, the batch goes on
                yield exc
                continue
            if not v.latency_ms:
                v.latency_ms = (time.perf_counter() - t0) * 1000
            yield v


_REGISTRY: dict[str, str | Callable[..., Shield]] = {
    "embedded": "mmshield.shields.embedded:EmbeddedShield",
    "openai": "mmshield.shields.openai_compat:OpenAIShield",
    "llava": "mmshield.shields.llava:LlavaShield",
}
DEFAULT_BACKEND = "embedded"


def register_backend(name: str, factory: str | Callable[..., Shield]) -> None:
    """Register a backend factory (a callable, or a `module:attr` string imported on first use)."""
    _REGISTRY[name] = factory


def available_backends() -> list[str]:
    return sorted(_REGISTRY)


def get_shield(name: str = DEFAULT_BACKEND, **options: Any) -> Shield:
    """Instantiate a backend by name with its options (unknown name: KeyError listing the choices)."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown backend {name!r}; available: {', '.join(available_backends())}")
    factory = _REGISTRY[name]
    if isinstance(factory, str):
        mod, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(mod), attr)
    return factory(**options)
