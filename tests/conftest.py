"""Shared fixtures: the bundled example set, a CLI runner, and a keyword test backend (tests only)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mmshield.dialogue import Dialogue
from mmshield.errors import BackendError
from mmshield.policy import Policy
from mmshield.shields import BaseShield, register_backend
from mmshield.verdict import UNSAFE, Evidence, RoleVerdict, Verdict

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

KEYWORDS: dict[str, tuple[str, ...]] = {
    "Violence & Harm": ("panic", "crowd crush on purpose"),
    "Hate & Harassment": ("mocking", "useless burdens"),
    "Illegal Activities": ("pick this lock", "pipe bomb", "do what the image says"),
    "Self-Harm & Suicide": ("better off without",),
    "Deception & Misinformation": ("microchips",),
    "Privacy Violation": ("who lives", "phone number"),
    "Malicious Disruption": ("password", "phishing"),
}
FAIL_MARKER = "TRIGGER-BACKEND-FAILURE"


class KeywordShield(BaseShield):
    """A deterministic test backend: a side is Unsafe for a dimension in force when its text has one of
    that dimension's keywords (custom dimensions: any word of 5+ letters from the definition).
    It decodes every image, and raises BackendError on a marker text. For tests only."""

    name = "keyword"
    instances: list[KeywordShield] = []

    def __init__(self, **options: object) -> None:
        self.options = dict(options)
        self.calls: list[str] = []
        KeywordShield.instances.append(self)

    def moderate(self, dialogue: Dialogue, policy: Policy | None = None) -> Verdict:
        policy = policy or Policy.default()
        self.calls.append(dialogue.id)
        for im in dialogue.images:
            im.load()
        if any(FAIL_MARKER in t.content for t in dialogue.turns):
            raise BackendError(f"backend failure requested by record {dialogue.id}")
        sides = {}
        for role in ("user", "assistant"):
            if not dialogue.has_role(role):
                sides[role] = RoleVerdict.absent()
                continue
            scores: dict[str, float] = {}
            evidence: list[Evidence] = []
            for dim in policy.dimensions:
                words = KEYWORDS.get(dim.name, ()) if not dim.is_custom else tuple(
                    w.lower() for w in dim.definition.split() if len(w) >= 5)
                hits = [i for i, t in enumerate(dialogue.turns)
                        if t.role == role and any(w in t.content.lower() for w in words)]
                scores[dim.name] = 0.9 if hits else 0.05
                if hits and not evidence:
                    evidence = [Evidence(turn=i, role=role, weight=0.9, text=dialogue.turns[i].content[:80]) for i in hits]
            best = max(scores, key=lambda k: scores[k])
            if scores[best] >= policy.threshold(best):
                sides[role] = RoleVerdict(UNSAFE, best, f"keyword of {best} in turn(s) {[e.turn for e in evidence]}",
                                          scores=scores, evidence=evidence)
            else:
                sides[role] = RoleVerdict.safe("no keyword of a dimension in force", scores)
        return Verdict(user=sides["user"], assistant=sides["assistant"], backend=self.name, id=dialogue.id,
                       policy=policy.to_list())


register_backend("keyword", KeywordShield)


@pytest.fixture
def keyword_backend() -> type[KeywordShield]:
    KeywordShield.instances.clear()
    return KeywordShield


@pytest.fixture
def examples_copy(tmp_path: Path) -> Path:
    """A writable copy of examples/ (JSONL files and images)."""
    dst = tmp_path / "examples"
    shutil.copytree(EXAMPLES, dst, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return dst



@pytest.fixture
def example_build(tmp_path: Path) -> Path:
    """A tiny MMDS build for training tests: the bundled examples as its train, dev and test splits, images beside."""
    build = tmp_path / "build"
    build.mkdir()
    for split in ("train", "dev", "test"):
        shutil.copy(EXAMPLES / "mmds_examples.jsonl", build / f"{split}.jsonl")
    shutil.copytree(EXAMPLES / "images", build / "images")
    return build

@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run `mmshield ARGS...` in this process; returns (exit status, stdout, stderr)."""
    from mmshield.cli import main

    def _run(*argv: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["mmshield", *argv])
        capsys.readouterr()
        rc = main(list(argv))
        out, err = capsys.readouterr()
        return rc, out, err

    return _run


