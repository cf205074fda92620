"""The vLLM chat template reproduces the official qwen_1_5 conversation wrapper exactly."""

from __future__ import annotations

import pytest

from mmshield.dialogue import Dialogue, Turn
from mmshield.images import ImageRef
from mmshield.prompting import render_prompt
from mmshield.shields.openai_chat_template import LLAVASHIELD_CHAT_TEMPLATE, qwen_1_5_prompt

jinja2 = pytest.importorskip("jinja2")
sandbox = pytest.importorskip("jinja2.sandbox")


def render(messages: list[dict], add_generation_prompt: bool = True) -> str:
    # the environment transformers (and so vLLM) uses for chat templates
    env = sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    # as written by `mmshield prompt --print-chat-template` (with its final newline)
    return env.from_string(LLAVASHIELD_CHAT_TEMPLATE + "\n").render(messages=messages, add_generation_prompt=add_generation_prompt)


def test_template_equals_official_wrapper() -> None:
    prompt = render_prompt(Dialogue(turns=[Turn("user", "What is this?", [ImageRef("a.png")]), Turn("assistant", "A cat.")]))
    out = render([{"role": "user", "content": prompt}])
    assert out == qwen_1_5_prompt(prompt)
    assert out == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n" + prompt
                   + "<|im_end|>\n<|im_start|>assistant\n")
    assert out.count("<image>") == 1


def test_template_system_override_and_no_generation_prompt() -> None:
    out = render([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}], add_generation_prompt=False)
    assert out == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"
