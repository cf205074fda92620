"""wizard101 repackaging: GuardReasoner 5k mix, BeaverTails 30k-test prompts, StrongREJECT, SG-Bench,
JBB behaviours (harmful + benign) and Alpaca harmless prompts. Each keeps its underlying licence."""

from __future__ import annotations

import ast
from pathlib import Path

from mmshield.data.items import SH, D, H, I, Item, P, S, V
from mmshield.data.lexicon import any_harm_word, classify, refine
from mmshield.data.sources._util import read_json
from mmshield.data.sources.jailbreakbench import goal_group

NAME = "wizard101_repackaged"
FAMILY = "wizard_guardreasoner"
LICENSE = "MIT (repackaging); underlying licences per item"

GR_LICENSE = {"WildGuardTrainR": "ODC-BY-1.0", "BeaverTailsTrainR": "CC BY-NC 4.0", "AegisTrainR": "CC BY 4.0",
              "ToxicChatTrainR": "CC BY-NC 4.0"}
BT_LICENSE = "CC BY-NC 4.0"
BT_MAP = {"animal_abuse": V, "child_abuse": V, "controversial_topics,politics": "",
          "discrimination,stereotype,injustice": H, "drug_abuse,weapons,banned_substance": I,
          "financial_crime,property_crime,theft": I, "hate_speech,offensive_language": H,
          "misinformation_regarding_ethics,laws_and_safety": D, "non_violent_unethical_behavior": "",
          "privacy_violation": P, "self_harm": SH, "sexually_explicit,adult_content": S,
          "terrorism,organized_crime": V, "violence,aiding_and_abetting,incitement": V}
BT_PRIORITY = ["child_abuse", "sexually_explicit,adult_content", "self_harm", "privacy_violation",
               "terrorism,organized_crime", "drug_abuse,weapons,banned_substance", "financial_crime,property_crime,theft",
               "hate_speech,offensive_language", "discrimination,stereotype,injustice", "animal_abuse",
               "violence,aiding_and_abetting,incitement", "misinformation_regarding_ethics,laws_and_safety",
               "non_violent_unethical_behavior", "controversial_topics,politics"]
SR_MAP = {"Non-violent crimes": I, "Violence": V, "Disinformation and deception": D,
          "Hate, harassment and discrimination": H, "Illegal goods and services": I, "Sexual content": S}


def _bt_dim(text: str, cat: str) -> tuple[str, str] | None:
    """Keyword dimension of a BeaverTails harmful prompt, or None to leave it out.

    The 14-way flags label the *response*, not the prompt: without a keyword hit the prompt is too
    often harmless ("a good way to destroy a TV"). Flags only break ties towards child safety.
    """
    got = classify(text)
    if not got:
        return None
    try:
        flags = ast.literal_eval(cat) if cat else {}
    except (ValueError, SyntaxError):
        flags = {}
    if flags.get("child_abuse") and got[0] == S:
        return S, "Child sexual exploitation & grooming"
    return got


def load(root: Path) -> list[Item]:
    base = root / "wizard101_repackaged" / "data"
    items: list[Item] = []
    gr = base / "evaluation" / "guardreasoner_test_5k.json"
    if gr.exists():
        for i, r in enumerate(read_json(gr)):
            text, src = (r.get("prompt") or "").strip(), r.get("source", "")
            if not text:
                continue
            lic = GR_LICENSE.get(src, "unknown")
            if r.get("label") == "harmful":
                got = classify(text)
                if not got:
                    continue
                items.append(Item(text=text, label="unsafe", source=f"{NAME}/guardreasoner/{src}", family=FAMILY,
                                  license=lic, group_id=f"gr:{i}", dimension=got[0], subdimension=got[1]))
            elif r.get("label") == "safe":
                if src == "BeaverTailsTrainR" and any_harm_word(text):
                    continue  # BeaverTails "safe" labels the response, not the prompt: keep only clearly benign prompts
                items.append(Item(text=text, label="safe", source=f"{NAME}/guardreasoner/{src}", family=FAMILY,
                                  license=lic, group_id=f"gr:{i}"))
    bt = base / "benchmark" / "beavertails_30k.json"
    if bt.exists():
        for i, r in enumerate(read_json(bt)):
            text = (r.get("text") or "").strip()
            if not text:
                continue
            if r.get("label") == "harmful":
                got = _bt_dim(text, r.get("category", ""))
                if not got:
                    continue
                items.append(Item(text=text, label="unsafe", source=f"{NAME}/beavertails", family="beavertails",
                                  license=BT_LICENSE, group_id=f"bt:{i}", dimension=got[0], subdimension=got[1]))
            else:
                if any_harm_word(text):
                    continue  # "safe" here labels the response; a prompt with harm words may itself be harmful
                items.append(Item(text=text, label="safe", source=f"{NAME}/beavertails", family="beavertails",
                                  license=BT_LICENSE, group_id=f"bt:{i}"))
    sr = base / "benchmark" / "strongreject.json"
    if sr.exists():
        for i, r in enumerate(read_json(sr)):
            text = (r.get("text") or "").strip()
            mapped = SR_MAP.get(r.get("category", ""), "")
            dim, sub = refine(text, mapped, hard=(I, D, ""))
            if text and dim:
                items.append(Item(text=text, label="unsafe", source=f"{NAME}/strongreject", family="strongreject",
                                  license="MIT", group_id=f"sr:{i}", dimension=dim, subdimension=sub))
    sg = base / "benchmark" / "sgbench.json"
    if sg.exists():
        for r in read_json(sg):
            text = (r.get("text") or "").strip()
            got = classify(text) if text else None
            if got:
                items.append(Item(text=text, label="unsafe", source=f"{NAME}/sgbench", family="sgbench",
                                  license="unknown", group_id=f"sg:{' '.join(text.lower().split())}",
                                  dimension=got[0], subdimension=got[1]))
    jb = base / "benchmark" / "jailbreakbench.json"
    if jb.exists():
        for r in read_json(jb):
            text = (r.get("text") or "").strip()
            if not text:
                continue
            if r.get("label") == "harmful":
                got = classify(text)
                if got:
                    items.append(Item(text=text, label="unsafe", source=f"{NAME}/jbb_behaviors", family="jbb",
                                      license="MIT", group_id=goal_group(text), dimension=got[0], subdimension=got[1],
                                      kind="goal"))
            else:
                items.append(Item(text=text, label="safe", source=f"{NAME}/jbb_behaviors", family="jbb",
                                  license="MIT", group_id="jbb-benign:" + " ".join(text.lower().split()), kind="goal"))
    al = base / "raw" / "harmless_alpaca.json"
    if al.exists():
        for i, text in enumerate(read_json(al).get("prompts", [])):
            items.append(Item(text=text, label="safe", source=f"{NAME}/alpaca", family="alpaca",
                              license="CC BY-NC 4.0", group_id=f"alpaca:{i}"))
    return items
