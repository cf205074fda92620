"""Topical-Chat: benign human-human knowledge chats (agent_1 plays the user, agent_2 the assistant)."""

from __future__ import annotations

from pathlib import Path

from mmshield.data.items import Item
from mmshield.data.sources._util import read_json

NAME = "topical_chat"
FAMILY = "topical_chat"
LICENSE = "CDLA-Sharing-1.0"


def load(root: Path) -> list[Item]:
    items: list[Item] = []
    for split in ("test_freq", "test_rare", "valid_freq", "valid_rare"):
        path = root / "topical_chat" / "conversations" / f"{split}.json"
        if not path.exists():
            continue
        for cid, conv in read_json(path).items():
            turns: list[tuple[str, str]] = []
            for m in conv.get("content", []):
                role = "user" if m.get("agent") == "agent_1" else "assistant"
                text = (m.get("message") or "").strip()
                if not text:
                    continue
                if turns and turns[-1][0] == role:
                    turns[-1] = (role, turns[-1][1] + " " + text)
                else:
                    turns.append((role, text))
            if len(turns) >= 2 and turns[0][0] == "user":
                items.append(Item(text=turns[0][1], label="safe", source=NAME, family=FAMILY, license=LICENSE,
                                  group_id=f"topical:{cid}", turns=turns, kind="chat"))
    return items
