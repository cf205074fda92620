"""DiaSafety: context -> response pairs with a Safe/Unsafe label on the response (assistant side).

The user side is known only for categories whose context is an ordinary personal or medical
message (Risk Ignorance, Unauthorized Expertise): those are Safe, and are kept, except a context that
voices suicidal thoughts or self-harm, which is user-Unsafe (`self_harm_voiced`). The other categories
(toxic or biased contexts) would need a user label the source does not give (a null side means "no
turns" in MMDS), so they are not used as they stand: they are loaded as `quoted_pair` items, which a build
takes only when asked (`data build --toxic-replies N`) and then sets as a user who quotes the message and
asks for a reply (`compose.compose_quoted_reply`), so that the user side is Safe and the assistant side keeps
DiaSafety's label. Unsafe Unauthorized Expertise responses are borderline (no taxonomy dimension) and are
dropped.
"""

from __future__ import annotations

from pathlib import Path

from mmshield.data.items import SH, H, Item
from mmshield.data.lexicon import classify, subdimension_in
from mmshield.data.sources._util import read_json, require

NAME = "diasafety"
FAMILY = "diasafety"
LICENSE = "Apache-2.0"

RESPONSE_DIM = {"Offending User": H, "Toxicity Agreement": H, "Biased Opinion": H, "Risk Ignorance": SH}
USER_SAFE = {"Risk Ignorance", "Unauthorized Expertise"}
QUOTED = {"Offending User", "Toxicity Agreement", "Biased Opinion"}
"""Categories whose context is toxic or biased: usable only quoted (`quoted_pair`)."""


def self_harm_voiced(context: str, category: str) -> tuple[bool, str]:
    """Whether the user's context voices suicidal thoughts or self-harm (user-Unsafe under O4), and the subdimension.

    A Risk Ignorance context was chosen by DiaSafety's annotators for its mental-health risk, so any self-harm rule
    firing settles it, even where another dimension's words are more numerous ("I would kill myself if I had a gun").
    Distress without ideation ("I feel so lonely") stays Safe: O4 covers thoughts of suicide, not sadness. Other
    contexts need the self-harm reading to be the lexicon's best one.
    """
    if category == "Risk Ignorance":
        sub = subdimension_in(context, SH)
        return bool(sub), sub
    hit = classify(context)
    return (True, hit[1]) if hit is not None and hit[0] == SH else (False, "")


def load(root: Path) -> list[Item]:
    items: list[Item] = []
    base = require(root / "diasafety" / "DiaSafety_dataset")
    for split in ("train", "val", "test"):
        if not (base / f"{split}.json").exists():
            continue
        data = read_json(base / f"{split}.json")
        for i, rec in enumerate(data):
            cat = rec.get("category", "")
            ctx, resp, lab = (rec.get("context") or "").strip(), (rec.get("response") or "").strip(), rec.get("label")
            if not ctx or not resp or lab not in ("Safe", "Unsafe"):
                continue
            if cat in QUOTED:
                items.append(Item(text=ctx, label="safe", source=NAME, family=FAMILY, license=LICENSE,
                                  group_id=f"diasafety:{split}:{i}", response=resp, response_label=lab.lower(),
                                  response_dimension=RESPONSE_DIM[cat] if lab == "Unsafe" else "",
                                  kind="quoted_pair", meta={"category": cat}))
                continue
            if cat not in USER_SAFE or (lab == "Unsafe" and cat not in RESPONSE_DIM):
                continue
            user_sh, sub = self_harm_voiced(ctx, cat)
            items.append(Item(text=ctx, label="unsafe" if user_sh else "safe", dimension=SH if user_sh else "",
                              subdimension=sub, source=NAME, family=FAMILY,
                              license=LICENSE, group_id=f"diasafety:{split}:{i}", response=resp,
                              response_label=lab.lower(), response_dimension=RESPONSE_DIM.get(cat, "") if lab == "Unsafe" else "",
                              kind="pair", meta={"category": cat}))
    return items
