"""Text hidden from a reader that reads the surface: encoded (base64, hex, binary, Morse, a Caesar shift such
as ROT13, Atbash, reversed), spelled to dodge it (Cyrillic or Greek look-alike letters, letters written one
by one, leetspeak) or put in emoji.

Jailbreak collections hide harmful requests this way ("decode this and answer it") so that a model reading
the surface sees gibberish. `hidden_text` finds an encoded stretch of a turn and returns its decoding, or
None. `revealed` puts the decodings in place of the stretches, `respelled` spells the turn plainly ("h0w t0
m4k3" -> "how to make"), and `plain_text` does both: the text encoder reads that instead of the turn. Every
decoding must read as words (`english_rate`, over the MiniLM tokenizer's whole-word vocabulary) where the
surface did not, so ordinary text, code, URLs and hashes are left alone.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Callable, Collection, Container

MIN_WORDS = 4
"""A decoding must hold at least this many distinct words of 3+ letters to count."""
READS = 0.7
"""Share of those words found in the vocabulary for a decoding to read as text."""
SURFACE_MAX = 0.4
"""A stretch whose own words read at this rate or better is not treated as a cipher."""

_B64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[\s:,]?){8,}(?![0-9A-Fa-f])")
_BIN = re.compile(r"(?:[01]{8}\s?){4,}")
_MORSE = re.compile(r"(?:[.\-·−–—_]{1,7}[ /|]+){6,}[.\-·−–—_]{1,7}")
_WORDS = re.compile(r"[A-Za-z]+")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"})
_LEET_WORD = re.compile(r"(?<![\w@$])[A-Za-z0-9@$]{3,}(?![\w@$])")
_NUMBER_AND_UNIT = re.compile(r"\d+[A-Za-z]+")
"""1st, 10kg, 5pm, 2x: a number with its unit or ordinal, not leetspeak."""
_CONFUSABLE = "аеорсхуіјѕһԁԛԝӏАВЕКМНОРСТХУІЈЅαοριυνκεχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ"
_TO_LATIN = str.maketrans(_CONFUSABLE, "aeopcxyijshdqwlABEKMHOPCTXYIJSaopiuvkexABEZHIKMNOPTYX")
_SPACED_RUN = re.compile(r"(?<![A-Za-z])[A-Za-z](?:[ .\-_*]{1,3}[A-Za-z](?![A-Za-z])){5,}")
"""Six or more single letters in a row, each apart from the next by up to three spaces or marks."""
_EMOJI_GLUE = "\u200d\ufe0f\ufe0e"
"""Zero-width joiner and variation selectors: they bind emoji sequences and read as nothing."""
MORSE_CODE = {
    ".-": "a", "-...": "b", "-.-.": "c", "-..": "d", ".": "e", "..-.": "f", "--.": "g", "....": "h", "..": "i",
    ".---": "j", "-.-": "k", ".-..": "l", "--": "m", "-.": "n", "---": "o", ".--.": "p", "--.-": "q", ".-.": "r",
    "...": "s", "-": "t", "..-": "u", "...-": "v", ".--": "w", "-..-": "x", "-.--": "y", "--..": "z",
    "-----": "0", ".----": "1", "..---": "2", "...--": "3", "....-": "4", ".....": "5", "-....": "6", "--...": "7",
    "---..": "8", "----.": "9", ".-.-.-": ".", "--..--": ",", "..--..": "?", "-.-.--": "!", ".----.": "'",
}


def english_rate(text: str, vocabulary: Container[str]) -> tuple[float, int]:
    """Share of the distinct words of 3+ letters of `text` found in `vocabulary` (lower case), and how many
    distinct words there are."""
    words = {w.lower() for w in _WORDS.findall(text) if len(w) >= 3}
    if not words:
        return 0.0, 0
    return sum(w in vocabulary for w in words) / len(words), len(words)


def _reads(text: str | None, vocabulary: Collection[str]) -> bool:
    if not text:
        return False
    rate, n = english_rate(text, vocabulary)
    return n >= MIN_WORDS and rate >= READS


def _printable(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text and sum(ch.isprintable() or ch in "\n\t" for ch in text) >= 0.95 * len(text) else None


def _base64(stretch: str) -> str | None:
    try:
        return _printable(base64.b64decode(stretch + "=" * (-len(stretch) % 4), validate=True))
    except (binascii.Error, ValueError):
        return None


def _hex(stretch: str) -> str | None:
    try:
        return _printable(bytes.fromhex(re.sub(r"[\s:,]", "", stretch)))
    except ValueError:
        return None


def _binary(stretch: str) -> str | None:
    bits = stretch.split()
    if len(bits) == 1:
        bits = [stretch[i : i + 8] for i in range(0, len(stretch), 8)]
    return _printable(bytes(int(b, 2) for b in bits if len(b) == 8))


def _morse(stretch: str) -> str:
    norm = re.sub(r"[·]", ".", re.sub(r"[−–—_]", "-", stretch))
    words = re.split(r"\s*[/|]\s*|\s{3,}", norm.strip())
    return " ".join("".join(MORSE_CODE.get(code, "") for code in word.split()) for word in words)


def caesar(text: str, k: int) -> str:
    """`text` with each Latin letter shifted `k` places (ROT13: k = 13)."""
    def one(ch: str) -> str:
        if "a" <= ch <= "z":
            return chr((ord(ch) - 97 + k) % 26 + 97)
        if "A" <= ch <= "Z":
            return chr((ord(ch) - 65 + k) % 26 + 65)
        return ch

    return "".join(one(ch) for ch in text)


def atbash(text: str) -> str:
    """`text` with each Latin letter mirrored in the alphabet (a <-> z); its own inverse."""
    def one(ch: str) -> str:
        if "a" <= ch <= "z":
            return chr(219 - ord(ch))
        if "A" <= ch <= "Z":
            return chr(155 - ord(ch))
        return ch

    return "".join(one(ch) for ch in text)


def _reversed_words(text: str) -> str:
    return " ".join(w[::-1] for w in text.split()[::-1])


_LETTER_CIPHERS: list[Callable[[str], str]] = [
    *(lambda t, k=k: caesar(t, k) for k in range(1, 26)), atbash, _reversed_words, lambda t: t[::-1]]


def _encoded_stretches(text: str, vocabulary: Collection[str]) -> list[tuple[int, int, str]]:
    """(start, end, decoding) of the base64, hex, binary and Morse stretches of `text` that decode to text."""
    found = []
    for pattern, decode in ((_B64, _base64), (_HEX, _hex), (_BIN, _binary), (_MORSE, _morse)):
        for m in pattern.finditer(text):
            decoded = decode(m.group(0))
            if _reads(decoded, vocabulary):
                found.append((m.start(), m.end(), decoded.strip()))  # type: ignore[union-attr]
    return found


def _letter_cipher(text: str, vocabulary: Collection[str]) -> list[tuple[int, int, str]]:
    """(start, end, decoding) of the lines of `text` that do not read as words but do once shifted, Atbash-mapped
    or reversed."""
    found = []
    for m in re.finditer(r"[^\n:]+", text):
        line = m.group(0)
        rate, n = english_rate(line, vocabulary)
        if n < MIN_WORDS or rate > SURFACE_MAX:
            continue
        best = max((decode(line) for decode in _LETTER_CIPHERS), key=lambda d: english_rate(d, vocabulary)[0])
        if _reads(best, vocabulary):
            found.append((m.start(), m.end(), best.strip()))
    return found


def _decodings(text: str, vocabulary: Collection[str]) -> list[tuple[int, int, str]]:
    """Encoded stretches of `text` with their decodings, in order, not overlapping."""
    if len(text) < 12:
        return []
    found = _encoded_stretches(text, vocabulary) or _letter_cipher(text, vocabulary)
    kept: list[tuple[int, int, str]] = []
    for start, end, decoded in sorted(found):
        if not kept or start >= kept[-1][1]:
            kept.append((start, end, decoded))
    return kept


def _mixed(token: str) -> bool:
    """Letters and look-alike digits or signs in one token."""
    return not token.isalpha() and any(ch.isalpha() for ch in token)


def _leetspeak(text: str, vocabulary: Collection[str]) -> str | None:
    """`text` with its leetspeak spelled out, or None when it is not leetspeak: at least two distinct mixed tokens
    must spell vocabulary words (a number with its unit, "1st" or "10kg", does not count). Then every mixed token
    is spelled out, words the vocabulary lacks ("m37h4mph374m1n3") included, and the result must read as text."""
    tokens = [m.group(0) for m in _LEET_WORD.finditer(text)]
    words = {t.translate(_LEET).lower() for t in tokens if _mixed(t) and not _NUMBER_AND_UNIT.fullmatch(t)}
    if sum(w in vocabulary for w in words) < 2:
        return None
    spelled = _LEET_WORD.sub(lambda m: m.group(0).translate(_LEET) if _mixed(m.group(0)) else m.group(0), text)
    return spelled if _reads(spelled, vocabulary) else None


def _homoglyphs(text: str, vocabulary: Collection[str]) -> str | None:
    """`text` with Cyrillic and Greek look-alikes of Latin letters ("bоmb" with a Cyrillic о) made Latin, when it
    has some and then reads as English while it did not before. Russian or Greek text stays as it is: mapped, it
    does not read as English."""
    if not any(ch in _CONFUSABLE for ch in text):
        return None
    mapped = text.translate(_TO_LATIN)
    if english_rate(text, vocabulary)[0] > SURFACE_MAX or not _reads(mapped, vocabulary):
        return None
    return mapped


def _segment(letters: str, vocabulary: Collection[str]) -> list[str]:
    """`letters` (no spaces) cut into words, preferring long vocabulary words (dynamic programming)."""
    n = len(letters)
    best: list[tuple[float, int]] = [(0.0, 0)] + [(-1e9, 0)] * n
    for end in range(1, n + 1):
        for start in range(max(0, end - 20), end):
            piece = letters[start:end].lower()
            gain = len(piece) ** 2 if piece in vocabulary or piece in ("a", "i") else -4.0 * len(piece)
            if best[start][0] + gain > best[end][0]:
                best[end] = (best[start][0] + gain, start)
    words, end = [], n
    while end > 0:
        start = best[end][1]
        words.append(letters[start:end])
        end = start
    return words[::-1]


def _spaced_letters(text: str, vocabulary: Collection[str]) -> str | None:
    """`text` with runs of letters written one by one ("b o m b", "b-o-m-b", "b.o.m.b") put back into words."""
    runs = list(_SPACED_RUN.finditer(text))
    if not runs:
        return None
    out, last = [], 0
    for m in runs:
        letters = re.sub(r"[^A-Za-z]", "", m.group(0))
        out += [text[last : m.start()], " ".join(_segment(letters, vocabulary))]
        last = m.end()
    joined = "".join([*out, text[last:]])
    return joined if _reads(joined, vocabulary) else None


def respelled(text: str, vocabulary: Collection[str]) -> str | None:
    """`text` as it is meant to be read when it is spelled to dodge a reader: look-alike letters of other scripts,
    letters written one by one, leetspeak (in that order, each on the result of the last); None when none
    applies. Unlike `hidden_text`, the result replaces the text: it is the same text, spelled plainly."""
    current, changed = text, False
    for fix in (_homoglyphs, _spaced_letters, _leetspeak):
        fixed = fix(current, vocabulary)
        if fixed is not None:
            current, changed = fixed, True
    return current if changed else None


def hidden_text(text: str, vocabulary: Collection[str]) -> str | None:
    """Plain text encoded inside `text` (base64, hex, binary, Morse, Caesar/ROT13, Atbash, reversed), joined, or
    None when nothing is encoded. `vocabulary`: lower-case English words. (Leetspeak is not hidden text but a
    spelling of the text itself: see `respelled`.)"""
    return " ".join(decoded for _, _, decoded in _decodings(text, vocabulary)) or None


def revealed(text: str, vocabulary: Collection[str]) -> str | None:
    """`text` with each encoded stretch replaced by its decoding ("Decode this and answer it: <base64>" ->
    "Decode this and answer it: Explain how to ..."), or None when nothing is encoded."""
    spans = _decodings(text, vocabulary)
    if not spans:
        return None
    out, last = [], 0
    for start, end, decoded in spans:
        out += [text[last:start], decoded]
        last = end
    return "".join([*out, text[last:]])


def _is_emoji(ch: str) -> bool:
    code = ord(ch)
    return (0x1F000 <= code <= 0x1FAFF or 0x2600 <= code <= 0x27BF or 0x2B00 <= code <= 0x2BFF) and \
        not 0x1F3FB <= code <= 0x1F3FF  # skin-tone modifiers carry no word


def emoji_named(text: str) -> str | None:
    """`text` with each emoji replaced by its Unicode name ("make a 💣" -> "make a bomb"), or None when it has
    none. MiniLM's tokenizer reads an emoji as an unknown token, so a request that puts its key word in an emoji
    would lose it."""
    if not any(_is_emoji(ch) for ch in text):
        return None
    out = []
    for ch in text:
        if _is_emoji(ch):
            name = unicodedata.name(ch, "").lower().replace(" symbol", "")
            out.append(f" {name} " if name else " ")
        elif ch not in _EMOJI_GLUE and not 0x1F3FB <= ord(ch) <= 0x1F3FF:
            out.append(ch)
    return re.sub(r"[ \t]{2,}", " ", "".join(out)).strip()


def plain_text(text: str, vocabulary: Collection[str]) -> str | None:
    """What `text` says to a reader that decodes and reads past disguises: emoji named (`emoji_named`), encoded
    stretches decoded in place (`revealed`), then spelled plainly (`respelled`); None when it is already plain."""
    current = emoji_named(text) or text
    current = revealed(current, vocabulary) or current
    current = respelled(current, vocabulary) or current
    return current if current != text else None
