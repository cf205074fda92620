"""OCR with RapidOCR (PP-OCRv4 det/rec on onnxruntime, bundled in `rapidocr_onnxruntime`), loaded lazily.

Speed-ups over the library defaults: the image is downscaled so its longest side is at most `max_side`
(the default config *upscales* the shortest side to 736 px), detection limits the longest side instead
of the shortest, sessions use a fixed thread count without busy-waiting and with the memory arena on
(see `_tune_sessions`), and the 180-degree angle
classifier can be switched off. Lines are returned in reading order with boxes of one row merged.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

Box = tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class OCRLine:
    """One line of text in reading order: text, mean confidence, and its box (4 corner points, x/y)."""

    text: str
    confidence: float
    box: Box

    def to_dict(self) -> dict:
        return {"text": self.text, "confidence": self.confidence, "box": [list(p) for p in self.box]}


@dataclass
class OCRResult:
    """Lines of one image, the joined text, and the fraction of the image covered by text boxes."""

    lines: list[OCRLine] = field(default_factory=list)
    text_area_fraction: float = 0.0
    elapsed_ms: float = 0.0

    @property
    def text(self) -> str:
        """All lines joined in reading order, one line per row."""
        return "\n".join(line.text for line in self.lines)

    @property
    def confidence(self) -> float:
        """Character-weighted mean confidence (0 when no text)."""
        total = sum(len(li.text) for li in self.lines)
        if not total:
            return 0.0
        return sum(li.confidence * len(li.text) for li in self.lines) / total


def _polygon_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def reading_order(items: list[tuple[np.ndarray, str, float]], row_overlap: float = 0.5) -> list[OCRLine]:
    """Group detected boxes into rows (vertical overlap >= `row_overlap` of the smaller height),
    sort rows top to bottom and boxes left to right, and merge each row into one line."""
    boxes = []
    for pts, text, conf in items:
        text = text.strip()
        if not text:
            continue
        ys, xs = pts[:, 1], pts[:, 0]
        boxes.append((float(ys.min()), float(ys.max()), float(xs.min()), float(xs.max()), text, float(conf)))
    boxes.sort(key=lambda b: ((b[0] + b[1]) / 2, b[2]))
    rows: list[list[tuple]] = []
    for b in boxes:
        placed = False
        for row in rows:
            top = min(r[0] for r in row)
            bottom = max(r[1] for r in row)
            overlap = min(bottom, b[1]) - max(top, b[0])
            height = min(bottom - top, b[1] - b[0])
            if height > 0 and overlap >= row_overlap * height:
                row.append(b)
                placed = True
                break
        if not placed:
            rows.append([b])
    rows.sort(key=lambda row: min(r[0] for r in row))
    lines = []
    for row in rows:
        row.sort(key=lambda r: r[2])
        text = " ".join(r[4] for r in row)
        n = sum(len(r[4]) for r in row)
        conf = sum(r[5] * len(r[4]) for r in row) / n
        x0, x1 = int(min(r[2] for r in row)), int(max(r[3] for r in row))
        y0, y1 = int(min(r[0] for r in row)), int(max(r[1] for r in row))
        lines.append(OCRLine(text=text, confidence=conf, box=((x0, y0), (x1, y0), (x1, y1), (x0, y1))))
    return lines


class OCREngine:
    """Reads text from images; the RapidOCR models are loaded on first use (or by `load()`)."""

    def __init__(
        self,
        *,
        max_side: int = 960,
        use_cls: bool = False,
        threads: int | None = None,
        text_score: float = 0.5,
        min_confidence: float = 0.5,
        box_thresh: float = 0.5,
    ) -> None:
        from mmshield.shields.embedded.features.text_encoder import default_threads

        if max_side < 64:
            raise ValueError("max_side must be >= 64")
        self.max_side = max_side
        self.use_cls = use_cls
        self.threads = threads or default_threads()
        self.text_score = text_score
        self.min_confidence = min_confidence
        self.box_thresh = box_thresh
        self._engine = None
        self._lock = threading.Lock()
        self.init_seconds: float | None = None

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    def load(self) -> None:
        """Create the RapidOCR engine (det, cls, rec sessions)."""
        if self._engine is not None:
            return
        with self._lock:
            if self._engine is not None:
                return
            t0 = time.perf_counter()
            from rapidocr_onnxruntime import RapidOCR
            from rapidocr_onnxruntime.utils import infer_engine

            _tune_sessions(infer_engine)
            self._engine = RapidOCR(
                det_limit_type="max",
                det_limit_side_len=self.max_side,
                use_cls=self.use_cls,
                text_score=self.text_score,
                max_side_len=max(self.max_side, 64),
                intra_op_num_threads=self.threads,
                inter_op_num_threads=1,
                print_verbose=False,
            )
            self.init_seconds = time.perf_counter() - t0

    def read(self, image) -> OCRResult:
        """OCR of a PIL image (any mode) or an RGB uint8 array (H, W, 3)."""
        t0 = time.perf_counter()
        rgb = _to_rgb_array(image)
        h, w = rgb.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        if scale < 1.0:
            from PIL import Image

            small = Image.fromarray(rgb).resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR)
            rgb = np.asarray(small)
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        self.load()
        assert self._engine is not None
        raw, _ = self._engine(bgr, use_cls=self.use_cls, box_thresh=self.box_thresh, text_score=self.text_score)
        items = []
        area = 0.0
        for box, text, conf in raw or []:
            if float(conf) < self.min_confidence:
                continue
            pts = np.asarray(box, dtype=np.float32) / scale
            area += _polygon_area(pts)
            items.append((pts, str(text), float(conf)))
        lines = reading_order(items)
        frac = min(1.0, area / float(w * h)) if w * h else 0.0
        return OCRResult(lines=lines, text_area_fraction=frac, elapsed_ms=(time.perf_counter() - t0) * 1000)


def _to_rgb_array(image) -> np.ndarray:
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an RGB array (H, W, 3), got shape {image.shape}")
        return image.astype(np.uint8, copy=False)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image)


_PATCHED = False


def _tune_sessions(infer_engine) -> None:
    """RapidOCR session tweaks: sleep instead of spinning between ops (the CPUs are shared) and keep
    the memory arena on (RapidOCR turns it off, which costs an allocation per op and image)."""
    global _PATCHED
    if _PATCHED:
        return
    original = infer_engine.OrtInferSession._init_sess_opts

    def init_sess_opts(config):
        opts = original(config)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.enable_cpu_mem_arena = True
        return opts

    infer_engine.OrtInferSession._init_sess_opts = staticmethod(init_sess_opts)
    _PATCHED = True
