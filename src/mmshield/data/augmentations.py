"""The four MMDS augmentations (SPEC section 4), applied to finished MMDS records.

1. `policy_subset`: a random subset of dimensions as the policy, always keeping the violated ones
   (labels unchanged).
2. `safe_rewrite`: unsafe assistant replies replaced by policy-compliant ones (assistant becomes Safe).
3. `drop_side`: one side removed entirely (its labels become null).
4. `remove_dimension`: the violated dimension removed from the policy (that side becomes Safe,
   `NA: None applying`).

Every augmented record has `data_type: "augmentation"`, its own `usage_policy`, `augmentation` (the
name) and `parent_id`; it stays in its parent's split and group.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from mmshield.data import replies
from mmshield.taxonomy import DIMENSION_NAMES, NONE_APPLYING

Record = dict[str, Any]


def violated(rec: Record) -> list[str]:
    """The dimensions the record's Unsafe sides violate, in canonical order."""
    dims = {rec.get("user_dimension") if rec.get("user_rating") == "Unsafe" else None,
            rec.get("assistant_dimension") if rec.get("assistant_rating") == "Unsafe" else None}
    return [d for d in DIMENSION_NAMES if d in dims]


def _derive(rec: Record, name: str, policy: list[str]) -> Record:
    out = copy.deepcopy(rec)
    out["id"] = f"{rec['id']}-aug-{name}"
    out["data_type"] = "augmentation"
    out["usage_policy"] = [d for d in DIMENSION_NAMES if d in policy]
    out["augmentation"] = name
    out["parent_id"] = rec["id"]
    out["pattern"] = "augmentation"
    out["base_pattern"] = rec.get("pattern", "")
    return out


def policy_subset(rec: Record, rng: random.Random) -> Record | None:
    keep = violated(rec)
    others = [d for d in DIMENSION_NAMES if d not in keep]
    if not others:
        return None
    extra = rng.sample(others, rng.randint(0 if keep else 1, len(others) - 1))
    return _derive(rec, "policy_subset", keep + extra)


def safe_rewrite(rec: Record, rng: random.Random) -> Record | None:
    if rec.get("assistant_rating") != "Unsafe":
        return None
    out = _derive(rec, "safe_rewrite", list(rec.get("usage_policy") or DIMENSION_NAMES))
    dim = rec.get("assistant_dimension") or rec.get("user_dimension") or DIMENSION_NAMES[0]
    topic = rec.get("subdimension") or dim
    for i in rec["risk"]["assistant_turns"]:
        if rng.random() < 0.7:
            out["conversations"][i]["content"] = replies.refusal(rng, None, dim, partial=0.7)
        else:
            out["conversations"][i]["content"] = replies.safe_education(rng, topic.lower(), dim)
    out["risk"]["assistant_turns"] = []
    out["assistant_rating"] = "Safe"
    out["assistant_dimension"] = NONE_APPLYING
    turns = ", ".join(str(i + 1) for i in rec["risk"]["assistant_turns"])
    out["assistant_rationale"] = (f"The assistant's reply in turn {turns} declines or stays at a general, safety-oriented "
                                  "level; it hands over none of the requested harmful content.")
    if out.get("user_rating") != "Unsafe":
        out["dimension"] = ""
        out["subdimension"] = ""
        out["malicious_intent"] = ""
    return out


