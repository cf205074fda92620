"""VLGuard (text only: the images are not available here).

Safe-image records give paired prompts: a safe instruction with a helpful response, and an unsafe
instruction with a refusal. Unsafe-image records are skipped: their instruction is only harmful
together with the missing image.
"""

from __future__ import annotations

from pathlib import Path

from mmshield.data.items import Item, P
from mmshield.data.lexicon import classify
from mmshield.data.sources._util import read_json

NAME = "vlguard"
FAMILY = "vlguard_text"
LICENSE = "unknown"


def load(root: Path) -> list[Item]:
    base = root / "vlguard" / "data"
    items: list[Item] = []
    for split in ("train", "test"):
        path = base / f"{split}.json"
        if not path.exists():
            continue
        for r in read_json(path):
            if not r.get("safe"):
                continue
            gid = f"vlguard:{r.get('image') or r.get('id')}"
            for ir in r.get("instr-resp", []):
                resp = (ir.get("response") or "").strip()
                if ir.get("safe_instruction"):
                    items.append(Item(text=ir["safe_instruction"].strip(), label="safe", source=NAME, family=FAMILY,
                                      license=LICENSE, group_id=gid, response=resp or None,
                                      response_label="safe" if resp else None, kind="pair", meta={"visual": True}))
                elif ir.get("unsafe_instruction"):
                    text = ir["unsafe_instruction"].strip()
                    got = classify(text)
                    if not got and any(w in text.lower() for w in ("who is", "identity", "name of", "where does", "lives")):
                        got = (P, "Aggregation & identification")
                    if not got:
                        continue
                    items.append(Item(text=text, label="unsafe", source=NAME, family=FAMILY, license=LICENSE,
                                      group_id=gid, dimension=got[0], subdimension=got[1], response=resp or None,
                                      response_label="safe" if resp else None, kind="pair", meta={"visual": True}))
    return items
