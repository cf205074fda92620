"""JailbreakBench artifacts: jailbreak prompts with target-model responses and a `jailbroken` judgement.

jailbroken=True responses are unsafe compliant replies; jailbroken=False ones are treated as safe
(refusals or non-answers, per the judge). "Expert advice" behaviours are borderline and dropped.
"""

from __future__ import annotations

from pathlib import Path

from mmshield.data.items import D, H, I, Item, M, P, S, V
from mmshield.data.lexicon import refine
from mmshield.data.sources._util import read_json, require

NAME = "jailbreakbench_artifacts"
FAMILY = "jbb"
LICENSE = "MIT"

CATEGORY_MAP = {
    "Harassment/Discrimination": H, "Malware/Hacking": M, "Physical harm": V, "Economic harm": I,
    "Fraud/Deception": I, "Disinformation": D, "Sexual/Adult content": S, "Privacy": P,
    "Government decision-making": I,
}
HARD = (I, V)


def goal_group(goal: str) -> str:
    """Group id shared by every artefact (and repackaged copy) of one JBB behaviour."""
    return "jbb:" + " ".join(goal.lower().split())


def load(root: Path) -> list[Item]:
    base = require(root / "jailbreakbench_artifacts" / "attack-artifacts")
    items: list[Item] = []
    for path in sorted(base.glob("*/*/*.json")):
        if path.parts[-3] == "test-artifact":
            continue
        data = read_json(path)
        params = data.get("parameters", {})
        for j in data.get("jailbreaks", []):
            cat, goal, prompt = j.get("category"), j.get("goal") or "", j.get("prompt")
            if cat not in CATEGORY_MAP or not prompt:
                continue
            dim, sub = refine(goal, CATEGORY_MAP[cat], hard=HARD)
            resp = j.get("response")
            rl = None
            if resp:
                rl = "unsafe" if j.get("jailbroken") else "safe"
            items.append(Item(text=prompt, label="unsafe", source=NAME, family=FAMILY, license=LICENSE,
                              group_id=goal_group(goal), dimension=dim, subdimension=sub,
                              response=resp or None, response_label=rl, response_dimension=dim if rl == "unsafe" else "",
                              kind="pair", meta={"goal": goal, "method": params.get("method", path.parts[-3]),
                                                 "model": params.get("model", path.stem), "category": cat}))
    return items
