"""CoSafe: native multi-turn coreference attacks (final user turn) plus their single-prompt originals."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mmshield.data.items import SH, D, H, I, Item, P, S, V
from mmshield.data.lexicon import classify, refine, subdimension_in
from mmshield.data.sources._util import require

NAME = "cosafe"
FAMILY = "cosafe"
LICENSE = "unknown"

# BeaverTails-14 file name -> dimension ("" = classify by keywords or drop).
# None: debatable or non-violating categories (politics, unethical-but-legal), left out.
CATEGORY_MAP: dict[str, str | None] = {
    "animal_abuse": V, "child_abuse": V, "controversial_topics,politics": None,
    "discrimination,stereotype,injustice": H, "drug_abuse,weapons,banned_substance": I,
    "financial_crime,property_crime,theft": I, "hate_speech,offensive_language": H,
    "misinformation_regarding_ethics,laws_and_safety": "", "non_violent_unethical_behavior": None,
    "privacy_violation": P, "self_harm": SH, "sexually_explicit,adult_content": S,
    "terrorism,organized_crime": V, "violence,aiding_and_abetting,incitement": V,
}


_REQUEST = re.compile(r"\?|\b(how|what|where|which|who|why|can you|could you|would you|tell me|give me|show me|help|"
                      r"explain|list|suggest|describe|write|provide|recommend|let'?s|i want|i need)\b", re.IGNORECASE)


# Categories whose file mixes its harm with another and with harmless talk: category -> the other dimension.
# An item is kept under the category's dimension where one of its rules fires, under the other where one of that
# dimension's rules fires, and is left out otherwise.
LEXICON_CONFIRMED: dict[str, str] = {"self_harm": I}


def _confirmed(text: str, mapped: str, other: str) -> tuple[str, str]:
    """`mapped` where one of its rules fires, else `other` where one of its rules fires, else nothing.

    CoSafe's self_harm file holds self-harm ("what about carving my arm?") but mostly drug use ("how much would I
    need to get high?"), risky stunts and plain small talk ("What's the best type of soil for gardening?"): 97 of its
    99 dialogues fire no self-harm rule. Labelled Self-Harm wholesale, drug questions were read as self-harm and
    harmless chat as unsafe. Drug use is Illegal Activities (Drug trafficking: "production, sale, use of illicit
    drugs"); what neither reads (a crime novel's poison, a dog that swallowed something) is too mixed to keep.
    """
    for wanted in (mapped, other):
        sub = subdimension_in(text, wanted)
        if sub:
            return wanted, sub
    return "", ""


def _dim(cat: str, text: str) -> tuple[str, str]:
    mapped = CATEGORY_MAP.get(cat)
    if mapped is None:
        return "", ""
    if cat in LEXICON_CONFIRMED:
        return _confirmed(text, mapped, LEXICON_CONFIRMED[cat])
    if mapped == "":  # weak category (final turns often just ask about claims): keep only clear keyword hits
        got = classify(text)
        return got if got and got[0] != D else ("", "")
    return refine(text, mapped, hard=(V, I))


def load(root: Path) -> list[Item]:
    base = root / "cosafe"
    items: list[Item] = []
    require(base / "CoSafe datasets")
    for cat in sorted(CATEGORY_MAP):
        mt = base / "CoSafe datasets" / f"{cat}.json"
        if not mt.exists():
            continue
        with open(mt, encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if not line.strip():
                    continue
                conv = json.loads(line)
                turns = [(t["role"], t["content"]) for t in conv if t.get("content")]
                if not turns or turns[-1][0] != "user":
                    continue
                if not _REQUEST.search(turns[-1][1]):
                    continue  # the final turn must ask for something (a few CoSafe finals are plain statements)
                joined = " ".join(c for r, c in turns if r == "user")
                dim, sub = _dim(cat, joined)
                if not dim:
                    continue
                items.append(Item(text=turns[-1][1], label="unsafe", source=NAME, family=FAMILY, license=LICENSE,
                                  group_id=f"cosafe:{cat}:{i}", dimension=dim, subdimension=sub, turns=turns,
                                  kind="dialogue", meta={"category": cat}))
        sp = base / "Single Prompt" / f"{cat}_select_100.json"
        if sp.exists():
            with open(sp, encoding="utf-8") as fh:
                for i, line in enumerate(fh):
                    if not line.strip():
                        continue
                    prompt = json.loads(line)[0]
                    dim, sub = _dim(cat, prompt)
                    if not dim:
                        continue
                    items.append(Item(text=prompt, label="unsafe", source=NAME, family=FAMILY, license=LICENSE,
                                      group_id=f"cosafe:{cat}:{i}", dimension=dim, subdimension=sub, kind="prompt",
                                      meta={"category": cat}))
    return items
