"""`benchmarks/diasafety_unseen.py` measures the assistant side on DiaSafety categories a default build leaves
out: they must stay out unless asked for (`--toxic-replies`), the benchmark must find and score them, and
`--exclude-build` must leave out the pairs a build trains on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmark_loader import load_benchmark
from mmshield.data.sources import diasafety

FIXTURES = Path(__file__).parent / "fixtures" / "data"
bench = load_benchmark("diasafety_unseen")


def test_the_unseen_categories_are_only_loaded_as_opt_in_quoted_pairs():
    items = diasafety.load(FIXTURES)
    unseen = [it for it in items if it.meta.get("category") in bench.UNSEEN]
    assert unseen and all(it.kind == "quoted_pair" for it in unseen)
    assert all(it.kind != "quoted_pair" for it in items if it.meta.get("category") not in bench.UNSEEN)


def test_exclude_build_reads_the_replies_of_train_and_dev_only(tmp_path):
    def rec(reply: str) -> str:
        return json.dumps({"conversations": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": reply}]})

    (tmp_path / "train.jsonl").write_text(rec("You are  an idiot.") + "\n", encoding="utf-8")
    (tmp_path / "dev.jsonl").write_text(rec("Sure, agreed.") + "\n", encoding="utf-8")
    (tmp_path / "test.jsonl").write_text(rec("Held out reply.") + "\n", encoding="utf-8")
    assert bench.trained_replies(tmp_path) == {"You are an idiot.", "Sure, agreed."}


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


def test_it_leaves_out_the_pairs_a_build_trained_on(tmp_path):
    reply = bench.unseen_pairs(FIXTURES)[0]["response"]
    build = tmp_path / "build"
    build.mkdir()
    line = json.dumps({"conversations": [{"role": "assistant", "content": reply}]})
    (build / "train.jsonl").write_text(line + "\n", encoding="utf-8")
    (build / "dev.jsonl").write_text("", encoding="utf-8")
    out = tmp_path / "r.json"
    assert bench.main(["--data-root", str(FIXTURES), "--exclude-build", str(build), "--json", str(out)]) == 0
    res = json.loads(out.read_text("utf-8"))
    assert res["all"]["n"] == len(bench.unseen_pairs(FIXTURES)) - 1 and res["excluded_builds"] == [str(build)]
