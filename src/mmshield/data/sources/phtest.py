"""PHTest: pseudo-harmful prompts (harmless or controversial, never violations): benign look-alikes."""

from __future__ import annotations

import csv
from pathlib import Path

from mmshield.data.items import Item
from mmshield.data.sources._util import require

NAME = "phtest"
FAMILY = "phtest"
LICENSE = "CC BY 4.0 (per the HF card; not stated in the repository)"


def load(root: Path) -> list[Item]:
    items: list[Item] = []
    with open(require(root / "phtest" / "PHTest" / "dataset_v0.1.csv"), encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = (row.get("Request") or "").strip()
            if text:
                items.append(Item(text=text, label="safe", source=NAME, family=FAMILY, license=LICENSE,
                                  group_id=f"phtest:{row.get('ID')}", meta={"harmfulness": row.get("Harmfulness", "")}))
    return items
