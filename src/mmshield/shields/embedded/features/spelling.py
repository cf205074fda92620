"""Ordinary typos read as the words they stand for ("instrctions for a pipe bmob" -> "instructions for a pipe
bomb").

MiniLM cuts a misspelled word into word pieces that say little ("b ##mo ##b"), so a request with a few slips
reads further from its meaning than a reader would. `SpellingCorrector.corrected` replaces each word that no
word list knows by the likeliest known word one edit away (two letters swapped, one dropped, one added, one
replaced), weighted by how common the word is and how common the slip is (a swap or a keyboard neighbour more
than an arbitrary letter). A letter replaced or added is a correction only for a word that cannot be English as
it stands (it holds a letter triple, word edges included, that fewer than `RARE_TRIPLE` listed words have:
"bmob", "hpusehold"): otherwise jargon the lists lack would be "corrected" into a common word ("glock" into
"block", "sarin" into "satin", "incel" into "intel"). It is conservative: words of fewer than 4 letters, acronyms, inner capitals (code,
brands), capitalised words inside a sentence (names), words joined to digits, paths, handles or URLs, text that
is not mostly English, and code are left alone, and a word with no known neighbour stays as it is.

Known words: the English frequency list shipped in `symspellpy` (82,765 words, MIT), MiniLM's whole-word
vocabulary, and the words of the training data that neither holds (`resources/embedded/extra_words.txt`:
"fentanyl", "doxxing", "ransomware"..., written by `python -m mmshield.shields.embedded.features.spelling
--data build/mmds-open`), so the rare terms a shield most needs are not "corrected" into common words.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections import Counter
from collections.abc import Collection, Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

from mmshield.shields.embedded.features.crosslingual import needs_crosslingual
from mmshield.shields.embedded.features.deobfuscate import english_rate

MIN_LETTERS = 4
"""Words shorter than this are never corrected (a slip in a short word has too many readings)."""
MIN_KNOWN_RATE = 0.5
"""A text is corrected only when at least this share of its distinct words of 3+ letters is known."""
MIN_EXTRA_TEXTS = 1
"""A word of the training data joins the extra word list when this many distinct texts use it."""
RARE_TRIPLE = 3
"""A letter triple held by fewer listed words than this marks a word as a misspelling."""
EXTRA_WORDS = "resources/embedded/extra_words.txt"
EXTRA_COUNT = 200_000
"""Frequency given to a known word that the frequency list lacks (MiniLM vocabulary, extra words): a rare word."""

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_TOKEN = re.compile(r"(?<![\w@#/\\.'’-])[A-Za-z]{4,}(?![\w@/\\'’-]|\.\w)")  # MIN_LETTERS or more
_SENTENCE_START = re.compile(r"(^|[.!?:;\n]\s*|[\"“(]\s*)$")
_CODE = re.compile(r"```|[{};]\s*$|^\s*(def|class|import|return|function|var|const|#include)\b", re.M)

# How often each kind of slip happens, relative to a swap of two neighbouring letters.
WEIGHT = {"swap": 1.0, "neighbour": 0.6, "undouble": 0.6, "dropped": 0.3, "added": 0.2, "replaced": 0.1}
GATED = frozenset({"neighbour", "replaced", "added"})
"""Slips corrected only in a word that cannot be English as it stands (see `SpellingCorrector.implausible`)."""


def _keyboard_neighbours() -> dict[str, frozenset[str]]:
    near: dict[str, set[str]] = {c: set() for c in _LETTERS}
    for r, row in enumerate(_ROWS):
        for i, c in enumerate(row):
            near[c].update(row[j] for j in (i - 1, i + 1) if 0 <= j < len(row))
            for rr in (r - 1, r + 1):
                if 0 <= rr < len(_ROWS):
                    near[c].update(_ROWS[rr][j] for j in (i - 1, i, i + 1) if 0 <= j < len(_ROWS[rr]))
    return {c: frozenset(v) for c, v in near.items()}


KEYBOARD_NEIGHBOURS = _keyboard_neighbours()
"""The letters around each letter on a QWERTY keyboard."""


def edits(word: str) -> Iterable[tuple[str, str]]:
    """(candidate, kind of slip that would have made `word` from it) for every candidate one edit away."""
    n = len(word)
    for i in range(n - 1):
        if word[i] != word[i + 1]:
            yield word[:i] + word[i + 1] + word[i] + word[i + 2:], "swap"
    for i in range(n):  # the typo added a letter: the candidate lacks it
        doubled = (i > 0 and word[i - 1] == word[i]) or (i + 1 < n and word[i + 1] == word[i])
        yield word[:i] + word[i + 1:], "undouble" if doubled else "added"
    for i in range(n + 1):  # the typo dropped a letter: the candidate has it
        for c in _LETTERS:
            yield word[:i] + c + word[i:], "dropped"
    for i in range(n):
        for c in _LETTERS:
            if c != word[i]:
                yield word[:i] + c + word[i + 1:], "neighbour" if c in KEYBOARD_NEIGHBOURS[word[i]] else "replaced"


@lru_cache(maxsize=1)
def frequency_list() -> dict[str, int]:
    """symspellpy's English word frequencies (lower case), read from the installed package."""
    text = resources.files("symspellpy").joinpath("frequency_dictionary_en_82_765.txt").read_text("utf-8")
    out: dict[str, int] = {}
    for line in text.splitlines():
        word, _, count = line.partition(" ")
        if word.isalpha() and count.strip().isdigit():
            out[word] = int(count)
    return out


@lru_cache(maxsize=1)
def extra_words() -> frozenset[str]:
    """The training data's words that the frequency list and MiniLM's vocabulary lack (packaged)."""
    path = resources.files("mmshield").joinpath(EXTRA_WORDS)
    if not path.is_file():
        return frozenset()
    return frozenset(w for w in path.read_text("utf-8").split() if w)


