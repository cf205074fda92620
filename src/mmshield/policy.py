"""Policy: the dimensions in force for one call, custom dimensions, and per-dimension thresholds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mmshield.taxonomy import Dimension, find_dimension, load_taxonomy

PRESETS: dict[str, float] = {"strict": 0.3, "balanced": 0.5, "permissive": 0.7}
"""Default decision threshold per preset (a backend may calibrate its own per-dimension values)."""


@dataclass(frozen=True)
class Policy:
    """The set of dimensions a shield must judge against; a side violating none of them is Safe.

    Dimensions keep the caller's order: the LLaVAShield prompt numbers them O1..Ok by position.
    """

    dimensions: tuple[Dimension, ...]
    preset: str = "balanced"
    thresholds: Mapping[str, float] = field(default_factory=dict)
    """Per-dimension threshold overrides by dimension name (else the backend's calibrated value)."""

    def __post_init__(self) -> None:
        if not self.dimensions:
            raise ValueError("a policy needs at least one dimension")
        names = [d.name for d in self.dimensions]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"dimension listed twice in policy: {sorted(dup)}")
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose one of {sorted(PRESETS)}")
        unknown = set(self.thresholds) - set(names)
        if unknown:
            raise ValueError(f"thresholds given for dimensions not in the policy: {sorted(unknown)}")

    @classmethod
    def default(cls, preset: str = "balanced") -> Policy:
        """All 8 built-in dimensions in O1..O8 order."""
        return cls(load_taxonomy(), preset=preset)

    @classmethod
    def from_keys(
        cls,
        keys: Iterable[str] | None = None,
        *,
        custom: Mapping[str, str] | None = None,
        preset: str = "balanced",
        thresholds: Mapping[str, float] | None = None,
    ) -> Policy:
        """Build a policy from dimension ids or names (`O5`, `Privacy Violation`) plus custom dimensions.

        `custom` maps a new dimension name to its free-text definition.
        With no keys and no custom dimensions, all 8 built-in dimensions are in force.
        """
        dims: list[Dimension] = [find_dimension(k) for k in (keys or [])]
        for name, definition in (custom or {}).items():
            if not definition.strip():
                raise ValueError(f"custom dimension {name!r} needs a definition")
            dims.append(Dimension(id=None, name=name.strip(), definition=definition.strip()))
        if not dims:
            dims = list(load_taxonomy())
        return cls(tuple(dims), preset=preset, thresholds=dict(thresholds or {}))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def without(self, name: str) -> Policy:
        """This policy with one dimension switched off (the policy-adaptation test)."""
        kept = tuple(d for d in self.dimensions if d.name != name)
        th = {k: v for k, v in self.thresholds.items() if k != name}
        return Policy(kept, preset=self.preset, thresholds=th)

    def threshold(self, name: str, calibrated: float | None = None) -> float:
        """Decision threshold for a dimension: explicit override, else calibrated value shifted by preset."""
        if name in self.thresholds:
            return float(self.thresholds[name])
        if calibrated is None:
            return PRESETS[self.preset]
        shift = PRESETS[self.preset] - PRESETS["balanced"]
        return min(0.99, max(0.01, calibrated + shift))

    def to_list(self) -> list[str]:
        """Serialised form: dimension names (custom ones as `name: definition`)."""
        return [d.name if not d.is_custom else f"{d.name}: {d.definition}" for d in self.dimensions]

    @classmethod
    def from_list(cls, items: Iterable[str], preset: str = "balanced") -> Policy:
        """Inverse of `to_list` (MMDS `usage_policy`): built-in names/ids, or `name: definition` customs."""
        dims: list[Dimension] = []
        for it in items:
            try:
                dims.append(find_dimension(it))
            except KeyError:
                if ":" not in it:
                    raise
                n, _, d = it.partition(":")
                dims.append(Dimension(id=None, name=n.strip(), definition=d.strip()))
        return cls(tuple(dims), preset=preset)
