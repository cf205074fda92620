"""`mmshield stats FILE [--json]`: counts per side, rating, dimension, data type, turns, images and source."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from mmshield.dialogue import SIDES, read_input


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="MMDS JSONL file, or one JSON dialogue")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _key(v: Any) -> str:
    return "null" if v is None else str(v)


def compute_stats(path: Path) -> dict[str, Any]:
    """All counts of a file; records that fail to parse are counted as `invalid`."""
    records = invalid = 0
    ratings = {s: Counter() for s in SIDES}
    dims = {s: Counter() for s in SIDES}
    turns_per_side = dict.fromkeys(SIDES, 0)
    top_dim: Counter[str] = Counter()
    subdim: Counter[str] = Counter()
    data_type: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    turn_hist: Counter[int] = Counter()
    images = dialogues_with_images = with_policy = with_system = 0
    images_hist: Counter[int] = Counter()
    for pr in read_input(path):
        records += 1
        d = pr.dialogue
        if d is None:
            invalid += 1
            continue
        rec = d.record
        for s in SIDES:
            ratings[s][_key(rec.get(f"{s}_rating"))] += 1
            if rec.get(f"{s}_rating") is not None:
                dims[s][_key(rec.get(f"{s}_dimension"))] += 1
            turns_per_side[s] += sum(t.role == s for t in d.turns)
        top_dim[rec.get("dimension") or "(none)"] += 1
        if rec.get("subdimension"):
            subdim[rec["subdimension"]] += 1
        data_type[_key(rec.get("data_type"))] += 1
        src = rec.get("source")
        if isinstance(src, list):
            for s_ in src:
                sources[str(s_)] += 1
        elif src is not None:
            sources[str(src)] += 1
        turn_hist[len(d.turns)] += 1
        n_img = len(d.images)
        images += n_img
        images_hist[n_img] += 1
        dialogues_with_images += n_img > 0
        with_policy += bool(d.usage_policy)
        with_system += d.system is not None
    valid = records - invalid
    return {
        "file": str(path),
        "records": records,
        "valid": valid,
        "invalid": invalid,
        "ratings": {s: dict(sorted(ratings[s].items())) for s in SIDES},
        "dimensions": {s: dict(dims[s].most_common()) for s in SIDES},
        "turns": {s: turns_per_side[s] for s in SIDES},
        "record_dimension": dict(top_dim.most_common()),
        "subdimension": dict(subdim.most_common()),
        "data_type": dict(sorted(data_type.items())),
        "turn_count_histogram": {str(k): v for k, v in sorted(turn_hist.items())},
        "images": {
            "total": images,
            "dialogues_with_images": dialogues_with_images,
            "share_with_images": dialogues_with_images / valid if valid else 0.0,
            "per_dialogue_histogram": {str(k): v for k, v in sorted(images_hist.items())},
        },
        "with_usage_policy": with_policy,
        "with_system_message": with_system,
        "sources": dict(sources.most_common()),
    }


def _print_text(st: dict[str, Any]) -> None:
    print(f"{st['file']}: {st['records']} records ({st['valid']} valid, {st['invalid']} invalid)")
    for s in SIDES:
        print(f"  {s}: ratings {st['ratings'][s]}; turns {st['turns'][s]}")
        if st["dimensions"][s]:
            print(f"    dimensions {st['dimensions'][s]}")
    print(f"  data_type {st['data_type']}")
    print(f"  record dimension {st['record_dimension']}")
    if st["subdimension"]:
        print(f"  subdimension {st['subdimension']}")
    print(f"  turns per dialogue {st['turn_count_histogram']}")
    im = st["images"]
    print(f"  images {im['total']} in {im['dialogues_with_images']} dialogues ({im['share_with_images']:.1%}); "
          f"per dialogue {im['per_dialogue_histogram']}")
    print(f"  with usage_policy {st['with_usage_policy']}; with system message {st['with_system_message']}")
    if st["sources"]:
        print(f"  sources {st['sources']}")


def run(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        print(f"mmshield stats: file not found: {args.file}")
        return 2
    st = compute_stats(args.file)
    if args.json:
        print(json.dumps(st, ensure_ascii=False))
    else:
        _print_text(st)
    return 0
