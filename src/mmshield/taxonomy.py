"""The LLaVAShield safety taxonomy: 8 dimensions (O1..O8) and 60 subdimensions, as package data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

NONE_APPLYING = "NA: None applying"
"""The dimension value a verdict carries when no dimension in force is violated."""


@dataclass(frozen=True)
class Subdimension:
    """One subdimension: a short name and its parenthesised description."""

    name: str
    description: str


@dataclass(frozen=True)
class Dimension:
    """One primary dimension of the taxonomy (or a custom one given by the caller)."""

    id: str | None
    """`O1`..`O8` for built-in dimensions, None for custom ones."""
    name: str
    subdimensions: tuple[Subdimension, ...] = ()
    allowed: tuple[str, ...] = ()
    definition: str = ""
    """Free-text definition; the only description a custom dimension has."""

    @property
    def is_custom(self) -> bool:
        return self.id is None

    def describe(self) -> str:
        """Plain text description (used to embed custom and built-in dimensions alike)."""
        parts = [self.name]
        if self.definition:
            parts.append(self.definition)
        parts.extend(f"{s.name}: {s.description}" for s in self.subdimensions)
        return ". ".join(parts)


@lru_cache(maxsize=1)
def load_taxonomy() -> tuple[Dimension, ...]:
    """The 8 built-in dimensions, in their canonical O1..O8 order."""
    raw = json.loads(resources.files("mmshield").joinpath("resources/taxonomy.json").read_text("utf-8"))
    return tuple(
        Dimension(
            id=d["id"],
            name=d["name"],
            subdimensions=tuple(Subdimension(s["name"], s["description"]) for s in d["subdimensions"]),
            allowed=tuple(d["allowed"]),
        )
        for d in raw["dimensions"]
    )


DIMENSION_NAMES: tuple[str, ...] = tuple(d.name for d in load_taxonomy())
"""Names of the 8 built-in dimensions in O1..O8 order."""


def find_dimension(key: str) -> Dimension:
    """Look up a built-in dimension by id (`O5`, case-insensitive) or by name (case-insensitive).

    Raises KeyError naming the valid choices when nothing matches.
    """
    k = key.strip().lower()
    for d in load_taxonomy():
        if k in (d.id.lower() if d.id else "", d.name.lower()):
            return d
    choices = ", ".join(f"{d.id} ({d.name})" for d in load_taxonomy())
    raise KeyError(f"unknown dimension {key!r}; choose one of: {choices}, or define a custom dimension")


def find_subdimension(name: str) -> tuple[Dimension, Subdimension] | None:
    """Find the built-in dimension owning a subdimension name (case-insensitive), or None."""
    k = name.strip().lower()
    for d in load_taxonomy():
        for s in d.subdimensions:
            if s.name.lower() == k:
                return d, s
    return None
