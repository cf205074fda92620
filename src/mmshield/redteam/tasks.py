"""MMRT tasks: a malicious intent, its dimension, key phrases, and a pool of images per task.

Task line format (JSON Lines), SPEC section 6 plus the image pool:
`{id, dimension, subdimension, malicious_intent, keywords: [{text, image_id, caption}],
  images: {image_id: path relative to the tasks file}, source, license}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mmshield.errors import InputError
from mmshield.taxonomy import DIMENSION_NAMES, find_dimension


@dataclass
class Keyword:
    """One key phrase of the intent, with the pool image that shows it."""

    text: str
    image_id: str = ""
    caption: str = ""


@dataclass
class Task:
    """One red-teaming task. `images` maps pool image ids to paths (relative to the tasks file)."""

    id: str
    dimension: str
    subdimension: str
    malicious_intent: str
    keywords: list[Keyword] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    """Captions of pool images that belong to no keyword (e.g. numbered empty lists)."""
    source: str = ""
    license: str = ""
    base_dir: Path | None = None
    """Folder that image paths are relative to (not serialised)."""

    def image_path(self, image_id: str) -> Path:
        """Absolute path of a pool image."""
        if image_id not in self.images:
            raise KeyError(f"task {self.id}: unknown image id {image_id!r}")
        p = Path(self.images[image_id])
        return p if p.is_absolute() or self.base_dir is None else self.base_dir / p

    def caption(self, image_id: str) -> str:
        for k in self.keywords:
            if k.image_id == image_id:
                return k.caption
        return self.captions.get(image_id, "")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("base_dir")
        return d


def task_from_dict(obj: Any, *, base_dir: Path | None = None, record: str | int | None = None) -> Task:
    """Validate and parse one task object; errors name the record and the field."""
    if not isinstance(obj, dict):
        raise InputError("a task must be a JSON object", record=record)
    rid = obj.get("id", record)
    for key in ("id", "dimension", "malicious_intent"):
        if not isinstance(obj.get(key), str) or not obj.get(key):
            raise InputError("missing or not a non-empty string", record=rid, field=key)
    try:
        dim = find_dimension(obj["dimension"]).name
    except KeyError as exc:
        raise InputError(str(exc.args[0]), record=rid, field="dimension") from None
    kws: list[Keyword] = []
    for i, k in enumerate(obj.get("keywords") or []):
        if isinstance(k, str):
            kws.append(Keyword(text=k))
        elif isinstance(k, dict) and isinstance(k.get("text"), str):
            kws.append(Keyword(text=k["text"], image_id=str(k.get("image_id") or ""), caption=str(k.get("caption") or "")))
        else:
            raise InputError("keyword must be a string or {text, image_id, caption}", record=rid, field=f"keywords[{i}]")
    images = obj.get("images") or {}
    if not isinstance(images, dict):
        raise InputError("must be an object {image_id: path}", record=rid, field="images")
    for k in kws:
        if k.image_id and k.image_id not in images:
            raise InputError(f"image id {k.image_id!r} not in the task's images", record=rid, field="keywords")
    return Task(id=obj["id"], dimension=dim, subdimension=str(obj.get("subdimension") or ""),
                malicious_intent=obj["malicious_intent"], keywords=kws, images={str(a): str(b) for a, b in images.items()},
                captions={str(a): str(b) for a, b in (obj.get("captions") or {}).items()},
                source=str(obj.get("source") or ""), license=str(obj.get("license") or ""), base_dir=base_dir)


def read_tasks(path: Path) -> tuple[list[Task], list[InputError]]:
    """Read a tasks JSONL file; bad lines are returned as errors and the rest still load."""
    path = Path(path)
    tasks: list[Task] = []
    errors: list[InputError] = []
    seen: set[str] = set()
    for no, line in enumerate(path.read_text("utf-8").splitlines()):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            t = task_from_dict(obj, base_dir=path.parent.resolve(), record=f"line {no + 1}")
            if t.id in seen:
                raise InputError("duplicate task id", record=t.id, field="id")
            seen.add(t.id)
            tasks.append(t)
        except json.JSONDecodeError as exc:
            errors.append(InputError(f"not valid JSON: {exc.msg}", record=f"line {no + 1}"))
        except InputError as exc:
            errors.append(exc)
    return tasks, errors


# --------------------------------------------------------------------------- keyword extraction

_STOP = frozenset("""a an the and or but of to in on at by for with from into onto about over under than then
how what which who whom whose why when where can could would should will shall may might must do does did
done doing be been being is are was were am i me my we our you your he she it its they them their this that
these those there here some any all each every most more much many few such without within via using use
used make made making get getting give provide write create list explain describe detailed detail step steps
instructions instruction way ways method methods best effective effectively easy easily someone something
also just only very so as if not no yes own other others new good while during after before up out
tell show help need want like know let s t""".split())  # noqa: SIM905

_VERBISH = re.compile(r"(ing|ed|ly)$")


def extract_keywords(intent: str, max_keywords: int = 3) -> list[str]:
    """Key phrases of an intent: runs of content words (noun-phrase heuristic), longest and rarest first.

    A phrase is a maximal run of non-stopword tokens (1-3 words, no verb-like tails at the ends).
    """
    tokens = re.findall(r"[A-Za-z][A-Za-z0-9'\-]*", intent)
    runs: list[list[str]] = []
    cur: list[str] = []
    for tok in tokens:
        low = tok.lower().strip("'")
        if low in _STOP or len(low) < 3:
            if cur:
                runs.append(cur)
            cur = []
        else:
            cur.append(tok)
    if cur:
        runs.append(cur)
    phrases: list[str] = []
    for run in runs:
        while run and _VERBISH.search(run[0].lower()) and len(run) > 1:
            run = run[1:]
        for i in range(0, len(run), 3):
            chunk = run[i:i + 3]
            if chunk:
                phrases.append(" ".join(chunk))
    seen: set[str] = set()
    uniq = [p for p in phrases if not (p.lower() in seen or seen.add(p.lower()))]
    uniq.sort(key=lambda p: (-len(p.split()), -len(p)))
    return uniq[:max_keywords] or [intent.split()[0]]


# --------------------------------------------------------------------------- sources

def default_data_root() -> Path:
    """MMSHIELD_DATA_ROOT, else ../shared/data next to the repository (same rule as `mmshield data build`)."""
    import os

    env = os.environ.get("MMSHIELD_DATA_ROOT")
    return Path(env) if env else Path(__file__).resolve().parents[3].parent / "shared" / "data"


DATA_ROOT = default_data_root()

_CATQA = {
    "Illegal Activity": ("Illegal Activities", {"Drug:": "Drug trafficking", "Weapon:": "Weapon fabrication",
                                                "Human Trafficking:": "Human trafficking", "Cybercrime:": "Hacking/cybercrime",
                                                "Theft and Robbery:": "Burglary"}),
    "Child Abuse": ("Violence & Harm", {"Content Sexual exploitation": ("Sexual Content", "Child sexual exploitation & grooming"),
                                        "Online predation": ("Sexual Content", "Child sexual exploitation & grooming"),
                                        "Physical abuse": "Physical assault", "Emotional and psychological abuse": "Torture & brutality",
                                        "Neglect": "Physical assault"}),
    "Hate/Harass/Violence": ("Hate & Harassment", {"Racial or ethnic hate": "Racial hate", "Religious intolerance": "Religious hate",
                                                   "Gender-based violence": "Gender hate", "Cyberbullying": "Cyberbullying",
                                                   "Terrorism and extremism": ("Violence & Harm", "Terrorist violence")}),
    "Malware Viruses": ("Malicious Disruption", {"Malicious software designed to spread and damage computers": "Malware distribution",
                                                 "Trojans": "Malware distribution", "Spyware": "Malware distribution",
                                                 "Ransomware": "Malware distribution", "Adware": "Spam"}),
    "Physical Harm": ("Violence & Harm", {"Self-harm": ("Self-Harm & Suicide", "Self-harm methods"),
                                          "Assault and battery": "Physical assault", "Hazardous material handling": "Dangerous stunts",
                                          "Unsafe practices": "Dangerous stunts", "Weapon making": "Weapon violence"}),
    "Economic Harm": ("Illegal Activities", {"Financial fraud": "Fraud & scam", "Intellectual property theft": "Fraud & scam",
                                             "Market manipulation": ("Deception & Misinformation", "Financial scams"),
                                             "Employment scams": "Fraud & scam", "Investment scams": "Fraud & scam"}),
    "Fraud/Deception": ("Deception & Misinformation", {"Identity theft": ("Illegal Activities", "Identity theft"),
                                                       "Phishing": ("Malicious Disruption", "Phishing"),
                                                       "False advertising": "Clickbait", "Scamming": "Financial scams",
                                                       "Counterfeiting": ("Illegal Activities", "Fraud & scam")}),
    "Adult Content": ("Sexual Content", {"Pornography": "Nudity & pornography", "Erotic text": "Sexual innuendo",
                                         "Nude imagery": "Intimate imagery", "Sexually explicit dialogue": "Sexual innuendo",
                                         "Adult-themed humor": "Sexual innuendo"}),
    "Political Campaigning": ("Deception & Misinformation", {"Political misinformation": "Political rumors",
                                                             "Election advertising": "Political rumors"}),
    "Privacy Violation Activity": ("Privacy Violation", {"Data theft": "Breach of confidentiality & disclosure",
                                                         "Surveillance": "Surveillance & snooping", "Doxxing": "Aggregation & identification",
                                                         "Deepfake creation": ("Deception & Misinformation", "Deepfakes"),
                                                         "Tracking and location monitoring": "Surveillance & snooping"}),
}
"""CatQA category -> (default dimension, {subcategory: subdimension or (dimension, subdimension)}); categories or
subcategories not listed (Tailored Financial Advice, lobbying, activism, partisan commentary) are borderline and skipped."""

_HARMBENCH = {"chemical_biological": ("Violence & Harm", "Weapon violence"), "illegal": ("Illegal Activities", ""),
              "misinformation_disinformation": ("Deception & Misinformation", "Disinformation"),
              "harassment_bullying": ("Hate & Harassment", "Threat & intimidation"),
              "cybercrime_intrusion": ("Malicious Disruption", "Malware distribution"), "harmful": ("Violence & Harm", "")}

_JBB = {"Harassment/Discrimination": ("Hate & Harassment", ""), "Malware/Hacking": ("Malicious Disruption", "Malware distribution"),
        "Physical harm": ("Violence & Harm", ""), "Economic harm": ("Illegal Activities", "Fraud & scam"),
        "Fraud/Deception": ("Deception & Misinformation", "Financial scams"), "Disinformation": ("Deception & Misinformation", "Disinformation"),
        "Sexual/Adult content": ("Sexual Content", ""), "Privacy": ("Privacy Violation", "")}

SOURCES = ("catqa", "harmbench", "jbb")
LICENSES = {"catqa": "Apache-2.0 (declare-lab/red-instruct)", "harmbench": "none stated (renqibing/ActorAttack)",
            "jbb": "MIT (JailbreakBench/artifacts)"}


@dataclass
class Intent:
    """A harmful intent read from a source, before keywords and images."""

    id: str
    dimension: str
    subdimension: str
    text: str
    source: str


def _catqa(root: Path) -> Iterator[Intent]:
    data = json.loads((root / "harmfulqa_catqa/harmful_questions/catqa_english.json").read_text("utf-8"))
    for cat, subs in data.items():
        if cat not in _CATQA:
            continue
        dim, submap = _CATQA[cat]
        for sub, questions in subs.items():
            if sub not in submap:
                continue
            m = submap[sub]
            d, s = m if isinstance(m, tuple) else (dim, m)
            for i, q in enumerate(questions):
                slug = re.sub(r"[^a-z0-9]+", "-", sub.lower()).strip("-")
                yield Intent(f"catqa-{slug}-{i}", d, s, q.strip(), "catqa")


def _harmbench(root: Path) -> Iterator[Intent]:
    import csv

    with open(root / "actorattack/data/harmbench.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            cat = row.get("SemanticCategory", "")
            if cat not in _HARMBENCH or row.get("ContextString"):
                continue
            d, s = _HARMBENCH[cat]
            yield Intent(f"harmbench-{row['BehaviorID']}", d, s, row["Goal"].strip(), "harmbench")


def _jbb(root: Path) -> Iterator[Intent]:
    path = root / "jailbreakbench_artifacts/attack-artifacts/PAIR/black_box/vicuna-13b-v1.5.json"
    data = json.loads(path.read_text("utf-8"))
    for jb in data["jailbreaks"]:
        if jb["category"] not in _JBB:
            continue
        d, s = _JBB[jb["category"]]
        yield Intent(f"jbb-{jb['index']}", d, s, jb["goal"].strip(), "jbb")


_READERS = {"catqa": _catqa, "harmbench": _harmbench, "jbb": _jbb}


def iter_intents(sources: Iterable[str] = SOURCES, root: Path = DATA_ROOT) -> Iterator[Intent]:
    """Harmful intents from the named sources, each mapped onto one of the 8 dimensions."""
    for s in sources:
        if s not in _READERS:
            raise ValueError(f"unknown source {s!r}; choose from {', '.join(SOURCES)}")
        for it in _READERS[s](root):
            assert it.dimension in DIMENSION_NAMES, it
            yield it


def balanced_selection(intents: list[Intent], limit: int | None, seed: int = 0) -> list[Intent]:
    """Up to `limit` intents, round-robin over dimensions so that every dimension is represented."""
    import random

    if limit is None or limit >= len(intents):
        return intents
    rng = random.Random(seed)
    by_dim: dict[str, list[Intent]] = {}
    for it in intents:
        by_dim.setdefault(it.dimension, []).append(it)
    for v in by_dim.values():
        rng.shuffle(v)
    out: list[Intent] = []
    while len(out) < limit and any(by_dim.values()):
        for dim in sorted(by_dim):
            if by_dim[dim] and len(out) < limit:
                out.append(by_dim[dim].pop())
    return out


def build_tasks(out: Path, *, sources: Iterable[str] = SOURCES, limit: int | None = None, seed: int = 0,
                root: Path = DATA_ROOT, generator: Any = None, max_keywords: int = 3,
                extra_images: int = 2, progress: bool = False) -> list[Task]:
    """Create tasks from the harmful intents of `sources`; render the image pool under `<out>.pool/`.

    Each keyword gets a typographic image (the offline stand-in for a retrieved photo); `extra_images`
    distractor-free variants (numbered empty lists titled with a key phrase) are added to the pool.
    Writes `out` atomically and returns the tasks.
    """
    import random

    from mmshield.dialogue import write_jsonl_atomic
    from mmshield.redteam.imagegen import TypographyGenerator

    gen = generator or TypographyGenerator()
    out = Path(out)
    pool = out.parent / f"{out.stem}.pool"
    intents = balanced_selection(list(iter_intents(sources, root)), limit, seed)
    tasks: list[Task] = []
    if progress:
        import sys

        from tqdm import tqdm

        intents = tqdm(intents, desc="tasks", unit="task", file=sys.stderr)
    for it in intents:
        rng = random.Random(f"{seed}:{it.id}")
        kws = extract_keywords(it.text, max_keywords)
        task = Task(id=it.id, dimension=it.dimension, subdimension=it.subdimension, malicious_intent=it.text,
                    source=it.source, license=LICENSES[it.source], base_dir=out.parent)
        for j, kw in enumerate(kws):
            iid = f"kw{j}"
            rel = f"{pool.name}/{it.id}/{iid}.png"
            gen.generate(kw, out.parent / rel, rng=rng, kind="card")
            task.images[iid] = rel
            task.keywords.append(Keyword(text=kw, image_id=iid, caption=f"an image showing the words \"{kw}\""))
        for j in range(min(extra_images, len(kws))):
            iid = f"list{j}"
            rel = f"{pool.name}/{it.id}/{iid}.png"
            gen.generate(kws[j], out.parent / rel, rng=rng, kind="list")
            task.images[iid] = rel
            task.captions[iid] = f"a numbered empty list titled \"{kws[j]}\""
        tasks.append(task)
    write_jsonl_atomic(out, (t.to_dict() for t in tasks))
    return tasks
