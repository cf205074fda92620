"""`benchmarks/probe_intents.py`: harmful plans and benign twins, phrased unlike the build's, and a run reports both."""

from __future__ import annotations

import json

from benchmark_loader import load_benchmark
from mmshield import get_shield
from mmshield.data import strategies

probe = load_benchmark("probe_intents")


def test_the_probe_statements_are_not_the_builds_own_phrasings():
    assert len(probe.HARMFUL) == len(probe.BENIGN) == 12 and not set(probe.HARMFUL) & set(probe.BENIGN)
    openers = [o.split("{t}")[0].strip() for o in strategies._INTENT_OPENERS]
    for text in probe.HARMFUL + probe.BENIGN:
        assert not any(text.startswith(o) for o in openers), text


def test_a_run_reports_flags_scores_and_auroc(tmp_path):
    out = tmp_path / "r.json"
    assert probe.main(["--json", str(out)]) == 0
    res = json.loads(out.read_text("utf-8"))["packaged"]
    threshold = get_shield("embedded").thresholds["user"]
    for kind in ("harmful", "benign"):
        assert res[kind]["n"] == 12 and 0 <= res[kind]["flagged"] <= 12 and len(res[kind]["scores"]) == 12
        # under the full policy a side is flagged exactly when its whole unsafe score reaches the threshold
        assert res[kind]["flagged"] == sum(sc >= threshold for sc in res[kind]["scores"])
    assert 0.0 <= res["auroc"] <= 1.0
