"""One adapter per source folder of ../shared/data; each yields normalised `Item`s.

Every adapter module defines NAME (the folder), FAMILY, LICENSE (a string naming the licence, or
"unknown"), and `load(root: Path) -> list[Item]`, where `root` is the data root.
"""

from __future__ import annotations

import importlib
from types import ModuleType

SOURCE_MODULES: tuple[str, ...] = (
    "cosafe", "safedialbench_zh", "hh_rlhf", "diasafety", "jailbreakbench", "catqa", "actorattack",
    "wizard101", "phtest", "coconot", "sms_spam", "vlguard", "siuo", "vlsbench", "topical_chat",
    "mt_bench", "convbench",
)


def load_module(name: str) -> ModuleType:
    """The adapter module for a source name (the module name or the data folder name)."""
    for m in SOURCE_MODULES:
        mod = importlib.import_module(f"mmshield.data.sources.{m}")
        if name in (m, mod.NAME):
            return mod
    raise KeyError(f"unknown source {name!r}; choose from: {', '.join(SOURCE_MODULES)}")


def all_modules() -> list[ModuleType]:
    return [importlib.import_module(f"mmshield.data.sources.{m}") for m in SOURCE_MODULES]
