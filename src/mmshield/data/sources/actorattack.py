"""ActorAttack repo: HarmBench standard behaviours (with SemanticCategory) and circuit-breaker goals."""

from __future__ import annotations

import csv
from pathlib import Path

from mmshield.data.items import D, H, I, Item, M, V
from mmshield.data.lexicon import classify, refine
from mmshield.data.sources._util import require

NAME = "actorattack"
FAMILY = "actorattack"
LICENSE = "unknown"

SEMANTIC_MAP = {"chemical_biological": V, "illegal": I, "misinformation_disinformation": D,
                "harassment_bullying": H, "cybercrime_intrusion": M, "harmful": ""}


def load(root: Path) -> list[Item]:
    base = root / "actorattack" / "data"
    items: list[Item] = []
    with open(require(base / "harmbench.csv"), encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            goal = (row.get("Goal") or "").strip()
            cat = row.get("SemanticCategory", "")
            if not goal or cat not in SEMANTIC_MAP:
                continue
            dim, sub = refine(goal, SEMANTIC_MAP[cat], hard=(I, V, ""))
            if not dim:
                continue
            items.append(Item(text=goal, label="unsafe", source=NAME, family=FAMILY, license=LICENSE,
                              group_id=f"harmbench:{row.get('BehaviorID') or goal.lower()}", dimension=dim,
                              subdimension=sub, kind="goal", meta={"category": cat}))
    cb = base / "circuit_breaker_train.csv"
    if cb.exists():
        with open(cb, encoding="utf-8", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh)):
                goal = (row.get("Goal") or "").strip()
                got = classify(goal) if goal else None
                if not got:
                    continue
                items.append(Item(text=goal, label="unsafe", source=NAME, family=FAMILY, license=LICENSE,
                                  group_id=f"circuitbreaker:{i}", dimension=got[0], subdimension=got[1], kind="goal"))
    return items
