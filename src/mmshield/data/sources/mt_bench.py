"""MT-Bench: 80 benign two-turn questions; GPT-4 reference answers where the file has them."""

from __future__ import annotations

from pathlib import Path

from mmshield.data.items import Item
from mmshield.data.sources._util import read_jsonl, require

NAME = "mt_bench"
FAMILY = "mt_bench"
LICENSE = "Apache-2.0"


def load(root: Path) -> list[Item]:
    base = root / "mt_bench" / "FastChat" / "fastchat" / "llm_judge" / "data" / "mt_bench"
    refs: dict[int, list[str]] = {}
    ref_path = base / "reference_answer" / "gpt-4.jsonl"
    if ref_path.exists():
        for r in read_jsonl(ref_path):
            refs[r["question_id"]] = r["choices"][0]["turns"]
    items: list[Item] = []
    for r in read_jsonl(require(base / "question.jsonl")):
        qs = r.get("turns", [])
        ans = refs.get(r["question_id"], [])
        turns: list[tuple[str, str]] = []
        for k, q in enumerate(qs):
            turns.append(("user", q))
            if k < len(ans):
                turns.append(("assistant", ans[k]))
        items.append(Item(text=qs[0], label="safe", source=NAME, family=FAMILY, license=LICENSE,
                          group_id=f"mtbench:{r['question_id']}", turns=turns, kind="chat",
                          meta={"category": r.get("category", ""), "has_answers": bool(ans)}))
    return items
