"""Text rendered into images, for the cross-modal part of the dataset (typographic attacks and benign text).

Every function is deterministic given its `random.Random`, uses only fonts bundled with installed
packages (see :mod:`mmshield.data.fonts`, plus OpenCV's Hershey stroke faces when OpenCV is present)
and keeps the text readable by an OCR model: contrast ratio >= 4.5, glyphs >= 16 px, mild artefacts.
Images are 384-768 px on the long side (a long text may make a card taller).
"""

from __future__ import annotations

import functools
import io
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from mmshield.data.fonts import FontSpec, choose_font, load_font

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

MIN_LONG_SIDE = 384
MAX_LONG_SIDE = 768
MIN_FONT_PX = 16
MIN_CONTRAST = 4.5

RGB = tuple[int, int, int]
FaceChoice = FontSpec | int
"""A TrueType face, or an OpenCV Hershey font code."""

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

BACKGROUNDS = ("plain", "gradient", "paper", "noise", "lined")


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


# ------------------------------------------------------------------------------------------------ faces


class _Face:
    """A sized face: TrueType through Pillow, or a Hershey stroke font through OpenCV."""

    def __init__(self, choice: FaceChoice, size: int, weight: float = 1.0) -> None:
        self.choice = choice
        self.size = size
        if isinstance(choice, FontSpec):
            self.font: ImageFont.FreeTypeFont | None = load_font(choice, size)
            ascent, descent = self.font.getmetrics()
            self.ascent, self.height = ascent, ascent + descent
        else:
            self.font = None
            self.scale = size / 34.0
            self.thickness = max(1, round(self.scale * 1.6 * weight))
            (_, cap), _ = cv2.getTextSize("A", choice, self.scale, self.thickness)
            self.ascent = cap + self.thickness + 1
            self.height = int(self.ascent + size * 0.35)

        self._words: dict[str, float] = {}

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
        (w, _), _ = cv2.getTextSize(s, self.choice, self.scale, self.thickness)
        return float(w)

    def draw(self, mask: Image.Image, xy: tuple[int, int], s: str, stroke: int = 0) -> None:
        """Draw `s` with its top-left at `xy` into the 8-bit `mask` (255 = ink)."""
        x, y = xy
        if self.font is not None:
            ImageDraw.Draw(mask).text((x, y), s, font=self.font, fill=255, stroke_width=stroke, stroke_fill=255)
            return
        pad = stroke + self.thickness + 2
        w = int(self.width(s)) + 2 * pad
        h = self.height + 2 * pad
        arr = np.zeros((h, w), dtype=np.uint8)
        cv2.putText(arr, s, (pad, pad + self.ascent), self.choice, self.scale, 255,
                    self.thickness + 2 * stroke, cv2.LINE_AA)
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
            if broken is not None and ww > max_w:
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
                  shadow: tuple[RGB, int] | None = None, angle: float = 0.0) -> Image.Image:
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


# ------------------------------------------------------------------------------------------- text cards


@dataclass(frozen=True)
class CardStyle:
    """Everything that decides how a text card looks, apart from its text and noise seeds."""

    size: tuple[int, int]
    choice: FaceChoice
    size_ratio: float  # canvas short side / starting font size
    bg: RGB
    fg: RGB
    background: str
    align: str
    angle: float
    spacing: float
    upper: bool
    border: RGB | None
    shadow: bool
    artefacts: float


def _pick_face(rng: random.Random, text: str, hershey_p: float = 0.12) -> FaceChoice:
    if _HERSHEY and rng.random() < hershey_p:
        return rng.choice(_HERSHEY)
    return choose_font(rng, text)


def sample_card_style(rng: random.Random, text: str = "") -> CardStyle:
    """A random card style whose fonts render `text`."""
    long_side = rng.randint(MIN_LONG_SIDE, MAX_LONG_SIDE)
    aspect = rng.choice((1.0, 1.0, 4 / 3, 3 / 2, 16 / 9, 2.0))
    short = int(long_side / aspect)
    size = (long_side, short) if rng.random() < 0.6 else (short, long_side)
    bg, fg = _pick_colours(rng)
    background = rng.choices(BACKGROUNDS[:4], weights=(0.35, 0.25, 0.22, 0.18))[0]
    border = None
    if rng.random() < 0.2:
        border = fg if rng.random() < 0.6 else _shade(bg, -60 if _luminance(bg) > 0.3 else 60)
    return CardStyle(
        size=size,
        choice=_pick_face(rng, text),
        size_ratio=rng.uniform(4.0, 9.0),
        bg=bg,
        fg=fg,
        background=background,
        align=rng.choices(("center", "left", "right"), weights=(0.5, 0.4, 0.1))[0],
        angle=0.0 if rng.random() < 0.45 else rng.uniform(-7.0, 7.0),
        spacing=rng.uniform(1.0, 1.35),
        upper=rng.random() < 0.12,
        border=border,
        shadow=rng.random() < 0.12,
        artefacts=rng.uniform(0.3, 1.0),
    )


