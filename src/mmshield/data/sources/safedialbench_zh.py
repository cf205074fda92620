"""SafeDialBench (Chinese): multi-turn attack dialogues; all are attacks, so the user side is Unsafe.

The bot replies are unlabelled model outputs, so the assistant side of these dialogues stays null.
"""

from __future__ import annotations

from pathlib import Path

from mmshield.data.items import D, H, I, Item, P
from mmshield.data.sources._util import read_jsonl, require

NAME = "safedialbench_zh"
FAMILY = "safedialbench_zh"
LICENSE = "unknown"

TASK_MAP = {"ethics": D, "fairness": H, "legality": I, "privacy": P}


def load(root: Path) -> list[Item]:
    items: list[Item] = []
    base = require(root / "safedialbench_zh" / "data" / "by_task" / "chinese")
    for task, dim in TASK_MAP.items():
        path = base / f"{task}.jsonl"
        if not path.exists():
            continue
        for i, rec in enumerate(read_jsonl(path)):
            turns: list[tuple[str, str]] = []
            for h in rec.get("history", []):
                if h.get("user"):
                    turns.append(("user", h["user"]))
                if h.get("bot"):
                    turns.append(("assistant", h["bot"]))
            if not turns:
                continue
            if turns[-1][0] == "assistant":
                turns = turns[:-1]
            items.append(Item(text=turns[-1][1], label="unsafe", source=NAME, family=FAMILY, license=LICENSE,
                              group_id=f"sdb:{task}:{rec.get('id', i)}", dimension=dim, turns=turns, kind="dialogue",
                              lang="zh", meta={"method": rec.get("method", ""), "scene": rec.get("scene", "")}))
    return items
