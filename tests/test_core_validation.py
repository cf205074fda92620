"""`validation.validate_file` and `mmshield validate`: every problem, with record, line, turn and field."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import EXAMPLES
from mmshield.images import ImageLimits
from mmshield.validation import validate_file


def _by_record(path: Path, **kw) -> dict[str, list]:
    rep = validate_file(path, **kw)
    out: dict[str, list] = {}
    for p in rep.problems:
        out.setdefault(p.record, []).append(p)
    return out


def test_example_set_is_valid() -> None:
    rep = validate_file(EXAMPLES / "mmds_examples.jsonl")
    assert rep.ok, [str(p) for p in rep.problems]
    assert (rep.records, rep.valid_records, rep.images_checked) == (12, 12, 7)


def test_every_bad_input_is_reported_and_good_records_pass(bad_input: Path) -> None:
    rep = validate_file(bad_input)
    probs = _by_record(bad_input)
    assert rep.records == 12
    assert "good-1" not in probs and "good-2" not in probs and "fails-in-backend" not in probs
    assert rep.valid_records == 3
    # broken JSON line
    (p,) = probs["line 2"]
    assert p.line == 2 and "not valid JSON" in p.message
    # unknown roles: both bad turns, not only the first
    assert [(p.turn, p.field) for p in probs["badrole"]] == [(1, "role"), (2, "role")]
    assert "unknown role 'robot'" in probs["badrole"][0].message
    # images
    (p,) = probs["noimg"]
    assert (p.line, p.turn, p.field) == (4, 0, "image[0]") and "not found" in p.message
    (p,) = probs["corrupt"]
    assert (p.turn, p.field) == (0, "image[0]") and "corrupt" in p.message
    (p,) = probs["big"]
    assert (p.turn, p.field) == (0, "image[0]") and "pixel limit" in p.message
    # empty dialogue
    (p,) = probs["empty"]
    assert p.field == "conversations" and "no user or assistant turns" in p.message
    # invalid UTF-8
    (p,) = probs["line 8"]
    assert "not valid UTF-8" in p.message
    # labels
    fields = {p.field: p.message for p in probs["badlabels"]}
    assert "must be 'Safe', 'Unsafe' or null" in fields["user_rating"]
    assert "needs the violated dimension" in fields["assistant_dimension"]
    assert "unknown dimension 'Bogus'" in fields["usage_policy[1]"]
    fields = {p.field: p.message for p in probs["nullside"]}
    assert "is null but the dialogue has assistant turns" in fields["assistant_rating"]
    assert "not in the usage_policy" in fields["usage_policy"]


def test_oversized_bytes_with_custom_limits() -> None:
    probs = _by_record(EXAMPLES / "mmds_examples.jsonl", limits=ImageLimits(max_bytes=1000))
    # cat.png (717 B) passes; typographic_pipe_bomb.png (1530 B) and terminal.png (1362 B) exceed 1000 B
    assert sorted(probs) == ["ex06-crossmodal", "ex11-hard-negative"]
    assert all("byte limit" in p.message and p.field == "image[0]" for ps in probs.values() for p in ps)


def test_label_rules(tmp_path: Path) -> None:
    recs = [
        {"id": "a", "conversations": [{"role": "user", "content": "x"}], "user_rating": "Unsafe", "user_dimension": "Weapons",
         "user_rationale": "r", "assistant_rating": "Safe", "assistant_dimension": "NA: None applying", "assistant_rationale": "r"},
        {"id": "b", "conversations": [{"role": "user", "content": "x"}], "user_rating": "Safe", "user_dimension": "Sexual Content",
         "user_rationale": "r", "assistant_rating": None, "assistant_dimension": None, "assistant_rationale": None,
         "data_type": "weird", "subdimension": "Phishing", "dimension": "Sexual Content"},
        {"id": "c", "conversations": [{"role": "user", "content": "x"}], "usage_policy": ["O5", "Cheating: helping students cheat"],
         "user_rating": "Unsafe", "user_dimension": "Cheating", "user_rationale": "r",
         "assistant_rating": None, "assistant_dimension": None, "assistant_rationale": None},
        {"id": "c", "conversations": [{"role": "user", "content": "x"}]},
    ]
    p = tmp_path / "l.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in recs), "utf-8")
    probs = _by_record(p)
    a = {x.field: x.message for x in probs["a"]}
    assert "not a taxonomy dimension" in a["user_dimension"]
    assert "no assistant turns" in a["assistant_rating"]
    b = {x.field: x.message for x in probs["b"]}
    assert "a Safe side must have" in b["user_dimension"]
    assert set(b) == {"user_dimension", "data_type", "subdimension"}
    assert [x.field for x in probs["c"]] == ["id"]  # custom dimension accepted; only the duplicate id is wrong


def test_cli_validate_exit_status_and_json(bad_input: Path, run_cli) -> None:
    rc, out, err = run_cli("validate", str(EXAMPLES / "mmds_examples.jsonl"))
    assert rc == 0 and out == "" and "OK" in err
    rc, out, err = run_cli("validate", str(bad_input))
    assert rc == 2
    assert "line 4, record noimg, turn 0, field 'image[0]': image file not found" in out
    rc, out, _ = run_cli("validate", "--json", str(bad_input))
    assert rc == 2
    obj = json.loads(out)
    assert obj["ok"] is False and obj["records"] == 12 and obj["valid_records"] == 3
    assert {"record": "badrole", "line": 3, "turn": 2, "field": "role"}.items() <= next(
        p for p in obj["problems"] if p["record"] == "badrole" and p["turn"] == 2).items()


def test_cli_validate_image_limit_flags(run_cli) -> None:
    rc, out, _ = run_cli("validate", "--max-image-bytes", "1000", str(EXAMPLES / "mmds_examples.jsonl"))
    assert rc == 2 and out.count("byte limit") == 2
    rc, out, _ = run_cli("validate", "--no-images", "--max-image-bytes", "1000", str(EXAMPLES / "mmds_examples.jsonl"))
    assert rc == 0


def test_messages_format_images_and_single_json(tmp_path: Path, run_cli) -> None:
    cat = str(EXAMPLES / "images" / "cat.png")
    lines = [
        {"id": "m1", "messages": [{"role": "system", "content": "s"},
                                  {"role": "user", "content": [{"type": "text", "text": "hi"},
                                                               {"type": "image_url", "image_url": {"url": "missing.png"}}]}]},
        {"id": "m2", "messages": [{"role": "user", "content": [{"type": "image", "image": cat}, {"type": "text", "text": "ok"}]}]},
    ]
    p = tmp_path / "m.jsonl"
    p.write_text("\n".join(json.dumps(x) for x in lines), "utf-8")
    rep = validate_file(p)
    assert [(x.record, x.turn, x.field) for x in rep.problems] == [("m1", 1, "content[1]")]
    assert rep.valid_records == 1
    one = tmp_path / "one.json"
    one.write_text(json.dumps(lines[1]), "utf-8")
    rc, out, err = run_cli("validate", str(one))
    assert rc == 0 and "1 image(s) checked: OK" in err
    one.write_text("{not json", "utf-8")
    rc, out, _ = run_cli("validate", str(one))
    assert rc == 2 and "not valid UTF-8 JSON" in out
