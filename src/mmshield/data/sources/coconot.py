"""CoCoNot: unsafe 'requests with safety concerns', benign non-compliance categories, the contrast set
(benign look-alikes) and the preference set (benign prompts with a helpful `chosen` reply)."""

from __future__ import annotations

from pathlib import Path

from mmshield.data.items import D, H, Item, P
from mmshield.data.lexicon import classify, refine
from mmshield.data.sources._util import read_jsonl

NAME = "coconot"
FAMILY = "coconot"
LICENSE = "MIT"

SAFETY_MAP = {"dangerous or sensitive topics": "", "privacy violations": P, "triggers for offensive language": H,
              "misinformation": D, "false information": D, "wildchats": ""}
DROP = {"copyright violations"}


def load(root: Path) -> list[Item]:
    base = root / "coconot" / "data"
    items: list[Item] = []
    ev = base / "coconot_eval.jsonl"
    if ev.exists():
        for r in read_jsonl(ev):
            text, cat, sub = r.get("prompt", "").strip(), r.get("category", ""), r.get("subcategory", "")
            if not text or sub in DROP:
                continue
            gid = f"coconot:{r.get('id')}"
            if cat == "Requests with safety concerns" and sub in SAFETY_MAP:
                mapped = SAFETY_MAP[sub]
                dim, subd = refine(text, mapped, hard=("",)) if mapped else (classify(text) or ("", ""))
                if dim:
                    items.append(Item(text=text, label="unsafe", source=NAME, family=FAMILY, license=LICENSE,
                                      group_id=gid, dimension=dim, subdimension=subd, meta={"subcategory": sub}))
            elif cat != "Requests with safety concerns":
                items.append(Item(text=text, label="safe", source=NAME, family=FAMILY, license=LICENSE, group_id=gid,
                                  meta={"subcategory": sub, "category": cat}))
    ct = base / "coconot_contrast_eval.jsonl"
    if ct.exists():
        for r in read_jsonl(ct):
            text = r.get("prompt", "").strip()
            if text:
                items.append(Item(text=text, label="safe", source=NAME, family=FAMILY, license=LICENSE,
                                  group_id=f"coconot:{r.get('id')}", meta={"subcategory": r.get("subcategory", ""),
                                                                           "contrast": True}))
    pf = base / "coconot_pref.jsonl"
    if pf.exists():
        for r in read_jsonl(pf):
            text, chosen = r.get("prompt", "").strip(), (r.get("chosen") or "").strip()
            if text and chosen:
                items.append(Item(text=text, label="safe", source=NAME, family=FAMILY, license=LICENSE,
                                  group_id=f"coconot-pref:{r.get('id')}", response=chosen[:2500], response_label="safe",
                                  kind="pair", meta={"subcategory": r.get("subcategory", ""), "contrast": True}))
    return items
