"""Preference pairs: one dialogue prefix answered twice, the `rejected` answer judged the more harmful.

hh-rlhf harmless-base holds 2,312 red-team dialogues with a `chosen` and a `rejected` last assistant reply and
no safe/unsafe label, so the MMDS records cannot use them. A pair still says something a label-free source
rarely does about real model answers: of two replies to the same turn, which one hands over more. `mmshield
data build` writes them beside the splits as `preference_pairs.jsonl` (split by the same group hashing), and
`mmshield train --preference-weight W` adds a ranking term on the assistant side (training.preference_loss).

One record per pair: id, split, source, source_family, license, conversations (the shared prefix, MMDS turns),
chosen and rejected (the two last assistant replies).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mmshield.data import splits
from mmshield.data.sources import hh_rlhf
from mmshield.dialogue import write_jsonl_atomic
from mmshield.errors import InputError

FILE_NAME = "preference_pairs.jsonl"
MAX_REPLY_CHARS = 2500


def hh_rlhf_pairs(root: Path, seed: int) -> list[dict[str, Any]]:
    """The pairs of hh-rlhf harmless-base whose two dialogues differ only in the last assistant reply."""
    path = root / "hh_rlhf_harmless_base" / "harmless-base" / "test.jsonl.gz"
    if not path.is_file():
        return []
    out: list[dict[str, Any]] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if not line.strip():
                continue
            rec = json.loads(line)
            chosen, rejected = hh_rlhf.parse(rec.get("chosen", "")), hh_rlhf.parse(rec.get("rejected", ""))
            if not _same_prefix(chosen, rejected):
                continue
            gid = f"hh:{i}"
            out.append({
                "id": f"hh_pair-{i}", "split": splits.assign_split(gid, seed), "source": hh_rlhf.NAME,
                "source_family": hh_rlhf.FAMILY, "license": hh_rlhf.LICENSE,
                "conversations": [{"role": r, "content": c} for r, c in chosen[:-1]],
                "chosen": chosen[-1][1][:MAX_REPLY_CHARS], "rejected": rejected[-1][1][:MAX_REPLY_CHARS],
            })
    return out


def _same_prefix(a: list[tuple[str, str]], b: list[tuple[str, str]]) -> bool:
    return (len(a) == len(b) >= 2 and a[:-1] == b[:-1] and a[0][0] == "user" and a[-1][0] == b[-1][0] == "assistant"
            and a[-1][1] != b[-1][1])


def write_pairs(out: Path, pairs: list[dict[str, Any]]) -> int:
    """Write the pairs file of a build (atomically); returns the count."""
    return write_jsonl_atomic(out / FILE_NAME, pairs)


def read_pairs(build: Path, split: str | None = None) -> Iterator[dict[str, Any]]:
    """The pairs of a build (of one split when given); a malformed line raises InputError naming it."""
    path = build / FILE_NAME
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise InputError(f"{path.name} line {n}: not JSON ({exc})", record=n) from exc
            for key in ("id", "conversations", "chosen", "rejected"):
                if key not in rec:
                    raise InputError(f"{path.name} line {n}: missing field", record=rec.get("id", n), field=key)
            if split is None or rec.get("split") == split:
                yield rec


def pair_records(pair: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two unlabelled MMDS records of a pair: the prefix answered by `chosen`, and by `rejected`."""
    prefix = list(pair["conversations"])
    return tuple(  # type: ignore[return-value]
        {"id": f"{pair['id']}:{which}", "source_family": pair.get("source_family", ""),
         "conversations": [*prefix, {"role": "assistant", "content": pair[which]}]}
        for which in ("chosen", "rejected"))
