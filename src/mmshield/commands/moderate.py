"""`mmshield moderate INPUT -o OUTPUT.jsonl`: judge every dialogue of a file, one JSON line per record.

Contract (other tools call it): each output line is `Verdict.to_dict()` (id, the six LLaVAShield keys,
scores, evidence, ...) or, for a record that failed, `{"id", "error": {"type", "message", "record",
"turn", "field"}}`. The run goes on after a failure; the exit status is 1 when any record failed.
The output is written atomically at the end; progress is appended to `OUTPUT.partial` as it goes,
and `--resume` keeps the records already done (in OUTPUT or OUTPUT.partial) and judges the rest.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from mmshield.dialogue import Dialogue, ParsedRecord, file_sha256, read_input, write_jsonl_atomic
from mmshield.errors import InputError
from mmshield.images import ImageLimits
from mmshield.policy import PRESETS, Policy
from mmshield.shields.base import DEFAULT_BACKEND, Shield, available_backends, get_shield
from mmshield.verdict import Verdict

PROGRESS_MIN_RECORDS = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="MMDS JSONL file, or one JSON dialogue (MMDS record or messages)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output JSONL (one line per input record)")
    parser.add_argument("--backend", default=DEFAULT_BACKEND, help=f"shield backend (default {DEFAULT_BACKEND}; "
                        f"registered: {', '.join(available_backends())})")
    parser.add_argument("--policy", nargs="+", metavar="DIM", help="dimensions in force, by name or id (O1..O8); "
                        "default: the record's usage_policy, else all 8")
    parser.add_argument("--custom", action="append", default=[], metavar="NAME=DEFINITION",
                        help="add a custom dimension (repeatable); added to --policy, or to all 8 when --policy is absent")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="balanced", help="decision thresholds preset")
    parser.add_argument("--base-url", help="backend server URL (openai backend)")
    parser.add_argument("--model", help="model name or path for the backend")
    parser.add_argument("--api-key", help="API key for the backend")
    parser.add_argument("--prompt-style", choices=["llavashield", "generic"], help="prompt style for VLM backends")
    parser.add_argument("--max-concurrency", type=int, help="parallel requests for remote backends")
    parser.add_argument("--timeout", type=float, dest="timeout_s", help="per-request timeout in seconds")
    parser.add_argument("--allow-remote-images", action="store_true", help="fetch http(s) image URLs (off by default)")
    parser.add_argument("--resume", action="store_true", help="keep records already done in OUTPUT / OUTPUT.partial")
    parser.add_argument("--checkpoint-every", type=int, default=20, metavar="N",
                        help="flush progress to OUTPUT.partial every N records (default 20)")
    parser.add_argument("--weights", help="embedded backend: weights file (default: the packaged weights)")
    parser.add_argument("--no-images", dest="read_images", action="store_false", default=None,
                        help="embedded backend: skip OCR and image-safety models (text only)")
    parser.add_argument("--no-spelling", dest="correct_spelling", action="store_false", default=None,
                        help="embedded backend: read typos as written (default: corrected, see features/spelling.py)")
    parser.add_argument("--device", help="llava backend: cpu (default), cuda, cuda:N, mps or auto")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"],
                        help="llava backend: weight dtype (default float32 on CPU, bfloat16 on GPU)")
    parser.add_argument("--batch-size", type=int, help="llava backend: dialogues per generate call")
    parser.add_argument("--max-new-tokens", type=int, help="llava backend: generation budget (default 512)")
    parser.add_argument("--max-context", type=int,
                        help="llava backend: token limit for prompt + generation (default: training length, 16384)")
    parser.add_argument("--truncate", choices=["error", "drop_oldest"],
                        help="llava backend: dialogue longer than the context (default error)")


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """The backend options given on the command line (None values left out)."""
    names = ("base_url", "model", "api_key", "prompt_style", "max_concurrency", "timeout_s", "weights", "read_images",
             "correct_spelling", "device", "dtype", "batch_size", "max_new_tokens", "max_context", "truncate")
    return {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}


def parse_custom(items: Iterable[str]) -> dict[str, str]:
    """`NAME=DEFINITION` strings to a mapping (ValueError naming the bad item)."""
    out: dict[str, str] = {}
    for it in items:
        name, sep, definition = it.partition("=")
        if not sep or not name.strip() or not definition.strip():
            raise ValueError(f"--custom {it!r}: expected NAME=DEFINITION")
        out[name.strip()] = definition.strip()
    return out


@dataclass
class PolicyChooser:
    """The policy for each record: the command line's when given, else the record's usage_policy, else all 8."""

    fixed: Policy | None
    preset: str = "balanced"
    custom: dict[str, str] | None = None

    def for_dialogue(self, d: Dialogue) -> Policy:
        if self.fixed is not None:
            return self.fixed
        if d.usage_policy:
            try:
                base = Policy.from_list(d.usage_policy, preset=self.preset)
            except (KeyError, ValueError) as exc:
                raise InputError(str(exc).strip("'\""), record=d.id, field="usage_policy") from exc
            if not self.custom:
                return base
            return Policy.from_keys([x.name for x in base.dimensions if not x.is_custom], preset=self.preset,
                                    custom={**{x.name: x.definition for x in base.dimensions if x.is_custom}, **self.custom})
        return Policy.from_keys(None, preset=self.preset) if not self.custom else self.all_plus_custom()

    def all_plus_custom(self) -> Policy:
        from mmshield.taxonomy import DIMENSION_NAMES

        return Policy.from_keys(list(DIMENSION_NAMES), custom=self.custom, preset=self.preset)


def make_chooser(args: argparse.Namespace) -> PolicyChooser:
    custom = parse_custom(args.custom or [])
    if args.policy:
        return PolicyChooser(Policy.from_keys(args.policy, custom=custom, preset=args.preset), args.preset, custom)
    return PolicyChooser(None, args.preset, custom or None)


def error_line(rid: str, exc: BaseException) -> dict[str, Any]:
    """The output line of a record that failed."""
    if isinstance(exc, InputError):
        err = exc.to_dict()
        if err.get("record") is None:
            err["record"] = rid
    else:
        err = {"type": type(exc).__name__, "message": str(exc) or repr(exc), "record": rid, "turn": None, "field": None}
    return {"id": rid, "error": err}


def check_images(d: Dialogue) -> None:
    """Load every image once (so that a missing, corrupt or oversized one fails with its turn and field).

    The turn index counts the input's turns (a leading system message included), as parse errors do.
    """
    offset = 1 if d.system is not None else 0
    for ti, t in enumerate(d.turns):
        for j, im in enumerate(t.images):
            try:
                im.check()
            except InputError as exc:
                exc.record, exc.turn, exc.field = d.id, ti + offset, f"image[{j}]"
                raise


def read_done(paths: Iterable[Path]) -> dict[str, dict[str, Any]]:
    """Successful lines already written (later files win); broken or error lines are ignored."""
    done: dict[str, dict[str, Any]] = {}
    for p in paths:
        if not p.is_file():
            continue
        with open(p, "rb") as fh:
            for raw in fh:
                try:
                    obj = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    continue  # e.g. a line cut short by a crash
                if isinstance(obj, dict) and obj.get("id") is not None and not obj.get("error"):
                    done[str(obj["id"])] = obj
    return done


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional
        return _PlainProgress(total)
    return tqdm(total=total, file=sys.stderr, unit="dlg", desc="moderate")


class _PlainProgress:
    """Fallback progress display when tqdm is not installed."""

    def __init__(self, total: int) -> None:
        self.total, self.n = total, 0

    def update(self, k: int = 1) -> None:
        self.n += k
        if self.n == self.total or self.n % 50 == 0:
            print(f"moderate: {self.n}/{self.total}", file=sys.stderr)

    def close(self) -> None:
        pass


def _record_id(pr: ParsedRecord) -> str:
    if pr.dialogue is not None:
        return pr.dialogue.id
    if pr.raw_id:
        return pr.raw_id
    if pr.error is not None and pr.error.record is not None:
        return str(pr.error.record)
    return f"line {pr.index + 1}"


def moderate_records(shield: Shield, records: list[ParsedRecord], chooser: PolicyChooser,
                     done: dict[str, dict[str, Any]], sink: TextIO | None = None, *,
                     checkpoint_every: int = 20, progress: Any = None) -> Iterator[dict[str, Any]]:
    """Yield one output line per record in input order; records in `done` are reused, not re-judged.

    Records are sent to the backend in chunks of `checkpoint_every`, grouped by policy, through
    `moderate_many` (so backends can batch); each new line is appended to `sink` and flushed per chunk.
    """
    chunk = max(1, checkpoint_every)
    for start in range(0, len(records), chunk):
        part = records[start:start + chunk]
        lines: dict[int, dict[str, Any]] = {}
        groups: dict[tuple[str, ...], list[tuple[int, Dialogue, Policy]]] = {}
        for k, pr in enumerate(part):
            rid = _record_id(pr)
            if rid in done:
                lines[k] = done[rid]
                continue
            if pr.dialogue is None:
                lines[k] = error_line(rid, pr.error or InputError("unreadable record", record=rid))
                continue
            try:
                check_images(pr.dialogue)
                policy = chooser.for_dialogue(pr.dialogue)
            except Exception as exc:  # noqa: BLE001 - reported per record
                lines[k] = error_line(rid, exc)
                continue
            key = tuple(policy.to_list()) + (policy.preset,) + tuple(sorted(policy.thresholds.items()))
            groups.setdefault(key, []).append((k, pr.dialogue, policy))
        for items in groups.values():
            policy = items[0][2]
            try:
                results = list(shield.moderate_many([d for _, d, _ in items], policy))
            except Exception as exc:  # noqa: BLE001 - a backend that fails the whole batch
                results = [exc] * len(items)
            if len(results) != len(items):
                results = [RuntimeError(f"backend returned {len(results)} results for {len(items)} dialogues")] * len(items)
            for (k, d, pol), res in zip(items, results):
                if isinstance(res, Verdict):
                    res.id = d.id
                    if not res.policy:
                        res.policy = pol.to_list()
                    lines[k] = res.to_dict()
                else:
                    lines[k] = error_line(d.id, res if isinstance(res, BaseException) else RuntimeError(repr(res)))
        for k in range(len(part)):
            line = lines[k]
            if sink is not None and line is not done.get(str(line.get("id"))):
                sink.write(json.dumps(line, ensure_ascii=False) + "\n")
            yield line
        if sink is not None:
            sink.flush()
        _release_images(part)
        if progress is not None:
            progress.update(len(part))


def _release_images(part: list[ParsedRecord]) -> None:
    """Drop the cached bytes of file and data-URI images once their chunk is done (they can be re-read)."""
    for pr in part:
        if pr.dialogue is None:
            continue
        for im in pr.dialogue.images:
            if im.path() is not None or im.source.startswith("data:"):
                im.data = None


NOT_SETTINGS = frozenset({"input", "output", "resume", "checkpoint_every", "max_concurrency", "timeout_s", "api_key"})
"""Arguments that do not change a verdict (the input counts by its content, not its path)."""


def run_settings(args: argparse.Namespace, shield: Shield) -> dict[str, str]:
    """What decides a run's verdicts: the input's content, the backend, its options and policy, and the
    content of the weights file when the backend has one (so retrained weights are not mixed with old ones)."""
    settings = {k: str(v) for k, v in sorted(vars(args).items()) if k not in NOT_SETTINGS and not callable(v)}
    settings["input_sha256"] = file_sha256(args.input)
    weights = getattr(shield, "weights_path", None)
    if weights is not None and Path(weights).is_file():
        settings["weights_sha256"] = file_sha256(Path(weights))
    return settings


def check_resumable(sidecar: Path, settings: dict[str, str]) -> str | None:
    """Why records done by an earlier run may not be kept (it used other settings), or None."""
    if not sidecar.is_file():
        return None
    try:
        before = json.loads(sidecar.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    changed = sorted(k for k in set(before) | set(settings) if before.get(k) != settings.get(k))
    if not changed:
        return None
    return ("the records already done were judged with other settings (" + ", ".join(changed) + "); "
            "drop --resume to start again, or write to another output")


def run(args: argparse.Namespace) -> int:
    if not args.input.is_file():
        print(f"mmshield moderate: input not found: {args.input}", file=sys.stderr)
        return 2
    try:
        chooser = make_chooser(args)
    except (KeyError, ValueError) as exc:
        print(f"mmshield moderate: {str(exc).strip(chr(39) + chr(34))}", file=sys.stderr)
        return 2
    try:
        shield = get_shield(args.backend, **backend_options(args))
    except KeyError as exc:
        print(f"mmshield moderate: {str(exc).strip(chr(39) + chr(34))}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"mmshield moderate: backend {args.backend!r} is not available in this install: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - any start-up failure of a backend: say which and why
        print(f"mmshield moderate: cannot start backend {args.backend!r}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    limits = ImageLimits(allow_remote=args.allow_remote_images)
    records = list(read_input(args.input, limits=limits))
    out: Path = args.output
    partial = out.with_name(out.name + ".partial")
    sidecar = out.with_name(out.name + ".run.json")
    settings = run_settings(args, shield)
    done = read_done([out, partial]) if args.resume else {}
    if done and (why := check_resumable(sidecar, settings)):
        print(f"mmshield moderate: cannot resume {out}: {why}", file=sys.stderr)
        return 2
    if done and not sidecar.is_file():
        print(f"note: {out} has no record of the settings it was judged with ({sidecar.name}); cannot check that "
              "they match this run", file=sys.stderr)
    if done:
        print(f"resuming: {len(done)} record(s) already done", file=sys.stderr)
    elif not args.resume and partial.is_file():
        print(f"note: {partial} from an earlier run is replaced (use --resume to keep its records)", file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(sidecar, [settings])
    progress = _progress(len(records), len(records) > PROGRESS_MIN_RECORDS)
    failed = 0
    result: list[dict[str, Any]] = []
    mode = "a" if args.resume else "w"
    if mode == "a" and partial.is_file() and partial.stat().st_size:
        with open(partial, "rb") as fh:
            fh.seek(-1, 2)
            cut_short = fh.read(1) != b"\n"
        if cut_short:  # a crash left half a line: end it so the next line starts clean
            with open(partial, "a", encoding="utf-8") as fh:
                fh.write("\n")
    try:
        with open(partial, mode, encoding="utf-8") as sink:
            for line in moderate_records(shield, records, chooser, done, sink,
                                         checkpoint_every=args.checkpoint_every, progress=progress):
                failed += "error" in line
                result.append(line)
    finally:
        if progress is not None:
            progress.close()
    write_jsonl_atomic(out, result)
    partial.unlink(missing_ok=True)
    print(f"moderated {len(result)} record(s): {len(result) - failed} ok, {failed} failed -> {out}", file=sys.stderr)
    for line in result:
        if "error" in line:
            e = line["error"]
            where = ", ".join(f"{k} {e[k]!r}" if k == "field" else f"{k} {e[k]}" for k in ("record", "turn", "field")
                              if e.get(k) is not None)
            print(f"  failed: {where}: {e.get('message')}", file=sys.stderr)
    return 1 if failed else 0
