"""`mmshield` command line: a thin shell over the library.

Each subcommand lives in `mmshield/commands/<module>.py` and exposes `add_arguments(parser)` and
`run(args) -> int`; modules are imported only when their command runs, so start-up stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "check an MMDS / messages file; every problem with record, turn and field"),
    "stats": ("stats", "counts per side, rating, dimension, turns and images"),
    "eval": ("evaluate", "score predictions against gold labels (SPEC section 7 metrics)"),
    "prompt": ("prompt", "print the LLaVAShield prompt of the first dialogue in a file"),
    "moderate": ("moderate", "judge every dialogue of a file; one JSON line per record"),
    "data": ("data", "build, augment and split MMDS-format datasets"),
    "train": ("train", "train the embedded shield's weights from ../shared/data"),
    "redteam": ("redteam", "MMRT: multimodal multi-turn red teaming by tree search"),
    "convert-llava": ("convert_llava", "rewrite LLaVA-NeXT checkpoints into the transformers layout"),
    "serve": ("serve", "HTTP service (moderation API)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmshield", description="Safety layer for multimodal multi-turn chat.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    argv = sys.argv[1:]
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:  # import only the module of the command being run
            mod = _load(module)
            if mod is not None:
                mod.add_arguments(p)
    return parser


def _load(module: str):
    try:
        return importlib.import_module(f"mmshield.commands.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"mmshield.commands.{module}":
            return None
        raise


def _version() -> str:
    from mmshield import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    parser = build_parser()
    args = parser.parse_args()
    if not args.command:
        parser.print_help()
        return 1
    mod = _load(COMMANDS[args.command][0])
    if mod is None:
        print(f"mmshield {args.command}: not available in this build", file=sys.stderr)
        return 2
    try:
        return int(mod.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
