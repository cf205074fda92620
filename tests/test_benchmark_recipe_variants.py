"""`benchmarks/recipe_variants.py`: variant specs are checked, and a run trains and scores every variant."""

from __future__ import annotations

import json

import pytest

from benchmark_loader import load_benchmark

rv = load_benchmark("recipe_variants")


def test_variant_specs_take_config_types_and_refuse_unknown_fields():
    name, changes = rv.parse_variant("drop=policy_drop_weight:1.5,epochs:3")
    assert name == "drop" and changes == {"policy_drop_weight": 1.5, "epochs": 3}
    assert isinstance(changes["epochs"], int)
    assert rv.parse_variant("u=policy_drop_sides:user")[1] == {"policy_drop_sides": "user"}  # a text field stays text
    with pytest.raises(SystemExit, match="not a TrainConfig field"):
        rv.parse_variant("bad=learning_rate:1")


def test_a_run_reports_every_variant_on_the_test_split(tmp_path):
    pytest.importorskip("torch")
    from mmshield.shields.embedded import training as tr
    from test_embedded_model import _toy_examples

    examples = _toy_examples()
    for k, split in enumerate(("train", "dev", "test")):
        tr.save_examples(tmp_path / f"{split}.npz", [e for i, e in enumerate(examples) if i % 3 == k])
    out = tmp_path / "report"
    assert rv.main(["--features-cache", str(tmp_path), "--out", str(out), "--set", "epochs:10,hidden:8,proj:8,lr:0.01,dropout:0",
                    "drop=policy_drop_weight:1", "flat=family_balance:1"]) == 0
    res = json.loads(out.with_suffix(".json").read_text("utf-8"))
    assert list(res) == ["base", "drop", "flat"]
    assert res["drop"]["config"] == {"policy_drop_weight": 1.0}
    for r in res.values():
        assert r["user"]["n"] == sum(i % 3 == 2 for i in range(len(examples)))
        assert r["auroc"]["user"] > 0.9  # the toy signal is plain: every recipe must learn it
    assert "| drop |" in out.with_suffix(".md").read_text("utf-8")
