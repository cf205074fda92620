"""VLSBench (text only: instruction + image_description; the images are not available here)."""

from __future__ import annotations

from pathlib import Path

from mmshield.data.items import SH, H, I, Item, M, P, S, V
from mmshield.data.lexicon import refine
from mmshield.data.sources._util import read_json, require

NAME = "vlsbench"
FAMILY = "vlsbench_text"
LICENSE = "unknown"

CATEGORY_MAP = {"Violent": V, "Illegal Activity": I, "Self-Harm": SH, "Erotic": S, "Hate": H, "Privacy": P}


def load(root: Path) -> list[Item]:
    items: list[Item] = []
    for r in read_json(require(root / "vlsbench" / "data" / "data.json")):
        cat, sub = r.get("category", ""), r.get("sub_category", "")
        if cat not in CATEGORY_MAP or not r.get("instruction"):
            continue
        mapped = M if sub == "Cybercrime" else CATEGORY_MAP[cat]
        desc = (r.get("image_description") or "").strip()
        dim, subd = refine(desc + " " + r["instruction"], mapped, hard=())
        items.append(Item(text=r["instruction"].strip(), label="unsafe", source=NAME, family=FAMILY, license=LICENSE,
                          group_id=f"vlsbench:{r.get('instruction_id')}", dimension=dim, subdimension=subd,
                          kind="vls", meta={"description": desc, "safety_reason": r.get("safety_reason", ""),
                                            "category": cat, "subcategory": sub}))
    return items