def _render_paras_card(paras: list[Para], style: CardStyle, rng: random.Random,
                       width_frac: float = 0.86, valign: str = "center") -> Image.Image:
    w, h = style.size
    hi = max(MIN_FONT_PX, int(min(w, h) / style.size_ratio))
    max_w, max_h = w * width_frac, h * 0.88
    block, ok = _fit(paras, max_w, max_h, hi, MIN_FONT_PX, style.angle)
    if not ok:  # a long text: make the card taller (up to square, then beyond the long-side range)
        need = _rotated_size(block.width, block.height, style.angle)[1] / 0.86
        h = int(min(max(need, h), max(w, MAX_LONG_SIDE) * 1.4))
        block, ok = _fit(paras, max_w, h * 0.88, hi, 12, style.angle)
        h = max(h, int(_rotated_size(block.width, block.height, style.angle)[1] / 0.9) + 8)
    canvas = make_background(style.background, (w, h), style.bg, style.fg, rng)
    if style.border is not None:
        inset = rng.randint(6, 18)
        ImageDraw.Draw(canvas).rectangle(
            (inset, inset, w - inset - 1, h - inset - 1), outline=style.border, width=rng.randint(2, 5)
        )
    shadow = None
    if style.shadow:
        shadow = (_shade(style.bg, -70 if _luminance(style.bg) > 0.3 else 70), rng.randint(2, 3))
    layer = _render_block(block, style.fg, shadow=shadow, angle=style.angle)
    _paste_at(canvas, layer, rng, halign=paras[0].align if paras else "center", valign=valign)
    return degrade(canvas, rng, style.artefacts)


def _card_paras(text: str, style: CardStyle) -> list[Para]:
    if style.upper:
        text = text.upper()
    return [Para(text, style.choice, align=style.align, spacing=style.spacing)]


def render_text_card(text: str, rng: random.Random) -> Image.Image:
    """`text` on a card: random font, size, colours, background, slight rotation, word wrap, artefacts."""
    if not text.strip():
        raise ValueError("render_text_card: text is empty")
    style = sample_card_style(rng, text)
    return _render_paras_card(_card_paras(text, style), style, rng)


# ----------------------------------------------------------------------------------- numbered lists


_LIST_TITLES = (
    "Steps to {t}.", "Steps to {t}:", "How to {t}:", "Methods to {t}.", "A step-by-step guide to {t}:",
    "List of ways to {t}:", "Instructions to {t}.", "Steps to {t}. Fill in the details:",
)
_ITEM_FORMATS = ("{i}.", "{i}.", "{i}.", "{i})", "Step {i}:", "{i}. ____________", "{i}. ...")


def _list_title(title: str, rng: random.Random) -> str:
    t = title.strip().rstrip(".:")
    low = t.lower()
    if low.startswith(("steps ", "step ", "how ", "list ", "methods ", "ways ", "instructions ")):
        return t + rng.choice((".", ":", "."))
    if t and t[0].isupper() and not t[:2].isupper():
        t = t[0].lower() + t[1:]
    return rng.choice(_LIST_TITLES).format(t=t)


