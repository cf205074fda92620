"""hh-rlhf harmless-base: only dialogues that are clearly benign (no harm keyword anywhere) are kept,
as benign multi-turn chat with the `chosen` assistant replies."""

from __future__ import annotations

import re
from pathlib import Path

from mmshield.data.items import Item
from mmshield.data.lexicon import any_harm_word
from mmshield.data.sources._util import read_jsonl, require

NAME = "hh_rlhf_harmless_base"
FAMILY = "hh_rlhf"
LICENSE = "MIT"

_SPLIT = re.compile(r"\n\n(Human|Assistant): ")
_EXTRA = re.compile(r"\b(steal|kill|drug|hurt|illegal|weapon|gun|sex|porn|racist|insult|curse|swear|cheat|lie|prank|"
                    r"revenge|poison|hate|fight|naked|prison|cops?|police|rob|crime|criminal|fuck|shit|bitch|"
                    r"damn|stupid|idiot|dumb|die|dead|death|suicide|abuse|violent|attack|beat|bully|harass|threat|"
                    r"scam|fraud|hack|spy|stalk|address|phone number|social security|break|legs?|arm|harm|danger|"
                    r"unethical|illegal|sorry|appropriate|offensive|disturbing|can'?t help|won'?t|refuse|violen|bad|"
                    r"evil|mean|rude|racis|black|white|jew|muslim|gay|women|girl|boy|child|kid|neighbou?r|boss|"
                    r"wife|husband|ex|revenge|secret|sneak|hide|fake|trick|fool|lies|lying|money|cash|bank)\w*", re.IGNORECASE)


def parse(text: str) -> list[tuple[str, str]]:
    parts = _SPLIT.split("\n\n" + text.strip())
    turns: list[tuple[str, str]] = []
    for k in range(1, len(parts) - 1, 2):
        role = "user" if parts[k] == "Human" else "assistant"
        content = parts[k + 1].strip()
        if content:
            turns.append((role, content))
    return turns


def load(root: Path) -> list[Item]:
    path = require(root / "hh_rlhf_harmless_base" / "harmless-base" / "test.jsonl.gz")
    items: list[Item] = []
    for i, rec in enumerate(read_jsonl(path)):
        turns = parse(rec.get("chosen", ""))
        if len(turns) < 2 or turns[0][0] != "user":
            continue
        text = " ".join(c for _, c in turns)
        if any_harm_word(text) or _EXTRA.search(text):
            continue
        items.append(Item(text=turns[0][1], label="safe", source=NAME, family=FAMILY, license=LICENSE,
                          group_id=f"hh:{i}", turns=turns, kind="chat"))
    return items
