"""`benchmarks/diasafety_unseen.py` measures the assistant side on DiaSafety categories no build uses: the
build must really leave them out, and the benchmark must find and score them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

from mmshield.data.sources import diasafety

FIXTURES = Path(__file__).parent / "fixtures" / "data"
_spec = importlib.util.spec_from_file_location(
    "diasafety_unseen", Path(__file__).resolve().parents[1] / "benchmarks" / "diasafety_unseen.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)  # type: ignore[union-attr]


def test_the_unseen_categories_never_enter_a_build():
    items = diasafety.load(FIXTURES)
    assert items and not any(it.meta.get("category") in bench.UNSEEN for it in items)


def test_the_benchmark_finds_exactly_the_unseen_pairs():
    rows = bench.unseen_pairs(FIXTURES)
    raw = [r for s in ("train", "val", "test")
           for r in json.loads((FIXTURES / "diasafety" / "DiaSafety_dataset" / f"{s}.json").read_text("utf-8"))]
    assert rows and len(rows) == sum(r["category"] in bench.UNSEEN for r in raw)


def test_summary_counts_recall_and_false_positives_at_the_threshold():
    labels = np.array([True, True, False, False])
    out = bench.summary(labels, np.array([0.9, 0.2, 0.6, 0.1]), threshold=0.5)
    assert out == {"n": 4, "unsafe": 2, "auroc": 0.75, "recall": 0.5, "fpr": 0.5}


def test_it_runs_end_to_end_on_the_fixture_data(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert bench.main(["--data-root", str(FIXTURES), "--json", str(out)]) == 0
    res = json.loads(out.read_text("utf-8"))
    assert res["all"]["n"] == len(bench.unseen_pairs(FIXTURES)) and 0 <= res["threshold"] <= 1
