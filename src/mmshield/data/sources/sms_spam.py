"""UCI SMS Spam Collection: spam texts (a user asking to mass-send one is Malicious Disruption / Spam)
and ham texts (benign messages to reply to)."""

from __future__ import annotations

from pathlib import Path

from mmshield.data.items import Item, M
from mmshield.data.sources._util import require

NAME = "sms_spam_collection"
FAMILY = "sms_spam"
LICENSE = "CC BY 4.0 (UCI original; the copied repository states none)"


def load(root: Path) -> list[Item]:
    items: list[Item] = []
    with open(require(root / "sms_spam_collection" / "SMSSpamCollection"), encoding="utf-8", errors="replace") as fh:
        for i, line in enumerate(fh):
            lab, _, text = line.rstrip("\n").partition("\t")
            text = text.strip()
            if lab not in ("spam", "ham") or len(text) < 12:
                continue
            if lab == "spam":
                items.append(Item(text=text, label="unsafe", source=NAME, family=FAMILY, license=LICENSE,
                                  group_id=f"sms:{i}", dimension=M, subdimension="Spam", kind="spam"))
            else:
                items.append(Item(text=text, label="safe", source=NAME, family=FAMILY, license=LICENSE,
                                  group_id=f"sms:{i}", kind="ham"))
    return items