@lru_cache(maxsize=1)
def extra_words_signature() -> str:
    """A short hash of the packaged extra word list: it decides which words are corrected, so caches keyed by
    text must change with it."""
    return hashlib.sha1("\n".join(sorted(extra_words())).encode("utf-8")).hexdigest()[:8]


def _count_triples(words: Iterable[str]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for word in words:
        padded = f"^{word}$"
        counts.update({padded[i : i + 3] for i in range(len(padded) - 2)})
    return dict(counts)


@lru_cache(maxsize=1)
def triple_counts() -> dict[str, int]:
    """How many words of the frequency list hold each letter triple ("^" and "$" mark a word's edges)."""
    return _count_triples(frequency_list())


class SpellingCorrector:
    """Corrects words no list knows to the likeliest known word one edit away (see the module docstring)."""

    def __init__(self, vocabulary: Collection[str] = (), *, frequencies: dict[str, int] | None = None,
                 extra: Collection[str] | None = None) -> None:
        self.frequencies = frequency_list() if frequencies is None else frequencies
        self.others = frozenset(vocabulary) | (extra_words() if extra is None else frozenset(extra))
        self._memo: dict[str, str | None] = {}
        self._triples: dict[str, int] | None = None

    def implausible(self, word: str) -> bool:
        """`word` (lower case) holds a letter triple that almost no English word has: it is misspelled."""
        if self._triples is None:
            shipped = self.frequencies is frequency_list()
            self._triples = triple_counts() if shipped else _count_triples(self.frequencies)
        padded = f"^{word}$"
        return any(self._triples.get(padded[i : i + 3], 0) < RARE_TRIPLE for i in range(len(padded) - 2))

    def known(self, word: str) -> bool:
        w = word.lower()
        return w in self.frequencies or w in self.others

    __contains__ = known  # a word container for `deobfuscate.english_rate`

    def best(self, word: str) -> str | None:
        """The likeliest known word that `word` (lower case, unknown) is a slip of, or None."""
        if word in self._memo:
            return self._memo[word]
        scored: dict[str, float] = {}
        misspelled = self.implausible(word)
        for cand, kind in edits(word):
            if len(cand) < MIN_LETTERS:
                continue
            if not misspelled and (kind in GATED or (kind == "dropped" and len(word) <= MIN_LETTERS)):
                continue
            freq = self.frequencies.get(cand)
            if freq is None:
                if cand not in self.others:
                    continue
                freq = EXTRA_COUNT
            scored[cand] = max(scored.get(cand, 0.0), freq * WEIGHT[kind])
        choice = max(scored, key=scored.__getitem__) if scored else None
        if len(self._memo) < 100_000:
            self._memo[word] = choice
        return choice

    def readable(self, text: str) -> bool:
        """Mostly known English prose, not code: the texts worth correcting."""
        if needs_crosslingual(text) or _CODE.search(text):
            return False
        rate, n = english_rate(text, self)
        return n > 0 and rate >= MIN_KNOWN_RATE

    def corrected(self, text: str) -> str | None:
        """`text` with its typos corrected, or None when nothing changes."""
        tokens = [m for m in _TOKEN.finditer(text) if not self.known(m.group(0))]
        if not tokens or not self.readable(text):
            return None
        out, last, changed = [], 0, False
        for m in tokens:
            word = m.group(0)
            fixed = self._fix(word, text[: m.start()])
            if fixed is not None:
                out += [text[last : m.start()], fixed]
                last, changed = m.end(), True
        return "".join([*out, text[last:]]) if changed else None

    def _fix(self, word: str, before: str) -> str | None:
        if word.isupper():
            return None  # an acronym
        capitalised = word[0].isupper()
        if any(c.isupper() for c in word[1:]) or (capitalised and not _SENTENCE_START.search(before)):
            return None  # inner capitals (code, brands) or a name inside a sentence
        best = self.best(word.lower())
        if best is None:
            return None
        return best.capitalize() if capitalised else best


# --------------------------------------------------------------------------- the extra word list


def fit_extra_words(texts: Iterable[str], vocabulary: Collection[str], *, min_texts: int = MIN_EXTRA_TEXTS) -> list[str]:
    """Words (lower case, 4+ letters) used by at least `min_texts` distinct texts that neither the frequency list
    nor `vocabulary` holds, sorted."""
    freq, vocab = frequency_list(), frozenset(vocabulary)
    seen: Counter[str] = Counter()
    for text in set(texts):
        seen.update({w.lower() for w in _TOKEN.findall(text)})
    return sorted(w for w, n in seen.items() if n >= min_texts and w not in freq and w not in vocab)


def _train_texts(data: Path) -> Iterable[str]:
    with (data / "train.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            for turn in json.loads(line).get("conversations", []):
                if isinstance(turn.get("content"), str):
                    yield turn["content"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write the extra word list from a build's train split.")
    ap.add_argument("--data", type=Path, default=Path("build/mmds-open"))
    ap.add_argument("--out", type=Path, default=None, help="default: the packaged resource")
    ap.add_argument("--min-texts", type=int, default=MIN_EXTRA_TEXTS)
    args = ap.parse_args(argv)
    from mmshield.shields.embedded.features.text_encoder import TextEncoder

    words = fit_extra_words(_train_texts(args.data), TextEncoder().vocabulary, min_texts=args.min_texts)
    out = args.out or Path(str(resources.files("mmshield").joinpath(EXTRA_WORDS)))
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(words) + "\n", encoding="utf-8")
    tmp.replace(out)
    print(f"{len(words)} extra words -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
