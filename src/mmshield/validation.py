"""Dataset checking: every problem of an MMDS / messages file, each with record id, line, turn and field.

Structure is parsed with `dialogue.read_input`; on top of that each record's raw JSON is checked for
every turn (roles, content, image lists), every image (exists, decodes, within limits) and the
labels (ratings, dimensions, null sides, usage policy). Turn indices are positions in the record's
`conversations` (or `messages`) list, so they point at the line a person has to fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mmshield.dialogue import ROLES, SIDES, read_input
from mmshield.errors import InputError
from mmshield.images import DEFAULT_LIMITS, ImageLimits, ImageRef
from mmshield.taxonomy import DIMENSION_NAMES, NONE_APPLYING, find_dimension, find_subdimension
from mmshield.verdict import SAFE, UNSAFE

DATA_TYPES = ("default", "augmentation")


@dataclass
class Problem:
    """One thing wrong in the file."""

    record: str
    message: str
    line: int | None = None
    turn: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line is not None else []
        where.append(f"record {self.record}")
        if self.turn is not None:
            where.append(f"turn {self.turn}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.message}"


@dataclass
class ValidationReport:
    """All problems of one file, plus counts."""

    path: str
    records: int = 0
    valid_records: int = 0
    images_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "ok": self.ok,
            "records": self.records,
            "valid_records": self.valid_records,
            "images_checked": self.images_checked,
            "problems": [asdict(p) for p in self.problems],
        }


def validate_file(path: Path, *, limits: ImageLimits = DEFAULT_LIMITS, check_images: bool = True) -> ValidationReport:
    """Check a JSONL (or one-dialogue `.json`) file; never raises on bad content, reports it."""
    path = Path(path)
    report = ValidationReport(path=str(path))
    if not path.is_file():
        report.problems.append(Problem(record=path.name, message=f"file not found: {path}"))
        return report
    raw_lines = _raw_objects(path)
    seen_ids: dict[str, int] = {}
    image_cache: dict[str, str | None] = {}
    for pr in read_input(path, limits=limits):
        report.records += 1
        line = pr.index + 1 if path.suffix != ".json" else None
        raw = raw_lines.get(pr.index)
        rid = pr.raw_id or (pr.dialogue.id if pr.dialogue else None)
        if rid is None and isinstance(raw, Mapping) and raw.get("id") is not None:
            rid = str(raw["id"])
        label = rid if rid is not None else (f"line {line}" if line else path.name)
        found: list[Problem] = []
        if pr.error is not None:
            found.append(_from_error(pr.error, label, line))
        if raw is not None:
            found.extend(p for p in check_record(raw, label, line, base_dir=path.parent, limits=limits,
                                      check_images=check_images, image_cache=image_cache, report=report)
                         if pr.error is None or (p.turn, p.field) != (pr.error.turn, pr.error.field))
        elif pr.dialogue is not None and check_images:  # .json messages input: check images in dialogue order
            for ti, t in enumerate(pr.dialogue.turns):
                for j, im in enumerate(t.images):
                    msg = _check_image(im, image_cache, report)
                    if msg:
                        found.append(Problem(label, msg, line, ti, f"image[{j}]"))
        if rid is not None:
            if rid in seen_ids:
                found.append(Problem(label, f"duplicate id (first seen on line {seen_ids[rid]})", line, None, "id"))
            else:
                seen_ids[rid] = line or 0
        report.problems.extend(found)
        if not found:
            report.valid_records += 1
    return report


def _raw_objects(path: Path) -> dict[int, Any]:
    """Index -> decoded JSON value, for the lines (or list items) that decode; bad lines are absent."""
    out: dict[int, Any] = {}
    if path.suffix == ".json":
        try:
            obj = json.loads(path.read_text("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return out
        items = obj if isinstance(obj, list) and obj and isinstance(obj[0], Mapping) and "conversations" in obj[0] else [obj]
        return {i: it for i, it in enumerate(items) if isinstance(it, Mapping) and "conversations" in it}
    with open(path, "rb") as fh:
        for no, raw in enumerate(fh):
            if not raw.strip():
                continue
            try:
                out[no] = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
    return out


def _from_error(err: InputError, label: str, line: int | None) -> Problem:
    return Problem(record=label, message=err.message, line=line, turn=err.turn, field=err.field)


def _check_image(im: ImageRef, cache: dict[str, str | None], report: ValidationReport) -> str | None:
    p = im.path()
    key = str(p.resolve()) if p is not None else im.source[:200]
    if key not in cache:
        report.images_checked += 1
        try:
            im.check()
            cache[key] = None
        except InputError as exc:
            cache[key] = exc.message
        except Exception as exc:  # noqa: BLE001 - any decode failure is a problem to report
            cache[key] = f"image {im.source!r} cannot be read: {exc}"
        im.data = None  # do not keep every image in memory while validating a large file
    return cache[key]


def check_record(rec: Any, label: str, line: int | None = None, *, base_dir: Path | None = None,
                 limits: ImageLimits = DEFAULT_LIMITS, check_images: bool = True,
                 image_cache: dict[str, str | None] | None = None,
                 report: ValidationReport | None = None) -> list[Problem]:
    """Every problem of one raw record (MMDS, or `{"messages": [...]}`)."""
    cache = image_cache if image_cache is not None else {}
    rep = report if report is not None else ValidationReport(path="")
    if not isinstance(rec, Mapping):
        return [Problem(label, f"a record must be a JSON object, got {type(rec).__name__}", line)]
    key = "conversations" if "conversations" in rec else ("messages" if "messages" in rec else None)
    if key is None:
        return [Problem(label, "missing field (expected 'conversations' or 'messages')", line, None, "conversations")]
    conv = rec[key]
    out: list[Problem] = []
    if not isinstance(conv, list):
        return [Problem(label, "must be a list of turns", line, None, key)]
    sides_present = {s: False for s in SIDES}
    for i, t in enumerate(conv):
        if not isinstance(t, Mapping):
            out.append(Problem(label, "a turn must be an object", line, i))
            continue
        role = t.get("role")
        if role == "system":
            continue
        if role not in ROLES:
            out.append(Problem(label, f"unknown role {role!r}; expected 'user', 'assistant' or 'system'", line, i, "role"))
        else:
            sides_present[role] = True
        if key == "conversations":
            out.extend(_check_mmds_turn(t, label, line, i, base_dir, limits, check_images, cache, rep))
        elif check_images:
            out.extend(_check_message_images(t, label, line, i, base_dir, limits, cache, rep))
    if not any(sides_present.values()) and not any(p.field == "role" for p in out):
        out.append(Problem(label, "dialogue has no user or assistant turns", line, None, key))
    out.extend(check_labels(rec, label, line, sides_present))
    return out


def _check_mmds_turn(t: Mapping[str, Any], label: str, line: int | None, i: int, base_dir: Path | None,
                     limits: ImageLimits, check_images: bool, cache: dict[str, str | None],
                     rep: ValidationReport) -> Iterator[Problem]:
    content = t.get("content", "")
    if content is not None and not isinstance(content, str):
        yield Problem(label, f"must be a string, got {type(content).__name__}", line, i, "content")
    imgs = t.get("image", [])
    if imgs is None:
        return
    if isinstance(imgs, str):
        imgs = [imgs]
    if not isinstance(imgs, list) or not all(isinstance(x, str) for x in imgs):
        yield Problem(label, "must be a list of image paths", line, i, "image")
        return
    if not check_images:
        return
    for j, src in enumerate(imgs):
        msg = _check_image(ImageRef(src, base_dir, limits=limits), cache, rep)
        if msg:
            yield Problem(label, msg, line, i, f"image[{j}]")


def _check_message_images(t: Mapping[str, Any], label: str, line: int | None, i: int, base_dir: Path | None,
                          limits: ImageLimits, cache: dict[str, str | None], rep: ValidationReport) -> Iterator[Problem]:
    """Images of an OpenAI / demo-format message (`image_url` and `image` parts)."""
    content = t.get("content")
    if not isinstance(content, list):
        return
    for j, part in enumerate(content):
        if not isinstance(part, Mapping):
            continue
        src = part.get("image_url") if part.get("type") == "image_url" else part.get("image") if part.get("type") == "image" else None
        src = src.get("url") if isinstance(src, Mapping) else src
        if isinstance(src, str) and src:
            msg = _check_image(ImageRef(src, base_dir, limits=limits), cache, rep)
            if msg:
                yield Problem(label, msg, line, i, f"content[{j}]")


def _dimension_ok(dim: str, customs: set[str]) -> bool:
    return dim in DIMENSION_NAMES or dim in customs


def _policy_names(rec: Mapping[str, Any], label: str, line: int | None) -> tuple[set[str] | None, set[str], list[Problem]]:
    """Names in the usage policy (None when absent), the custom names among them, and its problems."""
    up = rec.get("usage_policy")
    if up is None or up == []:
        return None, set(), []
    if not isinstance(up, list) or not all(isinstance(x, str) for x in up):
        return None, set(), [Problem(label, "must be a list of dimension names", line, None, "usage_policy")]
    names: set[str] = set()
    customs: set[str] = set()
    problems: list[Problem] = []
    for k, item in enumerate(up):
        try:
            names.add(find_dimension(item).name)
        except KeyError:
            n, sep, definition = item.partition(":")
            if sep and n.strip() and definition.strip():
                names.add(n.strip())
                customs.add(n.strip())
            else:
                problems.append(Problem(label, f"unknown dimension {item!r}: use a taxonomy name, an id O1..O8, "
                                               "or 'Name: definition' for a custom dimension", line, None, f"usage_policy[{k}]"))
    return names, customs, problems


def check_labels(rec: Mapping[str, Any], label: str, line: int | None = None,
                 sides_present: Mapping[str, bool] | None = None) -> list[Problem]:
    """Problems of the label fields of one record (none if it carries no labels at all)."""
    out: list[Problem] = []
    dt = rec.get("data_type")
    if dt is not None and dt not in DATA_TYPES:
        out.append(Problem(label, f"must be one of {list(DATA_TYPES)}, got {dt!r}", line, None, "data_type"))
    policy, customs, pproblems = _policy_names(rec, label, line)
    out.extend(pproblems)
    top_dim = rec.get("dimension")
    if top_dim not in (None, "") and not (isinstance(top_dim, str) and _dimension_ok(top_dim, customs)):
        out.append(Problem(label, f"must be a taxonomy dimension name or empty, got {top_dim!r}", line, None, "dimension"))
    sub = rec.get("subdimension")
    if sub not in (None, ""):
        found = find_subdimension(sub) if isinstance(sub, str) else None
        if found is None:
            out.append(Problem(label, f"unknown subdimension {sub!r}", line, None, "subdimension"))
        elif isinstance(top_dim, str) and top_dim in DIMENSION_NAMES and found[0].name != top_dim:
            out.append(Problem(label, f"subdimension {sub!r} belongs to {found[0].name!r}, not {top_dim!r}", line, None, "subdimension"))
    label_keys = [f"{s}_{k}" for s in SIDES for k in ("rating", "dimension", "rationale")]
    if not any(k in rec for k in label_keys):
        return out  # unlabelled input (e.g. dialogues to moderate): nothing more to check
    for k in label_keys:
        if k not in rec:
            out.append(Problem(label, "missing label field (use null for an absent side)", line, None, k))
    for side in SIDES:
        rating = rec.get(f"{side}_rating")
        dim = rec.get(f"{side}_dimension")
        rationale = rec.get(f"{side}_rationale")
        rf, df, tf = f"{side}_rating", f"{side}_dimension", f"{side}_rationale"
        if rating not in (SAFE, UNSAFE, None):
            out.append(Problem(label, f"must be 'Safe', 'Unsafe' or null, got {rating!r}", line, None, rf))
            continue
        present = (sides_present or {}).get(side)
        if present is not None:
            if present and rating is None and rf in rec:
                out.append(Problem(label, f"is null but the dialogue has {side} turns", line, None, rf))
            if not present and rating is not None:
                out.append(Problem(label, f"is {rating!r} but the dialogue has no {side} turns (use null)", line, None, rf))
        if rationale is not None and not isinstance(rationale, str):
            out.append(Problem(label, f"must be a string or null, got {type(rationale).__name__}", line, None, tf))
        if rating is None:
            if dim is not None:
                out.append(Problem(label, f"must be null when {rf} is null, got {dim!r}", line, None, df))
            continue
        if not isinstance(dim, str):
            out.append(Problem(label, f"must be a dimension name or {NONE_APPLYING!r}, got {dim!r}", line, None, df))
            continue
        if dim != NONE_APPLYING and not _dimension_ok(dim, customs):
            out.append(Problem(label, f"{dim!r} is not a taxonomy dimension name or {NONE_APPLYING!r}", line, None, df))
            continue
        if rating == UNSAFE and dim == NONE_APPLYING:
            out.append(Problem(label, f"an Unsafe side needs the violated dimension, got {NONE_APPLYING!r}", line, None, df))
        if rating == SAFE and dim != NONE_APPLYING:
            out.append(Problem(label, f"a Safe side must have {NONE_APPLYING!r}, got {dim!r}", line, None, df))
        if rating == UNSAFE and policy is not None and dim != NONE_APPLYING and dim not in policy:
            out.append(Problem(label, f"the {side} side is Unsafe under {dim!r}, which is not in the usage_policy",
                               line, None, "usage_policy"))
    return out


def iter_problems(path: Path, **kwargs: Any) -> Iterator[Problem]:
    """Convenience: the problems of a file, in file order."""
    yield from validate_file(path, **kwargs).problems


__all__ = ["Problem", "ValidationReport", "check_labels", "check_record", "iter_problems", "validate_file"]
