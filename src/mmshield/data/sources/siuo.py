"""SIUO (CC BY-NC 4.0; images not available): safe text + safe image -> unsafe together.

Without the photo, the scene is carried by the first clause of `safety_warning`, which the composer
renders into a text card (a typographic stand-in for the photo). The reference answers are safe replies.
"""

from __future__ import annotations

import re
from pathlib import Path

from mmshield.data.items import SH, D, H, I, Item, P, V
from mmshield.data.lexicon import refine
from mmshield.data.sources._util import read_json

NAME = "siuo"
FAMILY = "siuo"
LICENSE = "CC BY-NC 4.0"

CATEGORY_MAP = {"self-harm": SH, "dangerous behavior": V, "illegal activities & crime": I,
                "discrimination & stereotyping": H, "privacy violation": P, "information misinterpretation": D}


def scene(warning: str) -> str:
    first = re.split(r"(?<=[.!?])\s", warning.strip())[0]
    first = re.split(r",? (which|this|implying|so|indicating|suggesting)\b", first)[0]
    return first.strip().rstrip(".")


def load(root: Path) -> list[Item]:
    path = root / "siuo" / "data" / "siuo_gen.json"
    if not path.exists():
        return []
    items: list[Item] = []
    for r in read_json(path):
        cat = r.get("category", "")
        if cat not in CATEGORY_MAP or not r.get("question"):
            continue
        dim, sub = refine(r.get("safety_warning", ""), CATEGORY_MAP[cat], hard=())
        items.append(Item(text=r["question"].strip(), label="unsafe", source=NAME, family=FAMILY, license=LICENSE,
                          group_id=f"siuo:{r.get('question_id')}", dimension=dim, subdimension=sub,
                          response=(r.get("reference_answer") or "").strip() or None, response_label="safe",
                          kind="siuo", meta={"scene": scene(r.get("safety_warning", ""))}))
    return items
