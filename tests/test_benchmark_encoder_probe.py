"""`benchmarks/encoder_probe.py`: which texts the probe takes, how long texts are cut, and a held-out run's report."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from benchmark_loader import load_benchmark

probe = load_benchmark("encoder_probe")

FULL = ["Violence & Harm", "Hate & Harassment", "Sexual Content", "Self-Harm & Suicide", "Illegal Activities",
        "Deception & Misinformation", "Privacy Violation", "Malicious Disruption"]


def record(rid: str, turns: list[dict], rating: str, pattern: str = "single_turn", policy=FULL, risk=None) -> dict:
    return {"id": rid, "conversations": turns, "user_rating": rating, "pattern": pattern, "usage_policy": policy,
            "source_family": "fam", "risk": risk}


def test_the_probe_takes_the_harmful_turn_once_and_skips_images_subsets_and_other_patterns(tmp_path):
    u = lambda text, image=None: {"role": "user", "content": text, "image": image}  # noqa: E731
    a = {"role": "assistant", "content": "ok"}
    train = [record("r1", [u("plan a robbery"), a, u("thanks")], "Unsafe", risk={"user_turns": [0]}),
             record("r2", [u("hello"), a, u("what is the weather")], "Safe"),
             record("r3", [u("plan a robbery")], "Unsafe", risk={"user_turns": [0]}),  # same text and label
             record("r4", [u("read this", image="x.png")], "Unsafe"),
             record("r5", [u("partial policy")], "Unsafe", policy=FULL[:2]),
             record("r6", [u("a red-team path")], "Unsafe", pattern="redteam")]
    for split, rows in (("train", train), ("dev", []), ("test", [])):
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    rows = probe.probe_rows(tmp_path)
    assert [(r["text"], r["y"]) for r in rows] == [("plan a robbery", 1), ("what is the weather", 0)]


def test_long_texts_keep_their_head_and_tail():
    ids = list(range(300))
    cut = probe.head_and_tail(ids)
    assert len(cut) == probe.MAX_PIECES - 2
    assert cut[:probe.HEAD_PIECES] == ids[:probe.HEAD_PIECES] and cut[-1] == 299
    assert probe.head_and_tail(ids[:50]) == ids[:50]


def test_a_held_out_run_reports_every_family_and_representation(tmp_path):
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    n, width = 400, 8
    labels = rng.integers(0, 2, n)
    states = rng.standard_normal((n, probe.MAX_PIECES, 384)).astype(np.float16) * 0.1
    states[:, :width, 0] += (labels[:, None] * 2 - 1).astype(np.float16)  # the label is readable from the mean
    rows = [{"text": f"t{i}", "y": int(labels[i]), "family": "a" if i % 2 else "b",
             "split": ("train", "train", "dev")[i % 3]} for i in range(n)]
    (tmp_path / "rows.json").write_text(json.dumps(rows), encoding="utf-8")
    np.save(tmp_path / "states.npy", states)
    np.save(tmp_path / "lengths.npy", np.full(n, width))
    report = tmp_path / "r"
    probe.lofo(argparse.Namespace(probe=tmp_path, models="mean,attn1", families="a,b", seeds="13", epochs=3,
                                  report=report))
    folds = json.loads(report.with_suffix(".json").read_text("utf-8"))["folds"]
    assert set(folds) == {"a", "b"} and all(set(f) == {"mean", "attn1"} for f in folds.values())
    assert all(r["auroc"] > 0.9 for f in folds.values() for r in f.values())  # a signal this plain carries over
    assert "| a | mean |" in report.with_suffix(".md").read_text("utf-8")
