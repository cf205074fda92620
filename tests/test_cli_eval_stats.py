"""`mmshield eval` and `mmshield stats` on the bundled example set (figures computed by hand in test_metrics)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, REPO

GOLD = EXAMPLES / "mmds_examples.jsonl"
PRED = EXAMPLES / "predictions_example.jsonl"


def test_eval_json_contract(run_cli) -> None:
    rc, out, err = run_cli("eval", str(GOLD), str(PRED), "--json")
    assert rc == 0
    assert out.count("\n") == 1  # exactly one JSON object
    obj = json.loads(out)
    assert list(obj)[:3] == ["user", "assistant", "per_dimension"]
    for side in ("user", "assistant"):
        assert list(obj[side])[:6] == ["n", "precision", "recall", "f1", "accuracy", "fpr"]
    assert obj["user"]["f1"] == pytest.approx(0.6) and obj["assistant"]["fpr"] == pytest.approx(0.125)
    assert obj["per_dimension"]["user"]["Illegal Activities"] == pytest.approx(2 / 3)
    assert "ex12-assistant-only" in err and "ex07-accumulation" in err and "counted as failure" in err


def test_eval_text_and_report(run_cli, tmp_path: Path) -> None:
    rc, out, err = run_cli("eval", str(GOLD), str(PRED), "--report", str(tmp_path / "r"), "--no-plots")
    assert rc == 0
    assert "user" in out and "0.6364" in out and "AUPRC (user): 0.7600" in out
    assert sorted(f.name for f in (tmp_path / "r").iterdir()) == ["metrics.json", "report.md"]  # plots: test_metrics


def test_eval_bad_prediction_lines_are_reported(run_cli, tmp_path: Path) -> None:
    p = tmp_path / "p.jsonl"
    good = [json.loads(x) for x in PRED.read_text().splitlines()][:3]
    p.write_text(json.dumps(good[0]) + "\n{oops\n" + json.dumps({"user_rating": "Safe"}) + "\n"
                 + json.dumps(good[1]) + "\n" + json.dumps({**good[2], "user_rating": "maybe"}) + "\n", "utf-8")
    rc, out, err = run_cli("eval", str(GOLD), str(p), "--json")
    assert rc == 2 and "maybe" in err
    p.write_text(json.dumps(good[0]) + "\n{oops\n" + json.dumps({"user_rating": "Safe"}) + "\n", "utf-8")
    rc, out, err = run_cli("eval", str(GOLD), str(p), "--json")
    assert rc == 0 and "not a valid JSON line" in err and "must be an object with an 'id'" in err
    obj = json.loads(out)
    assert len(obj["missing"]) == 11 and obj["user"]["n"] == 11 and obj["user"]["tp"] == 0


def test_eval_missing_file(run_cli, tmp_path: Path) -> None:
    rc, _, err = run_cli("eval", str(GOLD), str(tmp_path / "none.jsonl"))
    assert rc == 2 and "not found" in err


def test_stats_json(run_cli) -> None:
    rc, out, _ = run_cli("stats", str(GOLD), "--json")
    st = json.loads(out)
    assert rc == 0 and (st["records"], st["valid"], st["invalid"]) == (12, 12, 0)
    assert st["ratings"] == {"user": {"Safe": 6, "Unsafe": 5, "null": 1}, "assistant": {"Safe": 8, "Unsafe": 3, "null": 1}}
    assert st["dimensions"]["user"] == {"NA: None applying": 6, "Illegal Activities": 2, "Malicious Disruption": 1,
                                        "Violence & Harm": 1, "Privacy Violation": 1}
    assert st["dimensions"]["assistant"]["Self-Harm & Suicide"] == 1
    assert st["turns"] == {"user": 14, "assistant": 14}
    assert st["turn_count_histogram"] == {"1": 2, "2": 8, "4": 1, "6": 1}
    assert st["images"]["total"] == 7 and st["images"]["dialogues_with_images"] == 6
    assert st["images"]["per_dialogue_histogram"] == {"0": 6, "1": 5, "2": 1}
    assert st["data_type"] == {"augmentation": 4, "default": 8}
    assert st["subdimension"]["Burglary"] == 1 and len(st["subdimension"]) == 8
    assert st["sources"] == {"handmade": 12} and st["with_usage_policy"] == 2 and st["with_system_message"] == 1


def test_stats_counts_invalid_records(run_cli, bad_input: Path) -> None:
    rc, out, _ = run_cli("stats", str(bad_input), "--json")
    st = json.loads(out)
    assert rc == 0 and st["records"] == 12 and st["invalid"] == 4  # broken JSON, bad role, empty, invalid UTF-8
    rc, out, _ = run_cli("stats", str(bad_input))
    assert "12 records (8 valid, 4 invalid)" in out


def test_console_script_runs_eval() -> None:
    """The installed `mmshield` entry point, as a user would call it."""
    exe = Path(sys.executable).parent / "mmshield"
    res = subprocess.run([str(exe), "eval", str(GOLD), str(PRED), "--json"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["assistant"]["n"] == 11
