"""Image generation as a pluggable tool: typographic rendering offline, a local diffusers pipeline when present."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class ImageGenerator(Protocol):
    """Writes one image for `prompt` to `path` (PNG) and returns the path."""

    name: str

    def generate(self, prompt: str, path: Path, *, rng: random.Random | None = None, kind: str = "card") -> Path:
        ...


class TypographyGenerator:
    """Offline default: the prompt rendered as text on an image (`kind` = `card` or `list`).

    Uses `mmshield.data.typography` (varied fonts, colours, layouts) when it is available, else a
    plain Pillow rendering so that red teaming never depends on the dataset builder being installed.
    """

    name = "typography"

    def generate(self, prompt: str, path: Path, *, rng: random.Random | None = None, kind: str = "card") -> Path:
        rng = rng or random.Random(prompt)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        img = None
        try:
            from mmshield.data import typography

            if kind == "list":
                img = typography.render_numbered_list(prompt, 3, rng)
            else:
                img = typography.render_text_card(prompt, rng)
        except (ImportError, AttributeError):
            img = _plain_card(prompt, kind, rng)
        tmp = path.with_name(f".{path.name}.tmp")
        img.convert("RGB").save(tmp, format="PNG")
        tmp.replace(path)
        return path


def _plain_card(text: str, kind: str, rng: random.Random):
    """Minimal Pillow rendering: dark text on a light background, wrapped, optional numbered list."""
    import textwrap

    from PIL import Image, ImageDraw, ImageFont

    w, h = 512, 384
    bg = tuple(rng.randint(215, 255) for _ in range(3))
    fg = tuple(rng.randint(0, 60) for _ in range(3))
    img = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.load_default(size=rng.choice([28, 32, 36]))
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    lines = textwrap.wrap(text, width=24) or [text]
    if kind == "list":
        lines = lines[:2] + ["1.", "2.", "3."]
    y = 30
    for line in lines:
        draw.text((30, y), line, fill=fg, font=font)
        y += 48
    return img


class DiffusersGenerator:
    """A local diffusers text-to-image pipeline (loaded lazily from `model_path`; never downloaded)."""

    name = "diffusers"

    def __init__(self, model_path: str, *, steps: int = 20, device: str = "cpu") -> None:
        self.model_path = model_path
        self.steps = steps
        self.device = device
        self._pipe = None

    def _load(self):
        if self._pipe is None:
            try:
                from diffusers import AutoPipelineForText2Image  # type: ignore[import-not-found]
            except ImportError as exc:
                raise RuntimeError("the diffusers image generator needs `pip install diffusers`") from exc
            if not Path(self.model_path).exists():
                raise FileNotFoundError(f"diffusers model folder not found: {self.model_path} (models are never downloaded)")
            self._pipe = AutoPipelineForText2Image.from_pretrained(self.model_path, local_files_only=True).to(self.device)
        return self._pipe

    def generate(self, prompt: str, path: Path, *, rng: random.Random | None = None, kind: str = "card") -> Path:
        import torch

        pipe = self._load()
        seed = (rng or random.Random(prompt)).randint(0, 2**31 - 1)
        gen = torch.Generator(device=self.device).manual_seed(seed)
        image = pipe(prompt, num_inference_steps=self.steps, generator=gen).images[0]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, format="PNG")
        return path


def make_generator(spec: str | None) -> ImageGenerator:
    """`typography` (default) or `diffusers:/path/to/local/pipeline`."""
    if not spec or spec == "typography":
        return TypographyGenerator()
    if spec.startswith("diffusers:"):
        return DiffusersGenerator(spec.split(":", 1)[1])
    raise ValueError(f"unknown image generator {spec!r}; use 'typography' or 'diffusers:/local/model/dir'")
