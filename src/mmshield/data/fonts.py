"""Fonts reachable offline on any machine with the package's extras installed.

Only fonts that ship inside installed Python packages are used, so rendering is identical on every
machine (system fonts under /usr/share/fonts are deliberately ignored):

* matplotlib's ``mpl-data/fonts/ttf``: DejaVu Sans / Serif / Sans Mono (regular, bold, italic, bold
  italic), STIX General (a Times-like serif, four styles) and the Computer Modern faces
  cmr10 / cmss10 / cmtt10 / cmb10 (ASCII letters, digits and common punctuation only);
* Pillow's built-in scalable default font (``ImageFont.load_default(size=...)``, Pillow >= 10.1).

When matplotlib is missing only Pillow's default font is available. Stroke fonts (OpenCV's Hershey
faces, and OpenCV 5 embedded fonts) are drawn by :mod:`mmshield.data.textrender`.
"""

from __future__ import annotations

import functools
import importlib.util
import random
import string
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

_CM_SAFE = frozenset(string.ascii_letters + string.digits + " \n.,:;!?()-'&%$/+*=#@\"")
"""Characters that the Computer Modern (BaKoMa) faces map to their usual glyphs."""


@dataclass(frozen=True)
class FontSpec:
    """One font face: `file` is a TrueType file name in matplotlib's font folder, None for Pillow's default."""

    name: str
    file: str | None
    family: str  # "sans", "serif", "mono"
    bold: bool = False
    italic: bool = False
    ascii_only: bool = False

    def supports(self, text: str) -> bool:
        """Whether every character of `text` renders with its usual glyph in this face."""
        if self.ascii_only:
            return all(c in _CM_SAFE for c in text)
        chars = {ord(c) for c in text if not c.isspace()}
        if self.file is None:  # Pillow's built-in face covers Latin-1
            return all(32 <= c < 256 for c in chars)
        cmap = _cmap(self.file)
        return cmap is None or chars <= cmap


_MPL_FACES: tuple[FontSpec, ...] = (
    FontSpec("DejaVu Sans", "DejaVuSans.ttf", "sans"),
    FontSpec("DejaVu Sans Bold", "DejaVuSans-Bold.ttf", "sans", bold=True),
    FontSpec("DejaVu Sans Oblique", "DejaVuSans-Oblique.ttf", "sans", italic=True),
    FontSpec("DejaVu Sans Bold Oblique", "DejaVuSans-BoldOblique.ttf", "sans", bold=True, italic=True),
    FontSpec("DejaVu Serif", "DejaVuSerif.ttf", "serif"),
    FontSpec("DejaVu Serif Bold", "DejaVuSerif-Bold.ttf", "serif", bold=True),
    FontSpec("DejaVu Serif Italic", "DejaVuSerif-Italic.ttf", "serif", italic=True),
    FontSpec("DejaVu Serif Bold Italic", "DejaVuSerif-BoldItalic.ttf", "serif", bold=True, italic=True),
    FontSpec("DejaVu Sans Mono", "DejaVuSansMono.ttf", "mono"),
    FontSpec("DejaVu Sans Mono Bold", "DejaVuSansMono-Bold.ttf", "mono", bold=True),
    FontSpec("DejaVu Sans Mono Oblique", "DejaVuSansMono-Oblique.ttf", "mono", italic=True),
    FontSpec("STIX General", "STIXGeneral.ttf", "serif"),
    FontSpec("STIX General Bold", "STIXGeneralBol.ttf", "serif", bold=True),
    FontSpec("STIX General Italic", "STIXGeneralItalic.ttf", "serif", italic=True),
    FontSpec("STIX General Bold Italic", "STIXGeneralBolIta.ttf", "serif", bold=True, italic=True),
    FontSpec("Computer Modern Roman", "cmr10.ttf", "serif", ascii_only=True),
    FontSpec("Computer Modern Bold", "cmb10.ttf", "serif", bold=True, ascii_only=True),
    FontSpec("Computer Modern Sans", "cmss10.ttf", "sans", ascii_only=True),
    FontSpec("Computer Modern Typewriter", "cmtt10.ttf", "mono", ascii_only=True),
)
PILLOW_DEFAULT = FontSpec("Pillow default", None, "sans")


@functools.lru_cache(maxsize=1)
def matplotlib_font_dir() -> Path | None:
    """matplotlib's bundled TrueType folder, found without importing matplotlib; None when absent."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        d = Path(loc) / "mpl-data" / "fonts" / "ttf"
        if d.is_dir():
            return d
    return None


@functools.lru_cache(maxsize=64)
def _cmap(file: str) -> frozenset[int] | None:
    """Code points the face maps (via fontTools, a matplotlib dependency); None when unknown."""
    d = matplotlib_font_dir()
    try:
        from fontTools.ttLib import TTFont
    except ImportError:  # pragma: no cover - fontTools ships with matplotlib
        return None
    if d is None:
        return None
    with TTFont(str(d / file), lazy=True) as font:
        return frozenset(font.getBestCmap() or ())


def fonts_for(text: str) -> list[FontSpec]:
    """The available faces that render every character of `text`."""
    return [f for f in available_fonts() if f.supports(text)]


@functools.lru_cache(maxsize=1)
def available_fonts() -> tuple[FontSpec, ...]:
    """Every usable face, in a fixed order (so a seeded choice is the same on every machine)."""
    faces: list[FontSpec] = []
    d = matplotlib_font_dir()
    if d is not None:
        faces.extend(f for f in _MPL_FACES if f.file is not None and (d / f.file).is_file())
    faces.append(PILLOW_DEFAULT)
    return tuple(faces)


@functools.lru_cache(maxsize=512)
def load_font(spec: FontSpec, size: int) -> ImageFont.FreeTypeFont:
    """The face at `size` pixels (cached)."""
    if spec.file is None:
        font = ImageFont.load_default(size=size)
        if not isinstance(font, ImageFont.FreeTypeFont):  # pragma: no cover - Pillow without FreeType
            raise RuntimeError("Pillow was built without FreeType; scalable fonts are unavailable")
        return font
    d = matplotlib_font_dir()
    assert d is not None
    return ImageFont.truetype(str(d / spec.file), size)


def choose_font(
    rng: random.Random,
    text: str = "",
    *,
    families: tuple[str, ...] | None = None,
    bold: bool | None = None,
    italic: bool | None = None,
) -> FontSpec:
    """A random face that renders `text`, optionally restricted by family, weight or slant
    (any face when none covers `text`: see :func:`fonts_for`)."""
    faces = fonts_for(text) or list(available_fonts())
    narrowed = [
        f
        for f in faces
        if (families is None or f.family in families)
        and (bold is None or f.bold == bold)
        and (italic is None or f.italic == italic)
    ]
    return rng.choice(narrowed or faces)
