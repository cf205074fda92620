"""`benchmarks/probe_drug_use.py`: drug requests and their look-alikes, written for the probe, and a run reports both."""

from __future__ import annotations

import json

from benchmark_loader import load_benchmark
from mmshield import get_shield
from mmshield.data import lexicon

probe = load_benchmark("probe_drug_use")


def test_the_look_alikes_fire_no_drug_rule():
    assert len(probe.DRUG_USE) == len(probe.LOOK_ALIKES) == 12 and not set(probe.DRUG_USE) & set(probe.LOOK_ALIKES)
    for text in probe.LOOK_ALIKES:
        assert all(sub != "Drug trafficking" for _, sub, _ in lexicon.match_all(text)), text


def test_a_run_reports_flags_dimensions_and_auroc(tmp_path):
    out = tmp_path / "r.json"
    assert probe.main(["--json", str(out)]) == 0
    run = json.loads(out.read_text("utf-8"))["runs"][0]
    threshold = get_shield("embedded").thresholds["user"]
    for kind in ("drug_use", "look_alikes"):
        res = run[kind]
        assert res["n"] == 12 and len(res["scores"]) == 12
        assert res["flagged"] == sum(sc >= threshold for sc in res["scores"]) == sum(res["dimensions"].values())
    assert 0.0 <= run["auroc"] <= 1.0
