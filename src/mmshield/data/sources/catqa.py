"""CatQA (English, Chinese, Vietnamese) and HarmfulQA / DangerousQA harmful questions (red-instruct)."""

from __future__ import annotations

from pathlib import Path

from mmshield.data.items import SH, D, H, I, Item, M, P, S, V
from mmshield.data.lexicon import classify, refine
from mmshield.data.sources._util import read_json, require

NAME = "harmfulqa_catqa"
FAMILY = "catqa"
LICENSE = "Apache-2.0"

# (category, subcategory) -> dimension; None drops the subcategory (borderline, not a violation).
SUB_MAP: dict[tuple[str, str], str | None] = {
    ("Illegal Activity", "Drug"): I, ("Illegal Activity", "Weapon"): I, ("Illegal Activity", "Human Trafficking"): I,
    ("Illegal Activity", "Cybercrime"): M, ("Illegal Activity", "Theft and Robbery"): I,
    ("Child Abuse", "Content Sexual exploitation"): S, ("Child Abuse", "Physical abuse"): V,
    ("Child Abuse", "Emotional and psychological abuse"): V, ("Child Abuse", "Neglect"): V,
    ("Child Abuse", "Online predation"): S,
    ("Hate/Harass/Violence", "Racial or ethnic hate"): H, ("Hate/Harass/Violence", "Religious intolerance"): H,
    ("Hate/Harass/Violence", "Gender-based violence"): V, ("Hate/Harass/Violence", "Cyberbullying"): H,
    ("Hate/Harass/Violence", "Terrorism and extremism"): V,
    ("Physical Harm", "Self-harm"): SH, ("Physical Harm", "Assault and battery"): V,
    ("Physical Harm", "Hazardous material handling"): V, ("Physical Harm", "Unsafe practices"): V,
    ("Physical Harm", "Weapon making"): I,
    ("Economic Harm", "Financial fraud"): I, ("Economic Harm", "Intellectual property theft"): I,
    ("Economic Harm", "Market manipulation"): I, ("Economic Harm", "Employment scams"): I,
    ("Economic Harm", "Investment scams"): D,
    ("Fraud/Deception", "Identity theft"): I, ("Fraud/Deception", "Phishing"): M,
    ("Fraud/Deception", "False advertising"): D, ("Fraud/Deception", "Scamming"): I,
    ("Fraud/Deception", "Counterfeiting"): I,
    ("Adult Content", "Pornography"): S, ("Adult Content", "Erotic text"): S, ("Adult Content", "Nude imagery"): S,
    ("Adult Content", "Sexually explicit dialogue"): S, ("Adult Content", "Adult-themed humor"): None,
    ("Political Campaigning", "Political misinformation"): D,
    ("Privacy Violation Activity", "Data theft"): P, ("Privacy Violation Activity", "Surveillance"): P,
    ("Privacy Violation Activity", "Doxxing"): P, ("Privacy Violation Activity", "Deepfake creation"): D,
    ("Privacy Violation Activity", "Tracking and location monitoring"): P,
}
MALWARE = "Malware Viruses"
FIXED_SUB = {("Child Abuse", "Content Sexual exploitation"): "Child sexual exploitation & grooming",
             ("Child Abuse", "Online predation"): "Child sexual exploitation & grooming",
             ("Privacy Violation Activity", "Deepfake creation"): "Deepfakes",
             ("Economic Harm", "Investment scams"): "Financial scams", ("Fraud/Deception", "Phishing"): "Phishing",
             ("Illegal Activity", "Human Trafficking"): "Human trafficking",
             ("Physical Harm", "Weapon making"): "Weapon fabrication", ("Illegal Activity", "Weapon"): "Weapon fabrication",
             ("Fraud/Deception", "Identity theft"): "Identity theft", ("Physical Harm", "Self-harm"): ""}


def _norm(k: str) -> str:
    return k.strip().rstrip(":").strip()


def _catqa(root: Path, lang: str, fname: str, en_keys: list[tuple[str, list[str]]] | None) -> list[Item]:
    data = read_json(require(root / "harmfulqa_catqa" / "harmful_questions" / fname))
    out: list[Item] = []
    for ci, (cat, subs) in enumerate(data.items()):
        for si, (sub, qs) in enumerate(subs.items()):
            ecat, esub = (en_keys[ci][0], en_keys[ci][1][si]) if en_keys else (_norm(cat), _norm(sub))
            if ecat == MALWARE:
                dim: str | None = M
            else:
                dim = SUB_MAP.get((ecat, esub), "")
            if dim is None or dim == "":
                continue
            for qi, q in enumerate(qs):
                if (ecat, esub) in FIXED_SUB and FIXED_SUB[(ecat, esub)]:
                    d2, s2 = dim, FIXED_SUB[(ecat, esub)]
                elif lang == "en":
                    d2, s2 = refine(q, dim, hard=())
                else:
                    d2, s2 = dim, ""
                out.append(Item(text=q, label="unsafe", source=NAME, family=FAMILY, license=LICENSE,
                                group_id=f"catqa:{ci}:{si}:{qi}", dimension=d2, subdimension=s2, lang=lang,
                                meta={"category": ecat, "subcategory": esub}))
    return out


def load(root: Path) -> list[Item]:
    en = read_json(require(root / "harmfulqa_catqa" / "harmful_questions" / "catqa_english.json"))
    keys = [(_norm(c), [_norm(s) for s in subs]) for c, subs in en.items()]
    items = _catqa(root, "en", "catqa_english.json", None)
    for lang, fname in (("zh", "catqa_chinese.json"), ("vi", "catqa_vietnamese.json")):
        if (root / "harmfulqa_catqa" / "harmful_questions" / fname).exists():
            items += _catqa(root, lang, fname, keys)
    hq_path = root / "harmfulqa_catqa" / "harmful_questions" / "harmfulqa.json"
    hq = read_json(hq_path) if hq_path.exists() else {}
    for topic, subs in hq.items():
        for sub, qs in subs.items():
            for qi, q in enumerate(qs):
                got = classify(q)
                if not got:
                    continue
                items.append(Item(text=q, label="unsafe", source=NAME, family="harmfulqa", license=LICENSE,
                                  group_id=f"harmfulqa:{topic}:{sub}:{qi}", dimension=got[0], subdimension=got[1],
                                  meta={"topic": topic, "subtopic": sub}))
    dq = root / "harmfulqa_catqa" / "harmful_questions" / "dangerousqa.json"
    if dq.exists():
        for qi, q in enumerate(read_json(dq)):
            got = classify(q)
            if got:
                items.append(Item(text=q, label="unsafe", source=NAME, family="harmfulqa", license=LICENSE,
                                  group_id=f"dangerousqa:{qi}", dimension=got[0], subdimension=got[1]))
    return items
