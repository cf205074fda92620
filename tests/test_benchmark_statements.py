"""`benchmarks/probe_statements.py`: its exchanges are well formed and a run reports both reply kinds."""

from __future__ import annotations

import json

from benchmark_loader import load_benchmark

probe = load_benchmark("probe_statements")


def test_each_exchange_has_a_harmful_and_a_different_safe_reply():
    assert len(probe.EXCHANGES) == 8
    for user, harmful, safe in probe.EXCHANGES:
        assert harmful.strip() and safe.strip() and harmful != safe
        d = probe.dialogue(0, user, harmful)
        assert [t.role for t in d.turns] == (["user", "assistant"] if user else ["assistant"])


def test_a_run_reports_flags_and_scores_for_both_kinds(tmp_path):
    out = tmp_path / "r.json"
    assert probe.main(["--json", str(out)]) == 0
    res = json.loads(out.read_text("utf-8"))
    for kind in ("harmful", "safe"):
        assert res[kind]["n"] == 8 and 0 <= res[kind]["flagged"] <= 8 and len(res[kind]["scores"]) == 8
    assert sum(res["harmful"]["scores"]) > sum(res["safe"]["scores"])  # ranked the right way round overall
