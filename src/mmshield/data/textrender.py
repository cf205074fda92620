"""Drawing text for the typography renderers: colours with guaranteed contrast, backgrounds, faces
(TrueType, OpenCV Hershey and OpenCV 5 embedded fonts), word-wrapped layout fitted to a box, text
blocks as RGBA layers (outline, shadow, marker highlight, rotation) and mild capture artefacts."""

from __future__ import annotations

import functools
import io
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from mmshield.data.fonts import FontSpec, load_font

try:  # OpenCV is optional: it comes with rapidocr-onnxruntime (the `vision` extra).
    import cv2

    _HERSHEY: tuple[int, ...] = (
        cv2.FONT_HERSHEY_SIMPLEX,
        cv2.FONT_HERSHEY_DUPLEX,
        cv2.FONT_HERSHEY_COMPLEX,
        cv2.FONT_HERSHEY_TRIPLEX,
    )
    _HERSHEY_SCRIPT: tuple[int, ...] = (cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX)
except ImportError:  # pragma: no cover - depends on the environment
    cv2 = None
    _HERSHEY = ()
    _HERSHEY_SCRIPT = ()


@dataclass(frozen=True)
class CvFont:
    """One of OpenCV 5's embedded variable fonts ("sans" or "italic", a Rubik family) at a weight 100-1000."""

    name: str
    weight: int


def _cv_font_names() -> tuple[str, ...]:
    if cv2 is None or not hasattr(cv2, "FontFace"):
        return ()
    try:
        return tuple(n for n in ("sans", "italic", "uni") if cv2.FontFace(n).getName() == n)
    except Exception:  # pragma: no cover - an OpenCV build without embedded fonts
        return ()


_CV_ALL = _cv_font_names()
_CV_FONTS = tuple(n for n in _CV_ALL if n != "uni")
_CV_UNICODE: CvFont | None = CvFont("uni", 400) if "uni" in _CV_ALL else None
"""OpenCV 5's wide-coverage face (CJK, Cyrillic, ...), used for text that no TrueType face here covers."""

MIN_LONG_SIDE = 384
MAX_LONG_SIDE = 768
MIN_FONT_PX = 16
MIN_CONTRAST = 4.5

RGB = tuple[int, int, int]
FaceChoice = FontSpec | int | CvFont
"""A TrueType face, an OpenCV Hershey font code (OpenCV 5 draws these with its Rubik faces), or an OpenCV 5
embedded variable font."""

# --------------------------------------------------------------------------------------------- colour

_LIGHT_BG: tuple[RGB, ...] = (
    (255, 255, 255), (250, 248, 240), (245, 240, 225), (236, 240, 245), (255, 250, 205),
    (230, 245, 230), (250, 235, 235), (240, 240, 240), (255, 236, 200), (225, 235, 250),
)
_DARK_BG: tuple[RGB, ...] = (
    (20, 20, 20), (30, 40, 70), (25, 60, 40), (60, 20, 30), (45, 45, 50), (10, 30, 60), (50, 30, 70),
)
_VIVID_BG: tuple[RGB, ...] = ((190, 25, 35), (250, 200, 20), (20, 90, 180), (230, 110, 20), (0, 130, 110))
_DARK_FG: tuple[RGB, ...] = (
    (0, 0, 0), (30, 30, 30), (20, 30, 90), (100, 20, 20), (20, 70, 30), (60, 40, 20), (50, 50, 60),
)
_MARKERS: tuple[RGB, ...] = ((255, 240, 90), (170, 240, 170), (255, 190, 215), (160, 220, 255), (255, 200, 120))
_LIGHT_FG: tuple[RGB, ...] = ((255, 255, 255), (250, 240, 200), (255, 230, 120), (220, 235, 255))


def _luminance(c: Sequence[int]) -> float:
    def lin(v: float) -> float:
        v /= 255.0
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(float(x)) for x in c[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: Sequence[int], b: Sequence[int]) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    la, lb = _luminance(a), _luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def _jitter(rng: random.Random, c: RGB, amount: int = 12) -> RGB:
    return tuple(max(0, min(255, v + rng.randint(-amount, amount))) for v in c)  # type: ignore[return-value]


