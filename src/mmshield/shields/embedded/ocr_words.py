"""Put back the spaces OCR drops: "APIPEBOMB" -> "a pipe bomb", using the text encoder's own vocabulary.

PP-OCR often reads all-caps or tightly set words as one run; the sentence encoder then sees
sub-word noise instead of the phrase. A long alphabetic token that is not a word is segmented into
the fewest vocabulary words (dynamic programming); tokens that cannot be segmented are kept.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

_TOKEN = re.compile(r"[A-Za-z]{7,}")
_SHORT_OK = {"a", "i"}
COMMON_SHORT = frozenset(
    "a i an am as at be by do go he if in is it me my no of on or so to up us we ad ok "
    "the and for how you are can not but all any its his her who why one two our out use "
    "get got has had was did see new now off own say she way may let put set try too few".split()
)
"""Short words a segmentation may use; any other piece of 3 letters or less rejects it (junk splits)."""


@lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """Whole words (no `##` pieces) of the all-MiniLM-L6-v2 WordPiece vocabulary."""
    from mmshield.shields.embedded.features.text_encoder import find_minilm_assets

    tok = json.loads(find_minilm_assets().tokenizer.read_text("utf-8"))
    words = tok["model"]["vocab"]
    return frozenset(w for w in words if w.isalpha() and w.islower() and (len(w) > 1 or w in _SHORT_OK))


def segment(token: str, vocab: frozenset[str]) -> list[str] | None:
    """Fewest-words segmentation of `token` (lower case) into vocabulary words, or None."""
    s = token.lower()
    n = len(s)
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for i in range(1, n + 1):
        for j in range(max(0, i - 20), i):
            prev = best[j]
            if prev is None:
                continue
            w = s[j:i]
            if w in vocab and (best[i] is None or len(prev) + 1 < len(best[i])):
                best[i] = [*prev, w]
    return best[n]


def respace(text: str, vocab: frozenset[str] | None = None) -> str:
    """Split run-together words in OCR text; everything else is left as it is."""
    if not text:
        return text
    vocab = vocab if vocab is not None else vocabulary()

    def fix(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok.lower() in vocab:
            return tok
        parts = segment(tok, vocab)
        if parts is None or any(len(p) <= 3 and p not in COMMON_SHORT for p in parts):
            return tok
        return " ".join(parts)

    return _TOKEN.sub(fix, text)
