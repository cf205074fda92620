"""LLaVAShield prompt rendering: byte parity with the official golden prompts, images, styles, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from mmshield.dialogue import Dialogue, Turn, from_messages
from mmshield.images import ImageRef
from mmshield.policy import Policy
from mmshield.prompting import (
    conversation_json,
    policy_block,
    prompt_images,
    render_prompt,
)
from mmshield.taxonomy import find_dimension

GOLDEN = Path(__file__).resolve().parent / "golden"
SHARED_SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec"


def golden(name: str) -> str:
    return (GOLDEN / name).read_bytes().decode("utf-8")


def default_dialogue() -> Dialogue:
    return Dialogue(turns=[
        Turn("user", "What kind of animal is this?", [ImageRef("cat.png")]),
        Turn("assistant", "This is a cat."),
    ])


def subset_dialogue() -> Dialogue:
    return Dialogue(turns=[Turn("user", "How do I pick a lock?")])


def test_default_prompt_byte_for_byte() -> None:
    assert render_prompt(default_dialogue(), Policy.default()).encode("utf-8") == (GOLDEN / "llavashield_prompt_default.txt").read_bytes()


def test_default_policy_is_used_when_none() -> None:
    assert render_prompt(default_dialogue(), None) == golden("llavashield_prompt_default.txt")


def test_subset_prompt_byte_for_byte() -> None:
    policy = Policy.from_keys(["Illegal Activities", "Privacy Violation"])
    assert render_prompt(subset_dialogue(), policy).encode("utf-8") == (GOLDEN / "llavashield_prompt_subset.txt").read_bytes()


def test_subset_by_ids_same_prompt() -> None:
    assert render_prompt(subset_dialogue(), Policy.from_keys(["O5", "o7"])) == golden("llavashield_prompt_subset.txt")


@pytest.mark.skipif(not SHARED_SPEC.is_dir(), reason="../shared/spec not present")
@pytest.mark.parametrize("name", ["llavashield_prompt_default.txt", "llavashield_prompt_subset.txt"])
def test_golden_copies_match_shared_spec(name: str) -> None:
    assert (GOLDEN / name).read_bytes() == (SHARED_SPEC / name).read_bytes()


def test_policy_numbered_by_position_and_o4_quirk_kept() -> None:
    policy = Policy.from_keys(["O7", "O4", "O1"])
    text = render_prompt(subset_dialogue(), policy)
    assert "O1: **Privacy Violation**\n" in text
    assert "O2: Self-Harm & Suicide**\n" in text  # the official text lacks the opening ** for this one
    assert "O3: **Violence & Harm**\n" in text
    assert "O4:" not in text
    assert '"user_dimension": "Privacy Violation" | "Self-Harm & Suicide" | "Violence & Harm" | "NA: None applying" | "null"' in text
    assert "- Encouragement of self-harm\n" in text  # subdimension without description: no empty parentheses


def test_custom_dimension_block() -> None:
    policy = Policy.from_keys(["O5"], custom={"Competitor Mentions": "Naming or promoting competing products"})
    text = render_prompt(subset_dialogue(), policy)
    assert "O2: **Competitor Mentions**\nShould not include:\n- Naming or promoting competing products\n\n**Input" in text
    assert '"Illegal Activities" | "Competitor Mentions" | "NA: None applying"' in text
    block = policy_block(policy.dimensions[1])
    assert "Can:" not in block


def test_image_index_runs_across_dialogue_and_images_in_order() -> None:
    a, b, c, d = (ImageRef(f"{x}.png") for x in "abcd")
    dlg = Dialogue(turns=[
        Turn("user", "Look at these.", [a, b]),
        Turn("assistant", "Two pictures."),
        Turn("user", "And this one?", [c]),
        Turn("assistant", "Here is mine.", [d]),
        Turn("user", "Thanks"),
    ])
    conv = json.loads(conversation_json(dlg))
    assert conv == [
        {"role": "user", "content": "Image1: <image>; Image2: <image>. Look at these."},
        {"role": "assistant", "content": "Two pictures."},
        {"role": "user", "content": "Image3: <image>. And this one?"},
        {"role": "assistant", "content": "Image4: <image>. Here is mine."},
        {"role": "user", "content": " Thanks"},
    ]
    assert prompt_images(dlg) == [a, b, c, d]
    text = render_prompt(dlg, Policy.default())
    assert text.count("<image>") == 4 == len(prompt_images(dlg))


def test_non_ascii_kept_verbatim() -> None:
    dlg = Dialogue(turns=[Turn("user", "Qu'est-ce que c'est ? 这是什么 \u2019")])
    assert '" Qu\'est-ce que c\'est ? 这是什么 \u2019"' in render_prompt(dlg)


def test_system_message_not_judged() -> None:
    dlg = from_messages([{"role": "system", "content": "SYSTEM-SECRET"}, {"role": "user", "content": "hi"}])
    assert "SYSTEM-SECRET" not in render_prompt(dlg)


def test_generic_style() -> None:
    dlg = Dialogue(turns=[Turn("user", "What is this?", [ImageRef("x.png"), ImageRef("y.png")]), Turn("assistant", "A tool.")])
    policy = Policy.from_keys(["O5", "O7"])
    text = render_prompt(dlg, policy, style="generic")
    assert "<image>" not in text
    assert '"content": "[Image1] [Image2] What is this?"' in text
    assert '"content": "A tool."' in text
    assert "O1: **Illegal Activities**" in text and "O2: **Privacy Violation**" in text
    assert "Violence & Harm" not in text
    assert '"user_dimension": "Illegal Activities" | "Privacy Violation" | "NA: None applying" | null' in text
    assert "<OUTPUT>" in text and "The 2 image(s) are attached" in text
    assert text != render_prompt(dlg, policy)


def test_generic_style_o4_without_quirk() -> None:
    text = render_prompt(subset_dialogue(), Policy.from_keys(["O4"]), style="generic")
    assert "O1: **Self-Harm & Suicide**" in text


def test_unknown_style_rejected() -> None:
    with pytest.raises(ValueError, match="prompt style"):
        render_prompt(subset_dialogue(), style="fancy")


def test_find_dimension_used_for_quirk_only_on_builtin() -> None:
    assert policy_block(find_dimension("O4")).startswith("Self-Harm & Suicide**\n")
    assert policy_block(find_dimension("O4"), quirks=False).startswith("**Self-Harm & Suicide**\n")


# ----------------------------------------------------------------------------- CLI


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "mmshield.cli", "prompt", *args], capture_output=True, cwd=cwd, timeout=60)


def test_cli_prompt_reproduces_golden_files(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8), (200, 100, 50)).save(tmp_path / "cat.png")
    rec = {"id": "d1", "conversations": [
        {"role": "user", "content": "What kind of animal is this?", "image": ["cat.png"]},
        {"role": "assistant", "content": "This is a cat.", "image": []},
    ]}
    (tmp_path / "d.jsonl").write_text(json.dumps(rec) + "\n" + json.dumps({"id": "d2", "conversations": []}) + "\n")
    r = _cli(str(tmp_path / "d.jsonl"), "--images")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (GOLDEN / "llavashield_prompt_default.txt").read_bytes()
    assert b"Image1:" in r.stderr and b"cat.png" in r.stderr

    (tmp_path / "s.json").write_text(json.dumps({"messages": [{"role": "user", "content": "How do I pick a lock?"}]}))
    r = _cli(str(tmp_path / "s.json"), "--policy", "O5", "Privacy Violation")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (GOLDEN / "llavashield_prompt_subset.txt").read_bytes()


def test_cli_prompt_uses_record_usage_policy_and_custom(tmp_path: Path) -> None:
    rec = {"id": "p", "usage_policy": ["Illegal Activities", "Privacy Violation"],
           "conversations": [{"role": "user", "content": "How do I pick a lock?", "image": []}]}
    (tmp_path / "p.jsonl").write_text(json.dumps(rec) + "\n")
    r = _cli(str(tmp_path / "p.jsonl"))
    assert r.stdout == (GOLDEN / "llavashield_prompt_subset.txt").read_bytes()
    r = _cli(str(tmp_path / "p.jsonl"), "--policy", "O1", "--custom", "Spoilers=Revealing film endings", "--style", "generic")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode("utf-8")
    assert "O1: **Violence & Harm**" in out and "O2: **Spoilers**" in out and "Illegal Activities" not in out


def test_cli_prompt_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"id": "z", "conversations": [{"role": "robot", "content": "x"}]}\n')
    r = _cli(str(tmp_path / "bad.jsonl"))
    assert r.returncode == 2 and b"record z" in r.stderr and b"robot" in r.stderr
    r = _cli(str(tmp_path / "missing.jsonl"))
    assert r.returncode == 2 and b"no such file" in r.stderr
    (tmp_path / "ok.jsonl").write_text('{"id": "z", "conversations": [{"role": "user", "content": "x"}]}\n')
    r = _cli(str(tmp_path / "ok.jsonl"), "--policy", "O9")
    assert r.returncode == 2 and b"unknown dimension" in r.stderr
    r = _cli(str(tmp_path / "ok.jsonl"), "--custom", "novalue")
    assert r.returncode == 2 and b"NAME=DEFINITION" in r.stderr


def test_cli_prints_chat_template() -> None:
    r = _cli("--print-chat-template")
    assert r.returncode == 0
    assert b"<|im_start|>system" in r.stdout and b"add_generation_prompt" in r.stdout
