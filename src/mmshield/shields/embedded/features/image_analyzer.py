"""Per-image features (OCR, safety scores, cheap facts), cached in memory and on disk by content hash."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mmshield.errors import ImageError
from mmshield.images import ImageRef
from mmshield.shields.embedded.features.cache import LRUCache, cache_dir
from mmshield.shields.embedded.features.image_safety import ImageSafety
from mmshield.shields.embedded.features.ocr import OCREngine, OCRLine

log = logging.getLogger(__name__)

FEATURES_VERSION = 1
FACT_SIDE = 256


@dataclass
class ImageFeatures:
    """What the shield knows about one image. `ocr_text` has one line per row, in reading order."""

    sha256: str
    width: int
    height: int
    ocr_text: str = ""
    ocr_lines: list[OCRLine] = field(default_factory=list)
    ocr_confidence: float = 0.0
    text_area_fraction: float = 0.0
    safety: dict[str, float] = field(default_factory=dict)
    mean_rgb: tuple[float, float, float] = (0.0, 0.0, 0.0)
    brightness: float = 0.0
    saturation: float = 0.0
    edge_density: float = 0.0
    uniform_fraction: float = 0.0
    aspect: float = 1.0
    compute_ms: float = 0.0

    @property
    def has_text(self) -> bool:
        return bool(self.ocr_text.strip())

    def facts_vector(self) -> np.ndarray:
        """Cheap image facts as a fixed-length float32 vector (see FACT_NAMES)."""
        return np.asarray(
            [*self.mean_rgb, self.brightness, self.saturation, self.edge_density, self.uniform_fraction,
             float(np.log(max(self.aspect, 1e-3))), self.text_area_fraction, self.ocr_confidence],
            dtype=np.float32,
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ocr_lines"] = [line.to_dict() for line in self.ocr_lines]
        d["mean_rgb"] = list(self.mean_rgb)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ImageFeatures:
        d = dict(d)
        d["ocr_lines"] = [
            OCRLine(text=x["text"], confidence=float(x["confidence"]), box=tuple(tuple(p) for p in x["box"]))  # type: ignore[arg-type]
            for x in d.get("ocr_lines", [])
        ]
        d["mean_rgb"] = tuple(d.get("mean_rgb", (0.0, 0.0, 0.0)))
        return cls(**d)


FACT_NAMES = ("mean_r", "mean_g", "mean_b", "brightness", "saturation", "edge_density", "uniform_fraction",
              "log_aspect", "text_area_fraction", "ocr_confidence")


def image_facts(img) -> dict:
    """Mean colour, brightness, saturation, edge density and the share of the dominant flat colour
    (text cards are mostly one background colour), computed on a <= 256 px copy (a few ms)."""
    from PIL import Image

    w, h = img.size
    small = img.copy()
    small.thumbnail((FACT_SIDE, FACT_SIDE), Image.BILINEAR)
    rgb = np.asarray(small, dtype=np.float32) / 255.0
    mx, mn = rgb.max(axis=2), rgb.min(axis=2)
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
    gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    gx = np.abs(np.diff(gray, axis=1))[:-1, :]
    gy = np.abs(np.diff(gray, axis=0))[:, :-1]
    edges = float(((gx + gy) > 0.1).mean()) if gx.size else 0.0
    q = (np.asarray(small, dtype=np.uint8) // 32).reshape(-1, 3).astype(np.int32)
    codes = q[:, 0] * 64 + q[:, 1] * 8 + q[:, 2]
    uniform = float(np.bincount(codes, minlength=512).max() / max(1, codes.size))
    mean = rgb.reshape(-1, 3).mean(axis=0)
    return {
        "mean_rgb": (float(mean[0]), float(mean[1]), float(mean[2])),
        "brightness": float(gray.mean()),
        "saturation": float(sat.mean()),
        "edge_density": edges,
        "uniform_fraction": uniform,
        "aspect": float(w / h) if h else 1.0,
    }


class FeatureStore:
    """A small sqlite key -> JSON store (WAL mode, safe for several processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("CREATE TABLE IF NOT EXISTS features (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._conn.commit()

    def get(self, key: str) -> dict | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM features WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict) -> None:
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO features (key, value) VALUES (?, ?)", (key, json.dumps(value)))
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM features").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class ImageAnalyzer:
    """`analyze(ref)` -> ImageFeatures: cheap facts first, then OCR and safety (models loaded lazily).

    Results are cached by content hash in memory (LRU) and, unless `disk_cache=False`, in
    `<cache dir>/image_features.sqlite` (or the path given), keyed by hash and the settings in force.
    """

    def __init__(
        self,
        *,
        ocr: OCREngine | bool = True,
        safety: ImageSafety | bool = True,
        memory_cache_size: int = 2048,
        disk_cache: bool | str | Path = True,
    ) -> None:
        self.ocr: OCREngine | None = OCREngine() if ocr is True else (ocr or None)
        self._safety_arg = safety
        self._safety: ImageSafety | None = safety if isinstance(safety, ImageSafety) else None
        self._memory: LRUCache[str, ImageFeatures] = LRUCache(memory_cache_size)
        self._disk_arg = disk_cache
        self._store: FeatureStore | None = None
        self._store_failed = False
        self._lock = threading.Lock()

    @property
    def safety(self) -> ImageSafety | None:
        if self._safety is None and self._safety_arg is True:
            self._safety = ImageSafety()
        return self._safety

    @property
    def memory_cache(self) -> LRUCache[str, ImageFeatures]:
        return self._memory

    def signature(self) -> str:
        """Settings that change the features; part of the disk-cache key."""
        ocr = f"ocr{self.ocr.max_side}-{int(self.ocr.use_cls)}-{self.ocr.min_confidence}" if self.ocr else "noocr"
        safe = "safety" if self._safety_arg else "nosafety"
        return f"v{FEATURES_VERSION}|{ocr}|{safe}"

    def store(self) -> FeatureStore | None:
        if self._disk_arg is False or self._store_failed:
            return None
        if self._store is None:
            with self._lock:
                if self._store is None:
                    path: Path | str = "<cache dir>"
                    try:
                        path = cache_dir() / "image_features.sqlite" if self._disk_arg is True else Path(self._disk_arg)  # type: ignore[arg-type]
                        self._store = FeatureStore(Path(path))
                    except (OSError, sqlite3.Error) as exc:
                        log.warning("image feature disk cache disabled (%s): %s", path, exc)
                        self._store_failed = True
                        return None
        return self._store

    def analyze(self, ref: ImageRef) -> ImageFeatures:
        """Features of one image; raises ImageError for a missing, corrupt or oversized image."""
        sha = ref.sha256
        key = f"{sha}|{self.signature()}"
        hit = self._memory.get(key)
        if hit is not None:
            return hit
        store = self.store()
        if store is not None:
            try:
                cached = store.get(key)
            except sqlite3.Error as exc:
                log.warning("image feature cache read failed: %s", exc)
                cached = None
            if cached is not None:
                feats = ImageFeatures.from_dict(cached)
                self._memory.put(key, feats)
                return feats
        feats = self._compute(ref, sha)
        self._memory.put(key, feats)
        if store is not None:
            try:
                store.put(key, feats.to_dict())
            except sqlite3.Error as exc:
                log.warning("image feature cache write failed: %s", exc)
        return feats

    def analyze_many(self, refs: list[ImageRef], *, errors: str = "raise") -> list[ImageFeatures | ImageError]:
        """Features of several images (duplicates computed once). With errors="return", a bad image
        gives its ImageError in place and the others are still analysed."""
        if errors not in ("raise", "return"):
            raise ValueError("errors must be 'raise' or 'return'")
        out: list[ImageFeatures | ImageError] = []
        for ref in refs:
            try:
                out.append(self.analyze(ref))
            except ImageError as exc:
                if errors == "raise":
                    raise
                out.append(exc)
        return out

    def _compute(self, ref: ImageRef, sha: str) -> ImageFeatures:
        t0 = time.perf_counter()
        img = ref.load()
        w, h = img.size
        facts = image_facts(img)
        feats = ImageFeatures(sha256=sha, width=w, height=h, **facts)
        if self.ocr is not None:
            res = self.ocr.read(img)
            feats.ocr_lines = res.lines
            feats.ocr_text = res.text
            feats.ocr_confidence = res.confidence
            feats.text_area_fraction = res.text_area_fraction
        safety = self.safety
        if safety is not None:
            feats.safety = safety.scores(img)
        feats.compute_ms = (time.perf_counter() - t0) * 1000
        return feats