def _pick_colours(rng: random.Random, light_bias: float = 0.65) -> tuple[RGB, RGB]:
    """(background, foreground) with a contrast ratio of at least MIN_CONTRAST."""
    u = rng.random()
    if u < light_bias:
        bg, fgs = _jitter(rng, rng.choice(_LIGHT_BG), 8), _DARK_FG
    elif u < light_bias + (1 - light_bias) * 0.7:
        bg, fgs = _jitter(rng, rng.choice(_DARK_BG)), _LIGHT_FG
    else:
        bg = _jitter(rng, rng.choice(_VIVID_BG))
        fgs = _DARK_FG + _LIGHT_FG
    candidates = [c for c in fgs if contrast_ratio(bg, c) >= MIN_CONTRAST + 1.0]
    fg = _jitter(rng, rng.choice(candidates), 10) if candidates else None
    if fg is None or contrast_ratio(bg, fg) < MIN_CONTRAST:
        fg = max(((0, 0, 0), (255, 255, 255)), key=lambda c: contrast_ratio(bg, c))
    return bg, fg


# ------------------------------------------------------------------------------------------ backgrounds

BACKGROUNDS = ("plain", "gradient", "paper", "noise", "lined", "grid", "stripes", "dots")


def _shade(c: RGB, delta: int) -> RGB:
    return tuple(max(0, min(255, v + delta)) for v in c)  # type: ignore[return-value]