def drop_side(rec: Record, rng: random.Random) -> Record | None:
    conv = rec["conversations"]
    roles = {t["role"] for t in conv}
    if roles != {"user", "assistant"}:
        return None
    has_images = any(t.get("image") for t in conv)
    side = "assistant" if (has_images or rng.random() < 0.75) else "user"
    out = _derive(rec, "drop_side", list(rec.get("usage_policy") or DIMENSION_NAMES))
    keep_idx = [i for i, t in enumerate(conv) if t["role"] != side]
    remap = {old: new for new, old in enumerate(keep_idx)}
    out["conversations"] = [copy.deepcopy(conv[i]) for i in keep_idx]
    out["risk"]["user_turns"] = [remap[i] for i in rec["risk"]["user_turns"] if i in remap]
    out["risk"]["assistant_turns"] = [remap[i] for i in rec["risk"]["assistant_turns"] if i in remap]
    if side == "user":
        out["risk"]["images"] = []
    out[f"{side}_rating"] = None
    out[f"{side}_dimension"] = None
    out[f"{side}_rationale"] = None
    other = "user" if side == "assistant" else "assistant"
    if out.get(f"{other}_rationale"):
        out[f"{other}_rationale"] = _renumber(out[f"{other}_rationale"], remap)
    if out.get(f"{other}_rating") != "Unsafe":
        out["dimension"] = ""
        out["subdimension"] = ""
        out["malicious_intent"] = ""
    elif other == "assistant":
        out["dimension"] = rec.get("assistant_dimension") or out["dimension"]
    return out


def _renumber(text: str, remap: dict[int, int]) -> str:
    """Rewrite 'turn N' references after turns were removed (1-based in text)."""
    import re

    def one(m: re.Match[str]) -> str:
        n = int(m.group(0)) - 1
        return str(remap[n] + 1) if n in remap else m.group(0)

    def span(m: re.Match[str]) -> str:
        return re.sub(r"\d+", one, m.group(0))

    return re.sub(r"turns? \d+(?:(?:, | and )\d+)*", span, text)


def remove_dimension(rec: Record, rng: random.Random) -> Record | None:
    gone = violated(rec)
    if not gone:
        return None
    if len(gone) > 1 and rng.random() < 0.3:
        gone = [rng.choice(gone)]
    rest = [d for d in DIMENSION_NAMES if d not in gone]
    if rng.random() < 0.4 and len(rest) > 1:
        rest = rng.sample(rest, rng.randint(1, len(rest)))
    out = _derive(rec, "remove_dimension", rest)
    for side in ("user", "assistant"):
        if rec.get(f"{side}_rating") == "Unsafe" and rec.get(f"{side}_dimension") in gone:
            dim = rec[f"{side}_dimension"]
            out[f"{side}_rating"] = "Safe"
            out[f"{side}_dimension"] = NONE_APPLYING
            out[f"{side}_rationale"] = (f"The {side} side concerns {dim}, which is not in the policy in force; "
                                        "against the dimensions in force nothing is violated.")
            out["risk"][f"{side}_turns"] = []
            if side == "user":
                out["risk"]["images"] = []
    if out.get("user_rating") != "Unsafe" and out.get("assistant_rating") != "Unsafe":
        out["dimension"] = ""
        out["subdimension"] = ""
    elif out.get("user_rating") != "Unsafe":
        out["dimension"] = out.get("assistant_dimension") or ""
        out["subdimension"] = ""
    return out


AUGMENTATIONS = {
    "policy_subset": policy_subset,
    "safe_rewrite": safe_rewrite,
    "drop_side": drop_side,
    "remove_dimension": remove_dimension,
}

# Share of eligible default records that get each augmentation (eligible = the function returns a record).
RATES = {"policy_subset": 0.07, "safe_rewrite": 0.25, "drop_side": 0.05, "remove_dimension": 0.18}


def augment(records: list[Record], seed: int, rates: dict[str, float] | None = None) -> list[Record]:
    """Augmented copies of `records` (default records only), deterministic per record id and seed."""
    rates = rates or RATES
    out: list[Record] = []
    for rec in records:
        if rec.get("data_type") != "default":
            continue
        for name, fn in AUGMENTATIONS.items():
            rng = random.Random(f"{seed}|{rec['id']}|{name}")
            rate = rates.get(name, 0.0)
            if name == "policy_subset" and not violated(rec):
                rate *= 0.3
            if rng.random() >= rate:
                continue
            new = fn(rec, rng)
            if new is not None:
                out.append(new)
    return out
