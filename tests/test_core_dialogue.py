"""Dialogue parsing: lossless MMDS round trip, OpenAI messages, the LLaVAShield demo format, images."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from conftest import EXAMPLES
from mmshield.dialogue import from_messages, from_mmds, parse_any, read_input, to_messages, to_mmds
from mmshield.errors import ImageError, InputError
from mmshield.images import ImageLimits, ImageRef

CAT = EXAMPLES / "images" / "cat.png"


def test_mmds_round_trip_is_lossless_over_the_example_set() -> None:
    lines = (EXAMPLES / "mmds_examples.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == 12
    for line in lines:
        rec = json.loads(line)
        d = from_mmds(rec, EXAMPLES)
        back = to_mmds(d)
        assert json.dumps(back, ensure_ascii=False) == line  # same keys, same order, same values


def test_round_trip_keeps_system_message_and_unknown_turn_fields() -> None:
    rec = {"id": "x", "conversations": [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "hi", "image": [], "lang": "en"},
        {"role": "assistant", "content": "hello", "image": []}]}
    d = from_mmds(rec)
    assert d.system == "be nice"
    assert [t.role for t in d.turns] == ["user", "assistant"]
    assert d.turns[0].extra == {"lang": "en"}
    assert to_mmds(d) == rec
    assert list(to_mmds(d)["conversations"][1]) == ["role", "content", "image", "lang"]


def test_system_message_belongs_to_neither_side() -> None:
    d = from_messages([{"role": "system", "content": "You are a bot."}, {"role": "user", "content": "hi"}])
    assert d.system == "You are a bot."
    assert d.has_role("user") and not d.has_role("assistant")
    assert len(d.turns) == 1


def test_openai_messages_string_and_parts_with_path_file_uri_and_data_uri() -> None:
    data_uri = "data:image/png;base64," + base64.b64encode(CAT.read_bytes()).decode()
    msgs = [
        {"role": "user", "content": [
            {"type": "text", "text": "compare"},
            {"type": "image_url", "image_url": {"url": "images/cat.png"}},
            {"type": "image_url", "image_url": {"url": CAT.as_uri()}},
            {"type": "image_url", "image_url": {"url": data_uri}},
            {"type": "text", "text": "these"}]},
        {"role": "assistant", "content": "They are the same cat."},
    ]
    d = from_messages(msgs, id="m1", base_dir=EXAMPLES)
    assert d.turns[0].content == "compare\nthese"
    assert [im.source[:5] for im in d.turns[0].images] == ["image", "file:", "data:"]
    hashes = {im.sha256 for im in d.images}
    assert len(hashes) == 1  # the same bytes from a path, a file:// URI and a data: URI
    for im in d.images:
        assert im.load().size == (160, 160)
    assert d.turns[1].content == "They are the same cat." and d.turns[1].images == []
    out = to_messages(d)
    assert [p["type"] for p in out[0]["content"]] == ["image_url", "image_url", "image_url", "text"]


def test_llavashield_demo_format() -> None:
    msgs = [
        {"role": "user", "content": [{"type": "image", "image": str(CAT)}, {"type": "text", "text": "What kind of animal is this?"}]},
        {"role": "assistant", "content": "This is a cat."},
    ]
    d = parse_any({"messages": msgs, "id": "demo"})
    assert d.id == "demo"
    assert d.turns[0].content == "What kind of animal is this?"
    assert d.turns[0].images[0].path() == CAT
    assert d.turns[1].content == "This is a cat."


def test_remote_url_refused_by_default() -> None:
    d = from_messages([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}])
    im = d.images[0]
    assert im.is_remote
    with pytest.raises(ImageError, match="refused"):
        im.check()


def test_remote_private_address_refused_even_when_allowed() -> None:
    im = ImageRef("http://127.0.0.1:9/x.png", limits=ImageLimits(allow_remote=True, remote_timeout_s=1))
    with pytest.raises(ImageError, match="non-public"):
        im.read_bytes()


@pytest.mark.parametrize("bad, field", [
    ({"role": "robot", "content": "hi"}, "role"),
    ({"role": "user", "content": [{"type": "audio"}]}, "content[0]"),
    ({"role": "user", "content": 5}, "content"),
])
def test_messages_errors_name_turn_and_field(bad: dict, field: str) -> None:
    with pytest.raises(InputError) as ei:
        from_messages([{"role": "user", "content": "ok"}, bad], id="r9")
    assert ei.value.turn == 1 and ei.value.field == field and ei.value.record == "r9"


def test_read_input_one_json_dialogue(tmp_path: Path) -> None:
    p = tmp_path / "one.json"
    p.write_text(json.dumps({"messages": [{"role": "user", "content": "hello"}]}), "utf-8")
    recs = list(read_input(p))
    assert len(recs) == 1 and recs[0].dialogue is not None and recs[0].dialogue.id == "one"
