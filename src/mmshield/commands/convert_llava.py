"""`mmshield convert-llava SRC DST`: original LLaVA-NeXT checkpoint -> transformers (llava-hf) layout."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mmshield.errors import MMShieldError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", type=Path, help="original checkpoint folder (config.json with mm_* keys, *.safetensors, tokenizer)")
    parser.add_argument("dst", type=Path, help="output folder (created atomically; must not exist or be empty)")
    parser.add_argument("--vision-config", type=Path, metavar="JSON",
                        help="SigLIP vision config for a tower not in the known table (needs num_attention_heads)")
    parser.add_argument("--dtype", choices=["float16", "bfloat16", "float32"],
                        help="cast floating-point tensors (default: keep the source dtype)")
    parser.add_argument("--overwrite", action="store_true", help="replace DST when it already holds files")
    parser.add_argument("--max-shard-gb", type=float, default=4.0, help="largest output shard in GiB (default 4)")
    parser.add_argument("--check-only", action="store_true", help="check the key mapping and configs; write nothing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from mmshield.llava_convert import convert_llava, plan_conversion

    try:
        vision = None
        if args.vision_config is not None:
            vision = json.loads(args.vision_config.read_text("utf-8"))
            if not isinstance(vision, dict):
                raise MMShieldError(f"{args.vision_config}: expected a JSON object")
        if args.check_only:
            plan = plan_conversion(args.src, vision_config=vision)
            print(f"ok: {len(plan.renames)} tensors map onto the target model, {len(plan.ignored)} buffer(s) dropped, "
                  f"<image> token id {plan.image_token_id}")
            return 0
        convert_llava(args.src, args.dst, vision_config=vision, dtype=args.dtype, overwrite=args.overwrite,
                      max_shard_bytes=int(args.max_shard_gb * 2**30), progress=not args.no_progress)
    except (MMShieldError, OSError, json.JSONDecodeError) as exc:
        print(f"mmshield convert-llava: {exc}", file=sys.stderr)
        return 2
    return 0
