"""The generated dataset card (Markdown) and headline statistics of a built dataset."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from mmshield.taxonomy import DIMENSION_NAMES

Record = dict[str, Any]


def rounds(rec: Record) -> int:
    return max(sum(1 for t in rec["conversations"] if t["role"] == "user"),
               sum(1 for t in rec["conversations"] if t["role"] == "assistant"))


def stats(records: list[Record]) -> dict[str, Any]:
    """Headline numbers: totals, shares, per-dimension user-Unsafe counts."""
    n = len(records)
    u_unsafe = sum(1 for r in records if r.get("user_rating") == "Unsafe")
    a_unsafe = sum(1 for r in records if r.get("assistant_rating") == "Unsafe")
    with_img = sum(1 for r in records if any(t.get("image") for t in r["conversations"]))
    per_dim = Counter(r["user_dimension"] for r in records if r.get("user_rating") == "Unsafe")
    mt = sum(1 for r in records if rounds(r) > 1)
    return {
        "dialogues": n,
        "user_unsafe": u_unsafe,
        "user_unsafe_share": round(u_unsafe / n, 4) if n else 0.0,
        "assistant_unsafe": a_unsafe,
        "with_images": with_img,
        "with_images_share": round(with_img / n, 4) if n else 0.0,
        "images": sum(len(t.get("image") or []) for r in records for t in r["conversations"]),
        "multi_turn": mt,
        "user_unsafe_per_dimension": {d: per_dim.get(d, 0) for d in DIMENSION_NAMES},
        "unsafe_user_safe_assistant": sum(1 for r in records if r.get("user_rating") == "Unsafe" and r.get("assistant_rating") == "Safe"),
        "safe_user_unsafe_assistant": sum(1 for r in records if r.get("user_rating") == "Safe" and r.get("assistant_rating") == "Unsafe"),
    }


def _table(title: str, counter: Counter, total: int | None = None, head: str = "value") -> str:
    lines = [f"### {title}", "", f"| {head} | count |" + (" share |" if total else ""), "|---|---:|" + ("---:|" if total else "")]
    for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        share = f" {100 * v / total:.1f}% |" if total else ""
        lines.append(f"| {k if k not in (None, '') else '(none)'} | {v} |{share}")
    return "\n".join(lines) + "\n"


def render(records: list[Record], manifest: dict[str, Any], examples: list[Record]) -> str:
    """The dataset card."""
    st = stats(records)
    n = len(records)
    by_split = Counter(r["split"] for r in records)
    parts = [
        "# MMDS-open: dataset card", "",
        "A multimodal, multi-turn safety dataset in the MMDS format (SPEC section 4), built by `mmshield data build` "
        "from the public sources in ../shared/data. Labels, rationales and risk annotations are generated from how "
        "each dialogue was constructed (which source item, which pattern, which turns and images carry the risk), "
        "not written by annotators.", "",
        f"- Built: {manifest.get('built_at', '')}; seed {manifest.get('seed')}; build time {manifest.get('build_seconds', 0):.0f} s",
        f"- Sources: {', '.join(manifest.get('sources', []))}",
        ("- Licences: CC BY-NC and unknown-licence items excluded" + (" (unknown kept)" if manifest.get("keep_unknown_license") else "")
         if manifest.get("exclude_noncommercial") else "- Licences: all kept (non-commercial and unknown-licence items included; see the licence table)"),
        "",
        "## Headline numbers", "",
        f"- Dialogues: **{n}** (train {by_split.get('train', 0)}, dev {by_split.get('dev', 0)}, test {by_split.get('test', 0)})",
        f"- User-Unsafe: **{st['user_unsafe']}** ({100 * st['user_unsafe_share']:.1f}%); assistant-Unsafe: {st['assistant_unsafe']}",
        f"- Unsafe user + Safe assistant: {st['unsafe_user_safe_assistant']}; Safe user + Unsafe assistant: {st['safe_user_unsafe_assistant']}",
        f"- Dialogues with images: **{st['with_images']}** ({100 * st['with_images_share']:.1f}%); images referenced: {st['images']}",
        f"- Multi-turn (2+ rounds): {st['multi_turn']}",
        "- User-Unsafe per dimension: " + ", ".join(f"{d} {c}" for d, c in st["user_unsafe_per_dimension"].items()),
        "",
        "## Counts", "",
    ]
    for split in ("train", "dev", "test", None):
        recs = [r for r in records if split is None or r["split"] == split]
        if not recs:
            continue
        parts.append(f"## {'All splits' if split is None else 'Split: ' + split} ({len(recs)} dialogues)\n")
        parts.append(_table("Data type", Counter(r["data_type"] for r in recs), len(recs)))
        parts.append(_table("User rating", Counter(r.get("user_rating") for r in recs), len(recs)))
        parts.append(_table("Assistant rating", Counter(r.get("assistant_rating") for r in recs), len(recs)))
        if split is None:
            parts.append(_table("User dimension (Unsafe)", Counter(r["user_dimension"] for r in recs if r.get("user_rating") == "Unsafe")))
            parts.append(_table("Assistant dimension (Unsafe)", Counter(r["assistant_dimension"] for r in recs if r.get("assistant_rating") == "Unsafe")))
            parts.append(_table("Subdimension (Unsafe dialogues)", Counter(r.get("subdimension") or "(unknown)" for r in recs if r.get("dimension"))))
            parts.append(_table("Rounds (user turns)", Counter(rounds(r) for r in recs), len(recs), "rounds"))
            parts.append(_table("Rounds of user-Unsafe dialogues", Counter(rounds(r) for r in recs if r.get("user_rating") == "Unsafe"), None, "rounds"))
            parts.append(_table("Rounds of user-Safe dialogues", Counter(rounds(r) for r in recs if r.get("user_rating") == "Safe"), None, "rounds"))
            parts.append(_table("Images per dialogue", Counter(sum(len(t.get("image") or []) for t in r["conversations"]) for r in recs), len(recs), "images"))
            parts.append(_table("Pattern", Counter(r["pattern"] for r in recs), len(recs)))
            parts.append(_table("Augmentation", Counter(r.get("augmentation") for r in recs if r["data_type"] == "augmentation")))
            parts.append(_table("Strategy / construction", Counter(r.get("strategy") or "-" for r in recs if r["data_type"] == "default")))
            parts.append(_table("Source family", Counter(r["source_family"] for r in recs), len(recs), "family"))
            parts.append(_table("Source (a dialogue may use several)", Counter(s for r in recs for s in r["source"]), None, "source"))
            parts.append(_table("Licence (a dialogue may carry several)", Counter(lic for r in recs for lic in r["licenses"]), None, "licence"))
            parts.append(_table("Language", Counter(r.get("lang", "en") for r in recs), len(recs), "lang"))
    parts += ["## Examples", ""]
    for ex in examples:
        short = {k: ex[k] for k in ("id", "pattern", "source_family", "user_rating", "assistant_rating", "user_dimension",
                                     "assistant_dimension", "user_rationale", "assistant_rationale", "usage_policy", "risk")}
        short["conversations"] = [{"role": t["role"], "content": t["content"][:300], "image": t.get("image", [])}
                                  for t in ex["conversations"]]
        parts += ["```json", json.dumps(short, ensure_ascii=False, indent=1), "```", ""]
    parts += [
        "## Construction", "",
        "- **single_turn**: an unsafe request from a source (sometimes rephrased: past tense, hypothetical, fiction, "
        "third person, research framing; it stays Unsafe because it seeks the same content), optionally after benign small talk.",
        "- **concealed_intent**: CoSafe and SafeDialBench native multi-turn attacks (final user turn), and single-turn "
        "intents decomposed by generators for gradual guidance, purpose inversion and role play (risk in the last user turn).",
        "- **accumulation**: query decomposition: sub-questions that each look minor; `risk.user_turns` lists all of them.",
        "- **cross_modal**: the key phrase or the whole request moved into an image (text card, empty numbered list, "
        "split across 2-3 images, caption over a ConvBench photo); ConvBench photos with unsafe follow-up text; "
        "VLSBench and SIUO situations rendered as text cards (typographic stand-ins for the missing photos).",
        "- **hard_negative**: PHTest, CoCoNot contrast/pref and benign categories, JBB benign behaviours, GuardReasoner and "
        "BeaverTails safe prompts, VLGuard safe instructions; the same multi-turn and image templates carrying benign "
        "requests; same-topic contrast questions (history, prevention, law) built from each unsafe intent; benign "
        "typographic images (menus, signs, notes, posters); spam-detection questions.",
        "- **benign_chat**: Topical-Chat windows of 1-10 rounds, MT-Bench, clearly benign hh-rlhf dialogues, ConvBench "
        "3-turn visual chats, Alpaca prompts, SMS ham.",
        "- **Assistant side** by compliance: refusals (varied, partial with safe alternatives, curly apostrophes), "
        "safety education = Safe; compliant step-by-step or artefact replies to harmful requests = Unsafe (about half of "
        "them content-bearing: long, formatted, sometimes disclaimed answers whose steps are other harmful requests of the "
        "same source family and dimension, with helpful answers to benign requests built the same way from benign ones); JailbreakBench "
        "responses labelled by `jailbroken`; DiaSafety responses labelled by the source (benign context + unsafe reply exists).",
        "- **Augmentations** (SPEC section 4): policy_subset, safe_rewrite, drop_side, remove_dimension; "
        "`usage_policy` always lists the dimensions in force.",
        "- **Splits**: group-disjoint (`group_id`, with identical prompts across sources merged); `families.json` maps each "
        "source family to its record ids for leave-one-family-out evaluation.",
        "",
        "## Known limitations", "",
        "- Labels and rationales are generated from construction, not human-verified; source categories are mapped by "
        "keyword rules, which mislabel some subdimensions (subdimension is empty when no rule fired).",
        "- Generated compliant replies carry no real operational detail: they restate the harmful request, or list other "
        "harmful requests of the same family as steps; real compliant replies come only from JailbreakBench artifacts and DiaSafety, "
        "and, when the build is given `--llm-replies`, from SmolLM2-135M-Instruct (pattern `llm_reply` and benign "
        "`hard_negative` dialogues with strategy `llm_reply`): a very small model started on a compliant opening, whose "
        "answers are fluent and on topic but often wrong or nonsensical; every answer to a harmful request is labelled "
        "Unsafe (refusals are dropped), including the few that drift off topic.",
        "- VLGuard, VLSBench and SIUO photos are not available: their text is used, and situations are rendered as text "
        "cards. Real photos come only from ConvBench (benign VisIT-Bench images), so unsafe *photographic* content "
        "(weapons, nudity, gore) is absent; image risk is typographic.",
        "- CoSafe final turns are sometimes only weakly harmful; SafeDialBench dialogues are Chinese and their bot turns "
        "are unlabelled (assistant side null).",
        "- DiaSafety's toxic-context categories (Offending User, Toxicity Agreement, Biased Opinion) label only the reply, "
        "so a default build leaves them out; `--toxic-replies N` adds N Unsafe and N Safe of them (strategy `quoted_reply`), "
        "the toxic message quoted by a user who asks for a reply (user side Safe), the reply keeping DiaSafety's crowd label, "
        "which is noisy for short social-media replies.",
        "- Licences marked `unknown` are sources with no licence stated; `--exclude-noncommercial` drops CC BY-NC and "
        "unknown-licence items unless `--keep-unknown-license` is given.",
    ]
    return "\n".join(parts) + "\n"
