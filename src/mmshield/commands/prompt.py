"""`mmshield prompt INPUT`: print the moderation prompt of the first dialogue in INPUT.

For debugging, and for sending the exact LLaVAShield prompt to another server yourself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmshield.dialogue import read_input
from mmshield.errors import MMShieldError
from mmshield.policy import Policy
from mmshield.prompting import STYLES, prompt_images, render_prompt
from mmshield.shields.openai_chat_template import LLAVASHIELD_CHAT_TEMPLATE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="?", type=Path, help="MMDS JSONL file, or a .json file holding one dialogue")
    parser.add_argument("--policy", nargs="+", metavar="DIM", default=None,
                        help="dimensions in force, by id (O5) or name (default: the record's usage_policy, else all 8)")
    parser.add_argument("--custom", action="append", metavar="NAME=DEFINITION", default=[],
                        help="add a custom dimension (repeatable)")
    parser.add_argument("--style", choices=STYLES, default="llavashield",
                        help="llavashield: the fine-tuned model's exact prompt; generic: for any VLM")
    parser.add_argument("--images", action="store_true",
                        help="also list, on stderr, the image each placeholder refers to, in order")
    parser.add_argument("--print-chat-template", action="store_true",
                        help="print the Jinja chat template for serving LLaVAShield with vLLM, and exit")


def run(args: argparse.Namespace) -> int:
    out = sys.stdout.buffer
    if args.print_chat_template:
        out.write((LLAVASHIELD_CHAT_TEMPLATE + "\n").encode("utf-8"))
        out.flush()
        return 0
    if args.input is None:
        print("mmshield prompt: give an INPUT file (or --print-chat-template)", file=sys.stderr)
        return 2
    if not args.input.exists():
        print(f"mmshield prompt: {args.input}: no such file", file=sys.stderr)
        return 2
    try:
        custom = _parse_custom(args.custom)
        first = next(iter(read_input(args.input)), None)
        if first is None:
            print(f"mmshield prompt: {args.input} holds no dialogue", file=sys.stderr)
            return 2
        if first.error is not None:
            print(f"mmshield prompt: {first.error}", file=sys.stderr)
            return 2
        dialogue = first.dialogue
        assert dialogue is not None
        if args.policy or custom:
            policy = Policy.from_keys(args.policy, custom=custom)
        elif dialogue.usage_policy:
            policy = Policy.from_list(dialogue.usage_policy)
        else:
            policy = Policy.default()
        text = render_prompt(dialogue, policy, style=args.style)
    except (KeyError, ValueError, MMShieldError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"mmshield prompt: {msg}", file=sys.stderr)
        return 2
    out.write(text.encode("utf-8"))
    out.flush()
    if args.images:
        for k, im in enumerate(prompt_images(dialogue), 1):
            where = im.path() or im.source[:60]
            print(f"Image{k}: {where}", file=sys.stderr)
    return 0


def _parse_custom(items: list[str]) -> dict[str, str]:
    custom: dict[str, str] = {}
    for it in items:
        name, sep, definition = it.partition("=")
        if not sep or not name.strip() or not definition.strip():
            raise ValueError(f"--custom {it!r}: expected NAME=DEFINITION")
        custom[name.strip()] = definition.strip()
    return custom
