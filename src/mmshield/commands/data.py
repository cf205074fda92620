"""`mmshield data build | split | augment`: build MMDS-open from ../shared/data, re-split, augment."""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    b = sub.add_parser("build", help="build the MMDS-open dataset from the public sources")
    b.add_argument("--out", required=True, type=Path, help="output folder (train/dev/test.jsonl, images/, card.md)")
    b.add_argument("--sources", default=None, help="comma-separated source names (default: all)")
    b.add_argument("--exclude-noncommercial", action="store_true",
                   help="leave out CC BY-NC items and, unless --keep-unknown-license, items whose licence is unknown")
    b.add_argument("--keep-unknown-license", action="store_true",
                   help="with --exclude-noncommercial, keep sources that state no licence")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--limit-per-source", type=int, default=None, help="at most N items per source (small builds)")
    b.add_argument("--no-quotas", action="store_true", help="use every item of every source, uncapped")
    b.add_argument("--size", choices=["standard", "large"], default="standard",
                   help="standard: per-source quotas for a ~24k-dialogue build; large: every item except spam caps (~45k)")
    b.add_argument("--typography", type=int, default=None, help="number of benign typography dialogues")
    b.add_argument("--negatives", type=int, default=None, help="number of generated benign look-alike dialogues")
    b.add_argument("--data-root", type=Path, default=None,
                   help="folder holding the sources (default: $MMSHIELD_DATA_ROOT or ../shared/data beside the repo)")
    b.add_argument("--llm-replies", type=Path, default=None,
                   help="a cache written by `data replies`, a file written by its --export, or `packaged` (the "
                        "SmolLM2 answers shipped with mmshield, the same on every machine): each kept answer becomes "
                        "one more dialogue")
    b.add_argument("--toxic-replies", type=int, default=0, metavar="N",
                   help="add N Unsafe and N Safe DiaSafety replies to toxic or biased messages, the message quoted "
                        "by the user (default 0: left out)")
    b.add_argument("--toxic-reply-categories", default="", metavar="NAMES",
                   help="with --toxic-replies: only these DiaSafety categories, comma-separated "
                        "(Offending User, Toxicity Agreement, Biased Opinion; default all three)")
    b.add_argument("--benign-image-copies", type=float, default=0.0, metavar="P",
                   help="share (0-1) of English benign requests that also get a dialogue carrying the request in "
                        "images, as the cross-modal attacks do (default 0: none)")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    r = sub.add_parser("replies", help="have SmolLM2 (offline, CPU) answer a sample of the build's requests")
    r.add_argument("--out", required=True, type=Path, help="JSONL cache to write or extend (resumable)")
    r.add_argument("--harmful", type=int, default=650, help="harmful requests to answer")
    r.add_argument("--benign", type=int, default=500, help="benign requests to answer")
    r.add_argument("--workers", type=int, default=2, help="worker processes (one CPU thread each)")
    r.add_argument("--max-tokens", type=int, default=160)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--data-root", type=Path, default=None)
    r.add_argument("--export", type=Path, default=None, metavar="FILE.jsonl.gz",
                   help="then write the answers in the shipped form (request keys and what the model wrote, no "
                        "dataset text), which `data build --llm-replies FILE` reads as it reads the cache")
    s = sub.add_parser("split", help="write leave-one-family-out files from a built dataset")
    s.add_argument("dataset", type=Path, help="a folder written by `data build`")
    s.add_argument("--family", required=True, help="the source family to hold out")
    s.add_argument("--out", required=True, type=Path)
    a = sub.add_parser("augment", help="apply the four MMDS augmentations to an MMDS JSONL file")
    a.add_argument("input", type=Path)
    a.add_argument("-o", "--output", required=True, type=Path)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--rate", type=float, default=None, help="same rate for every augmentation (default: built-in rates)")