def _upsampled_noise(nprng: np.random.Generator, w: int, h: int, cell: int, resample: int) -> np.ndarray:
    """Unit Gaussian noise drawn on a grid `cell` times coarser than (w, h), resized to (w, h)."""
    small = nprng.standard_normal((max(2, h // cell + 2), max(2, w // cell + 2)), dtype=np.float32)
    if cell == 1:
        return small[:h, :w]
    return np.asarray(Image.fromarray(small, mode="F").resize((w, h), resample), dtype=np.float32)


def _add_luma(img: Image.Image, delta: np.ndarray) -> Image.Image:
    """`img` plus a per-pixel brightness offset `delta` (same on all channels), clipped, in C."""
    d = Image.fromarray(np.clip(delta + 128.0, 0, 255).astype(np.uint8), "L").convert("RGB")
    return ImageChops.add(img, d, 1.0, -128)


def make_background(kind: str, size: tuple[int, int], bg: RGB, fg: RGB, rng: random.Random) -> Image.Image:
    """A background of `kind` (one of BACKGROUNDS) around colour `bg`, kept in contrast with `fg`."""
    if kind not in BACKGROUNDS:
        raise ValueError(f"unknown background kind {kind!r}; expected one of {BACKGROUNDS}")
    w, h = size
    base = Image.new("RGB", size, bg)
    if kind == "plain":
        return base
    nprng = np.random.default_rng(rng.getrandbits(63))
    # Texture moves away from the text colour, so the contrast only grows.
    away = 1 if _luminance(bg) >= _luminance(fg) else -1
    if kind == "gradient":
        c2 = _shade(_jitter(rng, bg, 25), away * rng.randint(20, 60))
        theta = rng.uniform(0, 2 * math.pi)
        sw, sh = max(2, w // 16), max(2, h // 16)
        yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
        t = xx * math.cos(theta) + yy * math.sin(theta)
        t = ((t - t.min()) / max(1e-6, float(t.max() - t.min())))[..., None]
        small = np.asarray(bg, np.float32) * (1 - t) + np.asarray(c2, np.float32) * t
        return Image.fromarray(small.astype(np.uint8), "RGB").resize(size, Image.BILINEAR)
    if kind == "paper":
        tint = tuple(int(c * f) for c, f in zip(bg, (1.0, 0.98, 0.93)))
        base = Image.new("RGB", size, tint if away > 0 else bg)
        delta = _upsampled_noise(nprng, w, h, rng.choice((24, 48, 96)), Image.BICUBIC) * rng.uniform(3, 7)
        delta += _upsampled_noise(nprng, w, h, rng.choice((1, 2)), Image.NEAREST) * rng.uniform(2, 4)
        return _add_luma(base, delta * away + away * 3)
    if kind == "noise":
        return _add_luma(base, _upsampled_noise(nprng, w, h, rng.choice((1, 2)), Image.NEAREST) * rng.uniform(4, 10))
    if kind in ("grid", "stripes", "dots"):
        return _pattern(base, kind, _shade(bg, away * rng.randint(12, 28)), rng)
    # lined paper
    d = ImageDraw.Draw(base)
    line = (150, 180, 225) if away > 0 else (90, 110, 150)
    mix = tuple(int(a * 0.55 + b * 0.45) for a, b in zip(bg, line))
    gap = rng.randint(26, 40)
    for y in range(rng.randint(30, 60), h, gap):
        d.line((0, y, w, y), fill=mix, width=1)
    if rng.random() < 0.6:
        x = rng.randint(30, 60)
        d.line((x, 0, x, h), fill=tuple(int(a * 0.5 + b * 0.5) for a, b in zip(bg, (230, 120, 120))), width=2)
    return base


def _pattern(base: Image.Image, kind: str, ink: RGB, rng: random.Random) -> Image.Image:
    """Graph-paper grid, diagonal stripes or a dot grid in a colour close to the background."""
    w, h = base.size
    d = ImageDraw.Draw(base)
    step = rng.randint(14, 32)
    if kind == "grid":
        for x in range(rng.randint(0, step), w, step):
            d.line((x, 0, x, h), fill=ink, width=1)
        for y in range(rng.randint(0, step), h, step):
            d.line((0, y, w, y), fill=ink, width=1)
    elif kind == "stripes":
        width = rng.randint(4, step // 2)
        step *= 2
        slope = rng.choice((-1, 1))
        for x in range(-h, w + h, step):
            d.line((x, 0, x + slope * h, h), fill=ink, width=width)
    else:
        r = rng.randint(1, 3)
        for y in range(step // 2, h, step):
            off = step // 2 if (y // step) % 2 else 0
            for x in range(off, w, step):
                d.ellipse((x - r, y - r, x + r, y + r), fill=ink)
    return base


# ------------------------------------------------------------------------------------------------ faces


@functools.lru_cache(maxsize=4)
def _cv_face(name: str):  # noqa: ANN202 - cv2.FontFace
    return cv2.FontFace(name)


class _Face:
    """A sized face: TrueType through Pillow, or an OpenCV font (Hershey code or embedded variable font)."""

    def __init__(self, choice: FaceChoice, size: int, weight: float = 1.0) -> None:
        self.choice = choice
        self.size = size
        self.font: ImageFont.FreeTypeFont | None = None
        self._words: dict[str, float] = {}
        if isinstance(choice, FontSpec):
            self.font = load_font(choice, size)
            ascent, descent = self.font.getmetrics()
            self.ascent, self.height = ascent, ascent + descent
        elif isinstance(choice, CvFont):
            self.ff = _cv_face(choice.name)
            _, top, _, h = cv2.getTextSize((0, 0), "Ag", (0, 0), self.ff, size, choice.weight)
            self.ascent, self.height = -top, h
        else:
            self.scale = size / 34.0
            self.thickness = max(1, round(self.scale * 1.6 * weight))
            (_, cap), _ = cv2.getTextSize("A", choice, self.scale, self.thickness)
            self.ascent = cap + self.thickness + 1
            self.height = int(self.ascent + size * 0.35)

    def word_width(self, s: str) -> float:
        """Width of a word or short string (cached; a line is about the sum of its words and spaces)."""
        w = self._words.get(s)
        if w is None:
            if len(self._words) > 4096:
                self._words.clear()
            w = self._words[s] = self.width(s)
        return w

    def width(self, s: str) -> float:
        if self.font is not None:
            return self.font.getlength(s)
        if isinstance(self.choice, CvFont):
            return float(cv2.getTextSize((0, 0), s, (0, 0), self.ff, self.size, self.choice.weight)[2])
        (w, _), _ = cv2.getTextSize(s, self.choice, self.scale, self.thickness)
        return float(w)

    def draw(self, mask: Image.Image, xy: tuple[int, int], s: str, stroke: int = 0) -> None:
        """Draw `s` with its top-left at `xy` into the 8-bit `mask` (255 = ink), `stroke` px fatter."""
        x, y = xy
        if self.font is not None:
            ImageDraw.Draw(mask).text((x, y), s, font=self.font, fill=255, stroke_width=stroke, stroke_fill=255)
            return
        pad = stroke + self.size // 4 + 2
        arr = np.zeros((self.height + 2 * pad, int(self.width(s)) + 2 * pad), dtype=np.uint8)
        if isinstance(self.choice, CvFont):
            cv2.putText(arr, s, (pad, pad + self.ascent), 255, self.ff, self.size, self.choice.weight)
        else:
            cv2.putText(arr, s, (pad, pad + self.ascent), self.choice, self.scale, 255, self.thickness, cv2.LINE_AA)
        if stroke:
            arr = cv2.dilate(arr, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * stroke + 1, 2 * stroke + 1)))
        piece = Image.fromarray(arr, "L")
        mask.paste(piece, (x - pad, y - pad), piece)


@functools.lru_cache(maxsize=256)
def _face(choice: FaceChoice, size: int, weight: float = 1.0) -> _Face:
    return _Face(choice, size, weight)


# ----------------------------------------------------------------------------------------------- layout


@dataclass
class Para:
    """A paragraph of a text block: its face, size relative to the block's base size, alignment, gap."""

    text: str
    choice: FaceChoice
    rel: float = 1.0
    align: str = "left"  # "left", "center" or "right"
    gap: float = 0.0  # extra space above, in base sizes
    spacing: float = 1.15  # line height multiplier
    weight: float = 1.0  # stroke weight for Hershey faces


@dataclass
class _Block:
    lines: list[tuple[_Face, str, int, int]] = field(default_factory=list)  # face, text, x, y
    width: int = 0
    height: int = 0
    broken_words: bool = False


def _wrap(text: str, face: _Face, max_w: float, broken: list[bool] | None = None) -> list[str]:
    """Greedy word wrap of one paragraph; words wider than `max_w` are broken between characters
    (and `broken`, when given, gets True appended)."""
    out: list[str] = []
    for raw in text.split("\n"):
        words = raw.split()
        if not words:
            out.append("")
            continue
        space = face.word_width(" ")
        cur, cur_w = "", 0.0
        for word in words:
            ww = face.word_width(word)
            cand_w = cur_w + space + ww if cur else ww
            if cand_w <= max_w * 0.98:
                cur, cur_w = (f"{cur} {word}" if cur else word), cand_w
                continue
            if cur:
                out.append(cur)
            if broken is not None and ww > max_w and word.isascii():  # CJK lines break anywhere
                broken.append(True)
            while face.width(word) > max_w and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and face.width(word[:cut]) > max_w:
                    cut -= 1
                out.append(word[:cut])
                word = word[cut:]
            cur, cur_w = word, face.word_width(word)
        out.append(cur)
    return out


def _layout(paras: Sequence[Para], base: int, max_w: float) -> _Block:
    block = _Block()
    broken: list[bool] = []
    rows: list[tuple[_Face, str, int, str]] = []
    y = 0.0
    for i, p in enumerate(paras):
        face = _face(p.choice, max(8, round(base * p.rel)), p.weight)
        if i:
            y += p.gap * base
        for line in _wrap(p.text, face, max_w, broken):
            rows.append((face, line, round(y), p.align))
            y += face.height * p.spacing
        y += face.height * (1.0 - p.spacing) if p.spacing > 1 else 0.0
    block.width = max(1, math.ceil(max((f.width(s) for f, s, _, _ in rows), default=1)))
    block.height = max(1, math.ceil(y))
    block.broken_words = bool(broken)
    for face, line, ly, align in rows:
        lw = face.width(line)
        x = 0 if align == "left" else (block.width - lw) / 2 if align == "center" else block.width - lw
        block.lines.append((face, line, round(x), ly))
    return block


def _rotated_size(w: float, h: float, angle: float) -> tuple[float, float]:
    a = math.radians(abs(angle))
    return w * math.cos(a) + h * math.sin(a), w * math.sin(a) + h * math.cos(a)


def _fit(paras: Sequence[Para], max_w: float, max_h: float, hi: int, lo: int, angle: float = 0.0) -> tuple[_Block, bool]:
    """The largest base size in [lo, hi] whose layout fits (max_w, max_h) after rotation (binary search)."""

    def attempt(size: int) -> tuple[_Block, bool]:
        block = _layout(paras, size, max_w)
        rw, rh = _rotated_size(block.width + size * 0.4, block.height + size * 0.4, angle)
        return block, rw <= max_w * 1.02 and rh <= max_h and not block.broken_words

    hi = max(hi, lo)
    block, ok = attempt(hi)
    if ok:
        return block, True
    best, ok = attempt(lo)
    if not ok:
        return best, False
    good, bad = lo, hi
    while bad - good > max(1, good // 20):
        mid = (good + bad) // 2
        block, ok = attempt(mid)
        if ok:
            good, best = mid, block
        else:
            bad = mid
    return best, True


def _render_block(block: _Block, fg: RGB, stroke: int = 0, stroke_fg: RGB | None = None,
                  shadow: tuple[RGB, int] | None = None, angle: float = 0.0,
                  highlight: RGB | None = None) -> Image.Image:
    """The block as an RGBA image (transparent around the ink), padded for strokes and slanted glyphs,
    rotated by `angle` degrees (the 8-bit masks are rotated, which is cheaper than rotating RGBA)."""
    size0 = max((f.size for f, _, _, _ in block.lines), default=16)
    pad = stroke + int(size0 * 0.25) + 2
    w, h = block.width + 2 * pad, block.height + 2 * pad
    fill = Image.new("L", (w, h), 0)
    for face, line, x, y in block.lines:
        face.draw(fill, (x + pad, y + pad), line)
    under: tuple[RGB, Image.Image] | None = None
    if stroke and stroke_fg is not None:
        outline = Image.new("L", (w, h), 0)
        for face, line, x, y in block.lines:
            face.draw(outline, (x + pad, y + pad), line, stroke=stroke)
        under = (stroke_fg, outline)
    elif highlight is not None:  # marker pen behind each line
        marks = Image.new("L", (w, h), 0)
        md = ImageDraw.Draw(marks)
        for face, line, x, y in block.lines:
            if line.strip():
                lw = face.width(line)
                md.rectangle((x + pad - 3, y + pad + face.height * 0.08, x + pad + lw + 3, y + pad + face.height * 1.02),
                             fill=235)
        under = (highlight, marks)
    elif shadow is not None:
        colour, off = shadow
        sh = Image.new("L", (w, h), 0)
        sh.paste(fill, (off, off))
        under = (colour, sh.filter(ImageFilter.BoxBlur(max(0.5, off / 2))))
    fill = _rotate(fill, angle)
    ink = Image.new("RGBA", fill.size, (*fg, 255))
    ink.putalpha(fill)
    if under is None:
        return ink
    out = Image.new("RGBA", fill.size, (*under[0], 0))
    out.putalpha(_rotate(under[1], angle))
    return Image.alpha_composite(out, ink)


def _rotate(layer: Image.Image, angle: float) -> Image.Image:
    if abs(angle) < 0.05:
        return layer
    return layer.rotate(angle, resample=Image.BILINEAR, expand=True)


def _paste_at(canvas: Image.Image, layer: Image.Image, rng: random.Random,
              halign: str = "center", valign: str = "center", margin: float = 0.05) -> tuple[int, int]:
    """Paste the RGBA `layer` onto `canvas` at a jittered position; returns its top-left corner."""
    cw, ch = canvas.size
    lw, lh = layer.size
    mx, my = int(cw * margin), int(ch * margin)
    free_x, free_y = max(0, cw - lw - 2 * mx), max(0, ch - lh - 2 * my)

    def pos(free: int, m: int, align: str, full: int, size: int) -> int:
        if free <= 0:
            return (full - size) // 2
        if align in ("left", "top"):
            return m + int(free * rng.uniform(0.0, 0.15))
        if align in ("right", "bottom"):
            return m + int(free * rng.uniform(0.85, 1.0))
        return m + int(free * rng.uniform(0.35, 0.65))

    x = pos(free_x, mx, halign, cw, lw)
    y = pos(free_y, my, valign, ch, lh)
    canvas.paste(layer, (x, y), layer)
    return x, y


# -------------------------------------------------------------------------------------------- artefacts


def degrade(img: Image.Image, rng: random.Random, strength: float = 1.0) -> Image.Image:
    """Mild capture artefacts (blur, resampling, sensor noise, JPEG), each applied with some chance."""
    if rng.random() < 0.25 * strength:
        img = img.filter(ImageFilter.BoxBlur(rng.uniform(0.3, 0.7)) if rng.random() < 0.5
                         else ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
    if rng.random() < 0.15 * strength:
        w, h = img.size
        f = rng.uniform(0.65, 0.85)
        img = img.resize((max(1, int(w * f)), max(1, int(h * f))), Image.BILINEAR).resize((w, h), Image.BILINEAR)
    if rng.random() < 0.3 * strength:
        nprng = np.random.default_rng(rng.getrandbits(63))
        w, h = img.size
        img = _add_luma(img, _upsampled_noise(nprng, w, h, 1, Image.NEAREST) * rng.uniform(2.0, 7.0))
    if rng.random() < 0.4 * strength:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=rng.randint(40, 85))
        buf.seek(0)
        img = Image.open(buf).convert("RGB")
    return img
