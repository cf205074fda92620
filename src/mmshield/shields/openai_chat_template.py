"""The chat template to serve LLaVAShield-7B behind an OpenAI-compatible server (vLLM).

The released weights were trained with LLaVA-NeXT's ``qwen_1_5`` conversation (ChatML with the
system line "You are a helpful assistant."), a single user message holding the whole moderation
prompt. This Jinja template reproduces that wrapper. Use it with vLLM's string content format so
that the ``<image>`` placeholders already written in the prompt (``Image1: <image>; ...``) receive
the attached images in order, instead of the server inserting extra placeholders::

    mmshield prompt --print-chat-template > llavashield.jinja
    vllm serve DIR --chat-template llavashield.jinja --chat-template-content-format string
"""

from __future__ import annotations

QWEN_1_5_SYSTEM = "You are a helpful assistant."

LLAVASHIELD_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set system = messages[0]['content'] -%}{%- set rest = messages[1:] -%}"
    "{%- else -%}"
    "{%- set system = '" + QWEN_1_5_SYSTEM + "' -%}{%- set rest = messages -%}"
    "{%- endif -%}"
    "{{- '<|im_start|>system\\n' + system + '<|im_end|>\\n' -}}"
    "{%- for message in rest -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)
"""Jinja chat template equal to LLaVA-NeXT's ``conv_templates["qwen_1_5"].get_prompt()``."""


def qwen_1_5_prompt(user_text: str, system: str = QWEN_1_5_SYSTEM) -> str:
    """What the official inference code feeds the tokenizer for one user message (for checks)."""
    return f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user_text}<|im_end|>\n<|im_start|>assistant\n"
