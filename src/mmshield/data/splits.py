"""Group-disjoint train/dev/test splits and source-family splits.

A group is one underlying source item (an intent, a prompt, a response, a photo). Items whose
normalised text is identical are merged into one group (union-find), so a prompt repackaged by two
sources cannot land in two splits. Everything derived from a group (decompositions, contrasts,
augmentations) inherits its split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

SPLITS = ("train", "dev", "test")
DEFAULT_RATIOS = (0.8, 0.1, 0.1)


def unit_hash(*parts: object) -> float:
    """A stable number in [0, 1) from the parts."""
    h = hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def assign_split(group_id: str, seed: int, ratios: tuple[float, float, float] = DEFAULT_RATIOS) -> str:
    u = unit_hash("split", seed, group_id)
    if u < ratios[0]:
        return SPLITS[0]
    if u < ratios[0] + ratios[1]:
        return SPLITS[1]
    return SPLITS[2]


def normalise(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c.isspace()).split())


class GroupMerger:
    """Union-find over group ids; `link(a, b)` puts a and b in one group."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, a: str) -> str:
        p = self.parent.setdefault(a, a)
        if p != a:
            p = self.parent[a] = self.find(p)
        return p

    def link(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = sorted((ra, rb))
            self.parent[hi] = lo


def merge_by_text(pairs: Iterable[tuple[str, str]]) -> GroupMerger:
    """Merge groups whose items share a normalised text. `pairs` yields (group_id, text)."""
    gm = GroupMerger()
    seen: dict[str, str] = {}
    for gid, text in pairs:
        gm.find(gid)
        key = normalise(text)
        if len(key) < 12:
            continue
        if key in seen:
            gm.link(seen[key], gid)
        else:
            seen[key] = gid
    return gm


def leave_family_out(dataset: Path, family: str, out: Path) -> dict[str, int]:
    """Write train.jsonl (every split, without `family`) and test.jsonl (only `family`) under `out`.

    Image paths are rewritten to stay valid relative to `out`.
    """
    import json
    import os

    from mmshield.dialogue import write_jsonl_atomic

    dataset, out = Path(dataset), Path(out)
    fam = json.loads((dataset / "families.json").read_text("utf-8"))
    if family not in fam:
        raise KeyError(f"unknown family {family!r}; choose from: {', '.join(sorted(fam))}")
    held = set(fam[family])
    rel = os.path.relpath(dataset, out)
    train, test = [], []
    for s in SPLITS:
        path = dataset / f"{s}.jsonl"
        if not path.exists():
            continue
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                for t in r["conversations"]:
                    t["image"] = [os.path.join(rel, p) for p in t.get("image", [])]
                (test if r["id"] in held else train).append(r)
    write_jsonl_atomic(out / "train.jsonl", train)
    write_jsonl_atomic(out / "test.jsonl", test)
    return {"train": len(train), "test": len(test)}