def render_numbered_list(title: str, n_items: int, rng: random.Random) -> Image.Image:
    """A typographic-jailbreak list (FigStep-like): "Steps to <title>." then items "1." "2." ... left empty."""
    if not title.strip():
        raise ValueError("render_numbered_list: title is empty")
    if not 1 <= n_items <= 10:
        raise ValueError(f"render_numbered_list: n_items must be 1 to 10, got {n_items}")
    head = _list_title(title, rng)
    fmt = rng.choice(_ITEM_FORMATS)
    figstep = rng.random() < 0.35  # the classic look: white square, black monospace bold
    if figstep:
        side = rng.randint(560, MAX_LONG_SIDE)
        face = choose_font(rng, head, families=("mono",), bold=True)
        style = CardStyle((side, side), face, rng.uniform(9, 13), (255, 255, 255), (0, 0, 0), "plain",
                          "left", 0.0, 1.1, False, None, False, rng.uniform(0.0, 0.4))
    else:
        style = sample_card_style(rng, head)
        w, h = style.size
        if w > h * 1.4:  # lists read better on squarish or portrait cards
            style = replace(style, size=(h, w) if rng.random() < 0.5 else (w, int(w * 0.8)))
        style = replace(style, align="left", angle=style.angle * 0.5, upper=False, size_ratio=rng.uniform(7, 11))
    title_face = style.choice
    item_face = title_face if rng.random() < 0.7 else _pick_face(rng, "0123456789.) Step:_")
    gap = rng.uniform(0.5, 1.5)
    paras = [Para(head, title_face, rel=rng.choice((1.0, 1.0, 1.15, 1.3)), align="left", spacing=style.spacing)]
    paras += [Para(fmt.format(i=i), item_face, align="left", gap=gap) for i in range(1, n_items + 1)]
    return _render_paras_card(paras, style, rng, width_frac=0.84, valign=rng.choice(("top", "center")))


# --------------------------------------------------------------------------------------- photo overlay

OVERLAY_STYLES = ("banner", "caption", "sticker", "outlined")


def _fit_photo(photo: Image.Image, rng: random.Random) -> Image.Image:
    img = photo.convert("RGB")
    w, h = img.size
    long_side = max(w, h)
    target = long_side if MIN_LONG_SIDE <= long_side <= MAX_LONG_SIDE else rng.randint(512, MAX_LONG_SIDE)
    if target != long_side:
        f = target / long_side
        img = img.resize((max(1, round(w * f)), max(1, round(h * f))), Image.BILINEAR, reducing_gap=2.0)
    return img.copy() if img is photo else img