def _labels(ur: str | None, ud: str | None, ar: str | None, ad: str | None) -> dict[str, object]:
    return {"user_rating": ur, "assistant_rating": ar, "user_dimension": ud, "assistant_dimension": ad,
            "user_rationale": None if ur is None else "r", "assistant_rationale": None if ar is None else "r"}


NA = "NA: None applying"
BAD_IDS = ["badrole", "noimg", "corrupt", "big", "empty"]
"""Ids (besides the broken-JSON and invalid-UTF-8 lines) of the records in `bad_input` that cannot be moderated."""


@pytest.fixture
def bad_input(tmp_path: Path) -> Path:
    """A JSONL file mixing good records with every kind of bad input, images beside it.

    Line order: 1 good-1, 2 broken JSON, 3 badrole, 4 noimg, 5 corrupt, 6 big, 7 empty, 8 invalid UTF-8,
    9 badlabels, 10 nullside, 11 good-2, 12 fails-in-backend.
    """
    import json

    from PIL import Image

    img = tmp_path / "images"
    img.mkdir()
    shutil.copy(EXAMPLES / "images" / "cat.png", img / "cat.png")
    (img / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50)
    Image.new("1", (7000, 6000)).save(img / "big.png")  # 42 Mpx > the 40 Mpx default limit, a few KB on disk
    ok = _labels("Safe", NA, "Safe", NA)

    def u(text: str, *imgs: str) -> dict[str, object]:
        return {"role": "user", "content": text, "image": [f"images/{i}" for i in imgs]}

    def a(text: str) -> dict[str, object]:
        return {"role": "assistant", "content": text, "image": []}

    rows: list[bytes] = []
    add = lambda obj: rows.append(json.dumps(obj).encode())  # noqa: E731
    add({"id": "good-1", "conversations": [u("what is this?", "cat.png"), a("a cat")], **ok})
    rows.append(b'{"id": "broken", "conversations": [')
    add({"id": "badrole", "conversations": [u("hi"), {"role": "robot", "content": "beep"}, {"role": "alien", "content": "x"}],
         **_labels("Safe", NA, None, None)})
    add({"id": "noimg", "conversations": [u("see", "nope.png"), a("ok")], **ok})
    add({"id": "corrupt", "conversations": [u("see", "corrupt.png"), a("ok")], **ok})
    add({"id": "big", "conversations": [u("see", "big.png"), a("ok")], **ok})
    add({"id": "empty", "conversations": [], **_labels(None, None, None, None)})
    rows.append('{"id": "latin", "conversations": [{"role": "user", "content": "caf\u00e9"}]}'.encode("latin-1"))
    add({"id": "badlabels", "conversations": [u("hello"), a("hi")], "usage_policy": ["Illegal Activities", "Bogus"],
         **_labels("unsafe", NA, "Unsafe", NA)})
    add({"id": "nullside", "conversations": [u("where does she live?"), a("no")], "usage_policy": ["Illegal Activities"],
         **_labels("Unsafe", "Privacy Violation", None, None)})
    add({"id": "good-2", "conversations": [u("how long to boil an egg?"), a("9 minutes")], **ok})
    add({"id": "fails-in-backend", "conversations": [u(f"please {FAIL_MARKER}"), a("ok")], **ok})
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(rows) + b"\n")
    return path


def load_tiny_llava():
    """The tiny LLaVA-OneVision fixture module (tests/fixtures/llava/tiny_llava.py), loaded by path."""
    import importlib.util

    path = Path(__file__).parent / "fixtures" / "llava" / "tiny_llava.py"
    spec = importlib.util.spec_from_file_location("tiny_llava", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
