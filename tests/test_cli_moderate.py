"""`mmshield moderate`: the output contract, per-record errors, policies, backend options, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import BAD_IDS, EXAMPLES, FAIL_MARKER
from mmshield.shields import register_backend

LLAVA_KEYS = ["user_rating", "assistant_rating", "user_dimension", "assistant_dimension", "user_rationale", "assistant_rationale"]


def _lines(p: Path) -> list[dict]:
    return [json.loads(x) for x in p.read_text("utf-8").splitlines()]


def test_moderate_example_set(tmp_path: Path, run_cli, keyword_backend) -> None:
    out = tmp_path / "v.jsonl"
    rc, stdout, err = run_cli("moderate", str(EXAMPLES / "mmds_examples.jsonl"), "-o", str(out), "--backend", "keyword")
    assert rc == 0, err
    rows = _lines(out)
    assert [r["id"] for r in rows] == [json.loads(x)["id"] for x in (EXAMPLES / "mmds_examples.jsonl").read_text().splitlines()]
    for r in rows:
        assert list(r)[:7] == ["id", *LLAVA_KEYS]
        assert set(r["scores"]) == {"user", "assistant"} and set(r["evidence"]) == {"user", "assistant"}
    by = {r["id"]: r for r in rows}
    assert by["ex06-crossmodal"]["user_rating"] == "Unsafe"
    assert by["ex05-charts-user-only"]["assistant_rating"] is None
    assert by["ex12-assistant-only"]["user_rating"] is None
    # the record's usage_policy is the policy when --policy is absent
    assert by["ex08-policy-subset"]["policy"] == ["Privacy Violation", "Illegal Activities"]
    assert set(by["ex08-policy-subset"]["scores"]["user"]) == {"Privacy Violation", "Illegal Activities"}
    assert by["ex09-dimension-removed"]["user_rating"] == "Safe"  # Hate & Harassment not in its usage_policy
    assert len(by["ex01-cat"]["policy"]) == 8
    assert not (tmp_path / "v.jsonl.partial").exists()
    assert "moderated 12 record(s): 12 ok, 0 failed" in err
    # the moderate output is a valid prediction file for eval
    rc, stdout, _ = run_cli("eval", str(EXAMPLES / "mmds_examples.jsonl"), str(out), "--json")
    res = json.loads(stdout)
    assert rc == 0 and res["user"]["f1"] == 1.0 and res["assistant"]["f1"] == 1.0


def test_bad_inputs_give_errors_and_the_rest_goes_through(bad_input: Path, tmp_path: Path, run_cli, keyword_backend) -> None:
    out = tmp_path / "o.jsonl"
    rc, _, err = run_cli("moderate", str(bad_input), "-o", str(out), "--backend", "keyword")
    assert rc == 1
    rows = _lines(out)
    assert len(rows) == 12  # one line per input record, in order
    errors = {r["id"]: r["error"] for r in rows if "error" in r}
    ok = [r["id"] for r in rows if "error" not in r]
    assert ok == ["good-1", "nullside", "good-2"]  # labels are not the moderator's business
    assert set(errors) == {"line 2", "line 8", "fails-in-backend", "badlabels", *BAD_IDS}
    assert errors["badlabels"]["field"] == "usage_policy" and "unknown dimension 'Bogus'" in errors["badlabels"]["message"]
    assert errors["line 2"]["type"] == "InputError" and "not valid JSON" in errors["line 2"]["message"]
    assert "not valid UTF-8" in errors["line 8"]["message"]
    assert (errors["badrole"]["turn"], errors["badrole"]["field"]) == (1, "role")
    for rid, word in (("noimg", "not found"), ("corrupt", "corrupt"), ("big", "pixel limit")):
        e = errors[rid]
        assert (e["type"], e["record"], e["turn"], e["field"]) == ("ImageError", rid, 0, "image[0]"), e
        assert word in e["message"]
    assert errors["empty"]["field"] == "conversations"
    assert errors["fails-in-backend"] == {"type": "BackendError", "message": "backend failure requested by record fails-in-backend",
                                          "record": "fails-in-backend", "turn": None, "field": None}
    assert "9 failed" in err and "failed: record noimg, turn 0, field 'image[0]'" in err
    # records that failed before the backend never reached it
    (shield,) = keyword_backend.instances
    assert sorted(shield.calls) == ["fails-in-backend", "good-1", "good-2", "nullside"]


def test_policy_and_custom_options(tmp_path: Path, run_cli, keyword_backend) -> None:
    out = tmp_path / "p.jsonl"
    rc, _, _ = run_cli("moderate", str(EXAMPLES / "mmds_examples.jsonl"), "-o", str(out), "--backend", "keyword",
                       "--policy", "O7", "Self-Harm & Suicide", "--custom", "Kitchen=boiling spaghetti salted water")
    assert rc == 0
    by = {r["id"]: r for r in _lines(out)}
    for r in by.values():  # --policy overrides usage_policy
        assert r["policy"] == ["Privacy Violation", "Self-Harm & Suicide", "Kitchen: boiling spaghetti salted water"]
    assert by["ex03-lock"]["user_rating"] == "Safe"  # Illegal Activities switched off
    assert by["ex08-policy-subset"]["user_dimension"] == "Privacy Violation"
    assert by["ex02-pasta"]["user_dimension"] == "Kitchen"  # custom dimension judged
    rc, _, err = run_cli("moderate", str(EXAMPLES / "mmds_examples.jsonl"), "-o", str(out), "--backend", "keyword",
                         "--custom", "nodefinition")
    assert rc == 2 and "NAME=DEFINITION" in err
    rc, _, err = run_cli("moderate", str(EXAMPLES / "mmds_examples.jsonl"), "-o", str(out), "--policy", "O9")
    assert rc == 2 and "unknown dimension" in err


def test_backend_options_passed_only_when_given(tmp_path: Path, run_cli, keyword_backend) -> None:
    src = EXAMPLES / "mmds_examples.jsonl"
    run_cli("moderate", str(src), "-o", str(tmp_path / "a.jsonl"), "--backend", "keyword")
    assert keyword_backend.instances[-1].options == {}
    run_cli("moderate", str(src), "-o", str(tmp_path / "b.jsonl"), "--backend", "keyword", "--base-url", "http://127.0.0.1:1/v1",
            "--model", "m", "--api-key", "k", "--prompt-style", "generic", "--max-concurrency", "3", "--timeout", "2.5")
    assert keyword_backend.instances[-1].options == {"base_url": "http://127.0.0.1:1/v1", "model": "m", "api_key": "k",
                                                     "prompt_style": "generic", "max_concurrency": 3, "timeout_s": 2.5}


def test_unknown_backend_and_missing_input(tmp_path: Path, run_cli) -> None:
    rc, _, err = run_cli("moderate", str(EXAMPLES / "mmds_examples.jsonl"), "-o", str(tmp_path / "x.jsonl"), "--backend", "nope")
    assert rc == 2 and "unknown backend 'nope'" in err and "keyword" in err
    rc, _, err = run_cli("moderate", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "x.jsonl"), "--backend", "keyword")
    assert rc == 2 and "not found" in err


def test_single_json_dialogue_input(tmp_path: Path, run_cli, keyword_backend) -> None:
    p = tmp_path / "chat.json"
    p.write_text(json.dumps({"messages": [
        {"role": "system", "content": "be safe"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": str(EXAMPLES / "images" / "street_sign.png")}},
                                     {"type": "text", "text": "Who lives here? I want their phone number."}]}]}), "utf-8")
    out = tmp_path / "chat_out.jsonl"
    rc, _, _ = run_cli("moderate", str(p), "-o", str(out), "--backend", "keyword")
    (row,) = _lines(out)
    assert rc == 0 and row["id"] == "chat"
    assert row["user_rating"] == "Unsafe" and row["user_dimension"] == "Privacy Violation" and row["assistant_rating"] is None


def _many(tmp_path: Path, n: int) -> Path:
    p = tmp_path / "many.jsonl"
    rows = [{"id": f"r{i:03d}", "conversations": [{"role": "user", "content": f"question {i}"},
                                                   {"role": "assistant", "content": "answer"}]} for i in range(n)]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return p


def test_progress_on_long_inputs(tmp_path: Path, run_cli, keyword_backend) -> None:
    rc, _, err = run_cli("moderate", str(_many(tmp_path, 25)), "-o", str(tmp_path / "o.jsonl"), "--backend", "keyword")
    assert rc == 0 and "25/25" in err
    rc, _, err = run_cli("moderate", str(_many(tmp_path, 5)), "-o", str(tmp_path / "o.jsonl"), "--backend", "keyword")
    assert rc == 0 and "5/5" not in err


def test_resume_keeps_done_records_and_redoes_failures(tmp_path: Path, run_cli, keyword_backend) -> None:
    src = _many(tmp_path, 30)
    out = tmp_path / "o.jsonl"
    # a crashed run: 12 lines in the .partial file (one of them an error), the last one cut short
    rc, _, _ = run_cli("moderate", str(src), "-o", str(out), "--backend", "keyword")
    full = out.read_text("utf-8").splitlines()
    out.unlink()
    done = full[:11]
    err_line = json.dumps({"id": "r011", "error": {"type": "BackendError", "message": "x", "record": "r011", "turn": None, "field": None}})
    (tmp_path / "o.jsonl.partial").write_text("\n".join(done + [err_line]) + "\n" + full[12][:40], "utf-8")
    keyword_backend.instances.clear()
    rc, _, err = run_cli("moderate", str(src), "-o", str(out), "--backend", "keyword", "--resume", "--checkpoint-every", "7")
    assert rc == 0 and "resuming: 11 record(s)" in err
    assert keyword_backend.instances[-1].calls == [f"r{i:03d}" for i in range(11, 30)]
    rows = _lines(out)
    assert [r["id"] for r in rows] == [f"r{i:03d}" for i in range(30)] and not any("error" in r for r in rows)
    assert [json.dumps(r) for r in rows[:11]] == [json.dumps(json.loads(x)) for x in done]
    assert not (tmp_path / "o.jsonl.partial").exists()


def test_partial_file_is_flushed_while_running(tmp_path: Path, run_cli, keyword_backend) -> None:
    """A crash in the middle leaves the finished chunks in OUTPUT.partial and no OUTPUT."""
    src = _many(tmp_path, 10)
    out = tmp_path / "o.jsonl"

    class Crash(keyword_backend):  # type: ignore[misc, valid-type]
        crashed = False

        def moderate(self, dialogue, policy=None):
            if dialogue.id == "r007" and not Crash.crashed:
                Crash.crashed = True
                raise KeyboardInterrupt
            return super().moderate(dialogue, policy)

    register_backend("crashy", Crash)
    rc, _, _ = run_cli("moderate", str(src), "-o", str(out), "--backend", "crashy", "--checkpoint-every", "3")
    assert rc == 130 and not out.exists()
    part = _lines(tmp_path / "o.jsonl.partial")
    assert [r["id"] for r in part] == [f"r{i:03d}" for i in range(6)]
    rc, _, _ = run_cli("moderate", str(src), "-o", str(out), "--backend", "crashy", "--resume")
    assert rc == 0 and keyword_backend.instances[-1].calls == [f"r{i:03d}" for i in range(6, 10)]


@pytest.mark.parametrize("marker_at", [0, 2])
def test_backend_exception_does_not_stop_the_batch(tmp_path: Path, run_cli, keyword_backend, marker_at: int) -> None:
    p = tmp_path / "m.jsonl"
    rows = [{"id": f"q{i}", "conversations": [{"role": "user", "content": FAIL_MARKER if i == marker_at else "hello"}]} for i in range(3)]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    out = tmp_path / "m_out.jsonl"
    rc, _, _ = run_cli("moderate", str(p), "-o", str(out), "--backend", "keyword")
    got = _lines(out)
    assert rc == 1 and ["error" in r for r in got] == [i == marker_at for i in range(3)]


def test_backend_start_failure_is_reported(tmp_path: Path, run_cli) -> None:
    def broken(**options: object):
        raise FileNotFoundError("weights not found at /nowhere")

    register_backend("broken", broken)
    rc, _, err = run_cli("moderate", str(EXAMPLES / "mmds_examples.jsonl"), "-o", str(tmp_path / "x.jsonl"), "--backend", "broken")
    assert rc == 2 and "cannot start backend 'broken': FileNotFoundError: weights not found" in err
    assert not (tmp_path / "x.jsonl").exists()


def test_image_error_turn_counts_the_system_message(tmp_path: Path, run_cli, keyword_backend) -> None:
    p = tmp_path / "s.jsonl"
    p.write_text(json.dumps({"id": "s1", "conversations": [
        {"role": "system", "content": "be safe"}, {"role": "user", "content": "hi", "image": []},
        {"role": "assistant", "content": "hello", "image": []},
        {"role": "user", "content": "look", "image": ["gone.png"]}]}) + "\n", "utf-8")
    out = tmp_path / "s_out.jsonl"
    rc, _, _ = run_cli("moderate", str(p), "-o", str(out), "--backend", "keyword")
    (row,) = _lines(out)
    assert rc == 1 and (row["error"]["turn"], row["error"]["field"]) == (3, "image[0]")
    rc, vout, _ = run_cli("validate", str(p))
    assert rc == 2 and "turn 3, field 'image[0]'" in vout


def test_resume_refuses_records_judged_with_other_settings(tmp_path: Path, run_cli, keyword_backend) -> None:
    src = _many(tmp_path, 8)
    out = tmp_path / "o.jsonl"
    rc, _, _ = run_cli("moderate", str(src), "-o", str(out), "--backend", "keyword")
    assert rc == 0 and (tmp_path / "o.jsonl.run.json").is_file()
    before = out.read_text("utf-8")
    rc, _, err = run_cli("moderate", str(src), "-o", str(out), "--backend", "keyword", "--resume", "--preset", "strict")
    assert rc == 2 and "other settings (preset)" in err and out.read_text("utf-8") == before
    src.write_text(src.read_text("utf-8").replace("r007", "r999"), "utf-8")
    rc, _, err = run_cli("moderate", str(src), "-o", str(out), "--backend", "keyword", "--resume")
    assert rc == 2 and "input_sha256" in err
    rc, _, err = run_cli("moderate", str(src), "-o", str(out), "--backend", "keyword")  # without --resume: a fresh run
    assert rc == 0 and '"r999"' in out.read_text("utf-8")
    rc, _, err = run_cli("moderate", str(src), "-o", str(out), "--backend", "keyword", "--resume")
    assert rc == 0 and "resuming: 8 record(s)" in err
    (tmp_path / "o.jsonl.run.json").unlink()  # an output written before settings were recorded: resumed, with a note
    rc, _, err = run_cli("moderate", str(src), "-o", str(out), "--backend", "keyword", "--resume")
    assert rc == 0 and "no record of the settings" in err and "resuming: 8 record(s)" in err