def _boxed(block: _Block, fg: RGB, box: RGB, pad: int, radius: int, border: RGB | None = None,
           alpha: int = 255) -> Image.Image:
    text = _render_block(block, fg)
    w, h = text.size[0] + 2 * pad, text.size[1] + 2 * pad
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    d.rounded_rectangle((0, 0, w - 1, h - 1), radius=radius, fill=(*box, alpha),
                        outline=(*border, 255) if border else None, width=max(2, pad // 5) if border else 0)
    layer.alpha_composite(text, (pad, pad))
    return layer


def overlay_text_on_photo(photo: Image.Image, text: str, rng: random.Random, style: str | None = None) -> Image.Image:
    """`text` over `photo` as a banner, caption box, sticker, or outlined (meme-style) text."""
    if not text.strip():
        raise ValueError("overlay_text_on_photo: text is empty")
    if style is None:
        style = rng.choice(OVERLAY_STYLES)
    if style not in OVERLAY_STYLES:
        raise ValueError(f"overlay_text_on_photo: unknown style {style!r}; expected one of {OVERLAY_STYLES}")
    img = _fit_photo(photo, rng)
    w, h = img.size
    if rng.random() < 0.15:
        text = text.upper()
    if style == "banner":
        bg, fg = _pick_colours(rng, light_bias=0.5)
        face = _pick_face(rng, text, 0.1)
        block, _ = _fit([Para(text, face, align="center")], w * 0.9, h * 0.4,
                        max(MIN_FONT_PX, int(min(w, h) / rng.uniform(10, 16))), MIN_FONT_PX)
        layer = _render_block(block, fg)
        bh = layer.size[1] + rng.randint(8, 24)
        top = rng.random() < 0.5
        y0 = 0 if top else h - bh
        band = Image.new("RGBA", (w, bh), (*bg, rng.randint(215, 255)))
        img.paste(band, (0, y0), band)
        img.paste(layer, ((w - layer.size[0]) // 2, y0 + (bh - layer.size[1]) // 2), layer)
    elif style in ("caption", "sticker"):
        sticker = style == "sticker"
        bg, fg = _pick_colours(rng, light_bias=0.45 if sticker else 0.7)
        face = _pick_face(rng, text, 0.1)
        width_frac = rng.uniform(0.45, 0.75) if sticker else rng.uniform(0.6, 0.9)
        block, _ = _fit([Para(text, face, align=rng.choice(("center", "left")))], w * width_frac, h * 0.45,
                        max(MIN_FONT_PX, int(min(w, h) / rng.uniform(11, 18))), MIN_FONT_PX)
        pad = rng.randint(8, 18)
        border = (fg if rng.random() < 0.5 else (255, 255, 255)) if sticker else None
        layer = _boxed(block, fg, bg, pad, rng.randint(4, 22), border, 255 if sticker else rng.randint(220, 255))
        angle = rng.uniform(-12, 12) if sticker else (0.0 if rng.random() < 0.7 else rng.uniform(-3, 3))
        if sticker:  # soft drop shadow
            sh = Image.new("RGBA", layer.size, (0, 0, 0, 0))
            sh.putalpha(layer.getchannel("A").point(lambda a: a * 90 // 255))
            sh = sh.filter(ImageFilter.GaussianBlur(4))
            base = Image.new("RGBA", (layer.size[0] + 8, layer.size[1] + 8), (0, 0, 0, 0))
            base.alpha_composite(sh, (6, 6))
            base.alpha_composite(layer, (0, 0))
            layer = base
        layer = _rotate(layer, angle)
        if layer.size[0] > w or layer.size[1] > h:
            f = min(w / layer.size[0], h / layer.size[1]) * 0.95
            layer = layer.resize((int(layer.size[0] * f), int(layer.size[1] * f)), Image.BICUBIC)
        _paste_at(img, layer, rng, halign=rng.choice(("left", "center", "right")),
                  valign=rng.choice(("top", "center", "bottom")), margin=0.04)
    else:  # outlined text straight on the photo
        fg = rng.choice(((255, 255, 255), (255, 255, 255), (255, 235, 60)))
        face = _pick_face(rng, text, 0.0) if rng.random() < 0.3 else choose_font(rng, text, bold=True)
        size_hi = max(MIN_FONT_PX + 4, int(min(w, h) / rng.uniform(8, 13)))
        block, _ = _fit([Para(text, face, align="center")], w * 0.9, h * 0.45, size_hi, MIN_FONT_PX + 2)
        stroke = max(2, round(block.lines[0][0].size / rng.uniform(9, 13)))
        layer = _render_block(block, fg, stroke=stroke, stroke_fg=(0, 0, 0),
                              angle=0.0 if rng.random() < 0.6 else rng.uniform(-5, 5))
        _paste_at(img, layer, rng, halign="center", valign=rng.choice(("top", "bottom", "center")), margin=0.03)
    return degrade(img, rng, rng.uniform(0.2, 0.7))


# ------------------------------------------------------------------------------------- split phrases


def split_pieces(text: str, k: int, rng: random.Random) -> list[str]:
    """`text` cut into `k` non-empty pieces in order: whole words when there are enough, else parts of words."""
    words = text.split()
    if k < 1:
        raise ValueError(f"split_text_images: k must be >= 1, got {k}")
    if k > sum(len(w) for w in words):
        raise ValueError(f"split_text_images: cannot split {text!r} into {k} pieces")
    if len(words) >= k:
        cuts = sorted(rng.sample(range(1, len(words)), k - 1))
        bounds = [0, *cuts, len(words)]
        return [" ".join(words[a:b]) for a, b in zip(bounds, bounds[1:])]
    pieces = list(words)
    while len(pieces) < k:
        i = max(range(len(pieces)), key=lambda j: (len(pieces[j]), -j))
        p = pieces[i]
        cut = rng.randint(1, len(p) - 1) if len(p) > 2 else 1
        pieces[i : i + 1] = [p[:cut], p[cut:]]
    return pieces


def split_text_images(text: str, k: int, rng: random.Random) -> list[Image.Image]:
    """One phrase split over `k` cards (consecutive word groups, or word parts for short phrases)."""
    if not text.strip():
        raise ValueError("split_text_images: text is empty")
    pieces = split_pieces(text, k, rng)
    if rng.random() < 0.6:  # a matching series
        style = sample_card_style(rng, text)
        return [_render_paras_card(_card_paras(p, style), style, rng) for p in pieces]
    return [render_text_card(p, rng) for p in pieces]


# -------------------------------------------------------------------------------- benign typography

from mmshield.data.typography_benign import BENIGN_KINDS, render_benign_typography  # noqa: E402

__all__ = [
    "BACKGROUNDS",
    "BENIGN_KINDS",
    "OVERLAY_STYLES",
    "CardStyle",
    "Para",
    "contrast_ratio",
    "degrade",
    "make_background",
    "overlay_text_on_photo",
    "render_benign_typography",
    "render_numbered_list",
    "render_text_card",
    "sample_card_style",
    "split_pieces",
    "split_text_images",
]
