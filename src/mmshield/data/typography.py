"""Text rendered into images, for the cross-modal part of the dataset (typographic attacks and benign text).

Every function is deterministic given its `random.Random`, uses only fonts bundled with installed
packages (see :mod:`mmshield.data.fonts`, plus OpenCV fonts when OpenCV is present; drawing is in
:mod:`mmshield.data.textrender`)
and keeps the text readable by an OCR model: contrast ratio >= 4.5, glyphs >= 16 px, mild artefacts.
Images are 384-768 px on the long side (a long text may make a card taller).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from PIL import Image, ImageDraw, ImageFilter

from mmshield.data.fonts import choose_font, fonts_for
from mmshield.data.textrender import (
    _CV_FONTS,
    _CV_UNICODE,
    _HERSHEY,
    _MARKERS,
    BACKGROUNDS,
    MAX_LONG_SIDE,
    MIN_CONTRAST,
    MIN_FONT_PX,
    MIN_LONG_SIDE,
    RGB,
    CvFont,
    FaceChoice,
    Para,
    _Block,
    _fit,
    _luminance,
    _paste_at,
    _pick_colours,
    _render_block,
    _rotate,
    _rotated_size,
    _shade,
    contrast_ratio,
    degrade,
    make_background,
)

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
    highlight: RGB | None = None
    wobble: float = 0.0
    frame: tuple[int, int] = (12, 3)  # border inset and width, px  # random sideways shift of each line, in font sizes (handwriting)


def _choose(rng: random.Random, text: str, **kw: object) -> FaceChoice:
    """choose_font, or OpenCV's wide-coverage face when no TrueType face here covers `text`."""
    if not fonts_for(text) and _CV_UNICODE is not None:
        return _CV_UNICODE
    return choose_font(rng, text, **kw)  # type: ignore[arg-type]


def _pick_face(rng: random.Random, text: str, opencv_p: float = 0.15) -> FaceChoice:
    """A TrueType face, or with probability `opencv_p` an OpenCV one (embedded variable font or Hershey)."""
    if not fonts_for(text) and _CV_UNICODE is not None:
        return _CV_UNICODE
    if rng.random() < opencv_p and text.isascii():
        if _CV_FONTS and rng.random() < 0.7:
            return CvFont(rng.choice(_CV_FONTS), rng.choice((300, 400, 500, 600, 700, 800, 900)))
        if _HERSHEY:
            return rng.choice(_HERSHEY)
    return choose_font(rng, text)


def sample_card_style(rng: random.Random, text: str = "") -> CardStyle:
    """A random card style whose fonts render `text`."""
    long_side = rng.randint(MIN_LONG_SIDE, MAX_LONG_SIDE)
    aspect = rng.choice((1.0, 1.0, 4 / 3, 3 / 2, 16 / 9, 2.0))
    short = int(long_side / aspect)
    size = (long_side, short) if rng.random() < 0.6 else (short, long_side)
    bg, fg = _pick_colours(rng)
    background = rng.choices(BACKGROUNDS, weights=(0.3, 0.2, 0.18, 0.12, 0.04, 0.06, 0.04, 0.06))[0]
    highlight = None
    if rng.random() < 0.1:
        marks = [c for c in _MARKERS if contrast_ratio(c, fg) >= MIN_CONTRAST]
        highlight = rng.choice(marks) if marks else None
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
        highlight=highlight,
        frame=(rng.randint(6, 18), rng.randint(2, 5)),
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
        inset, width = style.frame
        ImageDraw.Draw(canvas).rectangle((inset, inset, w - inset - 1, h - inset - 1), outline=style.border, width=width)
    shadow = None
    if style.shadow:
        shadow = (_shade(style.bg, -70 if _luminance(style.bg) > 0.3 else 70), rng.randint(2, 3))
    if style.wobble:
        block.lines = [(f, t, x + round(rng.uniform(-1, 1) * style.wobble * f.size), y) for f, t, x, y in block.lines]
    layer = _render_block(block, style.fg, shadow=shadow, angle=style.angle, highlight=style.highlight)
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
        face = _choose(rng, head, families=("mono",), bold=True)
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
                        max(MIN_FONT_PX, int(min(w, h) / rng.uniform(9, 14))), MIN_FONT_PX)
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
        face = _pick_face(rng, text, 0.0) if rng.random() < 0.3 else _choose(rng, text, bold=True)
        size_hi = max(MIN_FONT_PX + 4, int(min(w, h) / rng.uniform(6, 10)))
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

BENIGN_KINDS = ("menu", "sign", "note", "poster", "shopping_list", "recipe", "safety_sign")


def render_benign_typography(rng: random.Random, kind: str | None = None) -> tuple[Image.Image, str]:
    """A benign text image of `kind` (one of BENIGN_KINDS; random when None) and the text it shows.

    Menus, shop and street signs, handwritten-looking notes, event posters, shopping lists, recipe cards
    and safety signs; many use alarming words in their everyday sense (hard negatives)."""
    from mmshield.data.typography_benign import render_benign

    return render_benign(rng, kind)


__all__ = [
    "BACKGROUNDS",
    "BENIGN_KINDS",
    "OVERLAY_STYLES",
    "CardStyle",
    "CvFont",
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
