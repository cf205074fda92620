"""Helpers shared by the source adapters."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

NONCOMMERCIAL_MARK = "NC"


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def read_jsonl(path: Path) -> Iterator[Any]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                yield json.loads(line)


def require(path: Path) -> Path:
    """The path, or a clear error naming what is missing."""
    if not path.exists():
        raise FileNotFoundError(f"source file missing: {path}")
    return path