def run(args: argparse.Namespace) -> int:
    cmd = getattr(args, "data_command", None)
    if cmd == "build":
        return _build(args)
    if cmd == "split":
        return _split(args)
    if cmd == "augment":
        return _augment(args)
    if cmd == "replies":
        return _replies(args)
    print("usage: mmshield data {build,split,augment,replies} ...", file=sys.stderr)
    return 2


def _build(args: argparse.Namespace) -> int:
    from mmshield.data.builder import BuildConfig, build, default_data_root

    cfg = BuildConfig(
        out=args.out, data_root=args.data_root or default_data_root(),
        sources=[s.strip() for s in args.sources.split(",") if s.strip()] if args.sources else None,
        exclude_noncommercial=args.exclude_noncommercial, keep_unknown_license=args.keep_unknown_license,
        seed=args.seed, limit_per_source=args.limit_per_source, quotas=not args.no_quotas, size=args.size,
        typography=args.typography, negatives=args.negatives, progress=not args.quiet,
        llm_replies=args.llm_replies, toxic_replies=args.toxic_replies, toxic_reply_categories=tuple(c.strip() for c in args.toxic_reply_categories.split(",") if c.strip()),
        benign_image_copies=args.benign_image_copies,
    )
    try:
        manifest = build(cfg)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        print(f"mmshield data build: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"mmshield data build: {exc}; install the data extra: pip install 'mmshield[data]'", file=sys.stderr)
        return 2
    print(json.dumps({"out": str(args.out), "counts": manifest["counts"], "stats": manifest["stats"],
                      "build_seconds": manifest["build_seconds"]}, indent=1))
    return 0


def _replies(args: argparse.Namespace) -> int:
    from mmshield.data import llm_replies
    from mmshield.data.builder import BuildConfig, default_data_root, load_items, select

    cfg = BuildConfig(out=args.out, data_root=args.data_root or default_data_root(), seed=args.seed, progress=False)
    if not cfg.data_root.is_dir():
        print(f"mmshield data replies: data root not found: {cfg.data_root}", file=sys.stderr)
        return 2
    items = select(load_items(cfg, lambda m: print(m, file=sys.stderr))[0], cfg)
    requests = llm_replies.select_requests(items, args.harmful, args.benign, args.seed)
    try:
        n = llm_replies.generate(requests, args.out, workers=args.workers, max_tokens=args.max_tokens)
    except (ImportError, RuntimeError) as exc:
        print(f"mmshield data replies: {exc}; install the redteam extra: pip install 'mmshield[redteam]'", file=sys.stderr)
        return 2
    summary: dict[str, object] = {"out": str(args.out), "requests": len(requests), "answered_now": n}
    if args.export is not None:
        try:
            summary["exported"] = llm_replies.export_answers(args.out, args.export, items, args.seed)
        except ValueError as exc:
            print(f"mmshield data replies: {exc}", file=sys.stderr)
            return 2
        summary["export"] = str(args.export)
    print(json.dumps(summary))
    return 0


def _read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _split(args: argparse.Namespace) -> int:
    from mmshield.data.splits import leave_family_out

    try:
        counts = leave_family_out(args.dataset, args.family, args.out)
    except (FileNotFoundError, KeyError) as exc:
        print(f"mmshield data split: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(counts))
    return 0


def _augment(args: argparse.Namespace) -> int:
    from mmshield.data import augmentations
    from mmshield.dialogue import write_jsonl_atomic

    recs = _read(args.input)
    for r in recs:
        r.setdefault("data_type", "default")
        r.setdefault("id", str(random.random()))
        r.setdefault("risk", {"user_turns": [], "assistant_turns": [], "images": []})
    rates = {k: args.rate for k in augmentations.AUGMENTATIONS} if args.rate is not None else None
    out = augmentations.augment(recs, args.seed, rates)
    n = write_jsonl_atomic(args.output, out)
    print(json.dumps({"input": len(recs), "augmented": n}))
    return 0
