"""Dialogue: the one canonical in-memory form of a multimodal multi-turn conversation.

Parsed from MMDS records, OpenAI chat messages, or the LLaVAShield demo format; written back to
MMDS losslessly. Every parse error names the record, the turn index and the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmshield.errors import InputError
from mmshield.images import DEFAULT_LIMITS, ImageLimits, ImageRef

ROLES = ("user", "assistant")
SIDES = ROLES
LABEL_KEYS = (
    "user_rating",
    "assistant_rating",
    "user_dimension",
    "assistant_dimension",
    "user_rationale",
    "assistant_rationale",
)


@dataclass
class Turn:
    """One message: `user` or `assistant`, its text, and its images (in order)."""

    role: str
    content: str
    images: list[ImageRef] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    """Unknown per-turn fields, kept so that writing back is lossless."""


@dataclass
class Dialogue:
    """A conversation to judge. `system` belongs to neither side; `record` keeps the MMDS fields."""

    turns: list[Turn]
    id: str = ""
    system: str | None = None
    record: dict[str, Any] = field(default_factory=dict)
    """All top-level MMDS fields other than `conversations` (labels, provenance...), in order."""

    def has_role(self, role: str) -> bool:
        return any(t.role == role for t in self.turns)

    @property
    def images(self) -> list[ImageRef]:
        return [im for t in self.turns for im in t.images]

    def labels(self) -> dict[str, Any]:
        """The six gold label fields, when the record carries them (missing keys are absent)."""
        return {k: self.record[k] for k in LABEL_KEYS if k in self.record}

    @property
    def usage_policy(self) -> list[str] | None:
        up = self.record.get("usage_policy")
        return list(up) if up else None


# --------------------------------------------------------------------------- MMDS


def from_mmds(rec: Mapping[str, Any], base_dir: Path | None = None, *, record_no: int | None = None,
              limits: ImageLimits = DEFAULT_LIMITS) -> Dialogue:
    """Parse one MMDS record. Image paths are relative to `base_dir` (the JSONL file's folder)."""
    if not isinstance(rec, Mapping):
        raise InputError(f"a record must be a JSON object, got {type(rec).__name__}", record=record_no)
    rid = rec.get("id", record_no)
    conv = rec.get("conversations")
    if conv is None:
        raise InputError("missing field", record=rid, field="conversations")
    if not isinstance(conv, list):
        raise InputError("must be a list of turns", record=rid, field="conversations")
    turns: list[Turn] = []
    system: str | None = None
    for i, t in enumerate(conv):
        if not isinstance(t, Mapping):
            raise InputError("a turn must be an object", record=rid, turn=i)
        role = t.get("role")
        content = t.get("content", "")
        if role == "system":
            system = _as_text(content, rid, i)
            continue
        if role not in ROLES:
            raise InputError(f"unknown role {role!r}; expected 'user', 'assistant' or 'system'", record=rid, turn=i, field="role")
        text = _as_text(content, rid, i)
        imgs = t.get("image", [])
        if imgs is None:
            imgs = []
        if isinstance(imgs, str):
            imgs = [imgs]
        if not isinstance(imgs, list) or not all(isinstance(x, str) for x in imgs):
            raise InputError("must be a list of image paths", record=rid, turn=i, field="image")
        extra = {k: v for k, v in t.items() if k not in ("role", "content", "image")}
        turns.append(Turn(role=role, content=text, images=[ImageRef(p, base_dir, limits=limits) for p in imgs], extra=extra))
    if not turns:
        raise InputError("dialogue has no user or assistant turns", record=rid, field="conversations")
    record = {k: v for k, v in rec.items() if k != "conversations"}
    d = Dialogue(turns=turns, id=str(rid) if rid is not None else "", system=system, record=record)
    d.record["__conversation_keys__"] = [list(t.keys()) for t in conv]  # order for lossless writing
    d.record["__key_order__"] = list(rec.keys())
    return d


def to_mmds(d: Dialogue) -> dict[str, Any]:
    """Write a dialogue back as an MMDS record (inverse of `from_mmds`)."""
    conv: list[dict[str, Any]] = []
    if d.system is not None:
        conv.append({"role": "system", "content": d.system})
    for t in d.turns:
        item: dict[str, Any] = {"role": t.role, "content": t.content, "image": [im.source for im in t.images]}
        item.update(t.extra)
        conv.append(item)
    ckeys = d.record.get("__conversation_keys__")
    if ckeys and len(ckeys) == len(conv):
        conv = [{k: c[k] for k in keys if k in c} | {k: v for k, v in c.items() if k not in keys} for c, keys in zip(conv, ckeys)]
    body = {k: v for k, v in d.record.items() if not k.startswith("__")}
    body["conversations"] = conv
    if "id" not in body and d.id:
        body["id"] = d.id
    order = d.record.get("__key_order__") or ["id", "data_type", "dimension", "subdimension", "malicious_intent", "conversations"]
    out = {k: body[k] for k in order if k in body}
    out.update({k: v for k, v in body.items() if k not in out})
    return out


def _as_text(content: Any, rid: Any, i: int) -> str:
    if content is None:
        return ""
    if not isinstance(content, str):
        raise InputError(f"must be a string, got {type(content).__name__}", record=rid, turn=i, field="content")
    return content


# --------------------------------------------------------------------------- OpenAI / demo


def from_messages(messages: Iterable[Mapping[str, Any]], *, id: str = "", base_dir: Path | None = None,
                  limits: ImageLimits = DEFAULT_LIMITS) -> Dialogue:
    """Parse OpenAI chat messages or the LLaVAShield demo format into a Dialogue.

    `content` may be a string or a list of parts: `{"type": "text", "text"}`, `{"type": "image_url",
    "image_url": {"url"}}` (path, `file://` or `data:` URI, or http(s) when allowed), or the demo's
    `{"type": "image", "image": path-or-uri}`. Images are collected in order; text parts are joined.
    """
    turns: list[Turn] = []
    system: str | None = None
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            raise InputError("a message must be an object", record=id or None, turn=i)
        role = m.get("role")
        content = m.get("content", "")
        texts: list[str] = []
        images: list[ImageRef] = []
        if content is None:
            pass
        elif isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            for j, part in enumerate(content):
                _read_part(part, texts, images, id, i, j, base_dir, limits)
        else:
            raise InputError("must be a string or a list of parts", record=id or None, turn=i, field="content")
        text = "\n".join(t for t in texts if t)
        if role == "system":
            system = text
            continue
        if role not in ROLES:
            raise InputError(f"unknown role {role!r}; expected 'user', 'assistant' or 'system'", record=id or None, turn=i, field="role")
        turns.append(Turn(role=role, content=text, images=images))
    if not turns:
        raise InputError("dialogue has no user or assistant turns", record=id or None, field="messages")
    return Dialogue(turns=turns, id=id, system=system)


def _read_part(part: Any, texts: list[str], images: list[ImageRef], rid: str, i: int, j: int,
               base_dir: Path | None, limits: ImageLimits) -> None:
    fld = f"content[{j}]"
    if not isinstance(part, Mapping):
        raise InputError("a content part must be an object", record=rid or None, turn=i, field=fld)
    kind = part.get("type")
    if kind == "text":
        texts.append(str(part.get("text", "")))
    elif kind == "image_url":
        url = part.get("image_url")
        url = url.get("url") if isinstance(url, Mapping) else url
        if not isinstance(url, str) or not url:
            raise InputError("image_url part needs a url", record=rid or None, turn=i, field=fld)
        images.append(ImageRef(url, base_dir, limits=limits))
    elif kind == "image":
        src = part.get("image")
        if not isinstance(src, str) or not src:
            raise InputError("image part needs an image path or URI", record=rid or None, turn=i, field=fld)
        images.append(ImageRef(src, base_dir, limits=limits))
    else:
        raise InputError(f"unknown content part type {kind!r}", record=rid or None, turn=i, field=fld)


def to_messages(d: Dialogue) -> list[dict[str, Any]]:
    """The dialogue as OpenAI chat messages, images as `image_url` parts with data URIs, in order."""
    out: list[dict[str, Any]] = []
    if d.system is not None:
        out.append({"role": "system", "content": d.system})
    for t in d.turns:
        if not t.images:
            out.append({"role": t.role, "content": t.content})
            continue
        parts: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": im.to_data_uri()}} for im in t.images]
        parts.append({"type": "text", "text": t.content})
        out.append({"role": t.role, "content": parts})
    return out


def parse_any(obj: Any, *, base_dir: Path | None = None, record_no: int | None = None,
              limits: ImageLimits = DEFAULT_LIMITS) -> Dialogue:
    """Parse one JSON value that is an MMDS record, `{"messages": [...]}`, or a bare message list."""
    if isinstance(obj, list):
        return from_messages(obj, id=str(record_no) if record_no is not None else "", base_dir=base_dir, limits=limits)
    if isinstance(obj, Mapping):
        if "conversations" in obj:
            return from_mmds(obj, base_dir, record_no=record_no, limits=limits)
        if "messages" in obj:
            rid = str(obj.get("id", record_no if record_no is not None else ""))
            return from_messages(obj["messages"], id=rid, base_dir=base_dir, limits=limits)
    raise InputError("not a dialogue: expected an MMDS record (conversations), {\"messages\": [...]} or a message list",
                     record=record_no)


# --------------------------------------------------------------------------- files


@dataclass
class ParsedRecord:
    """One line of an input file: a dialogue, or the error that stopped it (never both)."""

    index: int
    dialogue: Dialogue | None
    error: InputError | None
    raw_id: str | None = None


def iter_jsonl(path: Path, *, limits: ImageLimits = DEFAULT_LIMITS) -> Iterator[ParsedRecord]:
    """Read an MMDS / messages JSONL file; a bad line yields an error record and reading goes on."""
    path = Path(path)
    base = path.parent
    with open(path, "rb") as fh:
        for no, raw in enumerate(fh):
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield ParsedRecord(no, None, InputError(f"line {no + 1} is not valid UTF-8 ({exc.reason} at byte {exc.start})", record=f"line {no + 1}"))
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield ParsedRecord(no, None, InputError(f"line {no + 1} is not valid JSON: {exc.msg} (column {exc.colno})", record=f"line {no + 1}"))
                continue
            rid = str(obj.get("id")) if isinstance(obj, dict) and obj.get("id") is not None else None
            try:
                d = parse_any(obj, base_dir=base, record_no=no, limits=limits)
                if not d.id:
                    d.id = rid or str(no)
                yield ParsedRecord(no, d, None, rid or d.id)
            except InputError as exc:
                if exc.record is None:
                    exc.record = rid or f"line {no + 1}"
                yield ParsedRecord(no, None, exc, rid)


def read_input(path: Path, *, limits: ImageLimits = DEFAULT_LIMITS) -> Iterator[ParsedRecord]:
    """Read a JSONL file, or a `.json` file holding one dialogue (or a list of MMDS records)."""
    path = Path(path)
    if path.suffix == ".json":
        try:
            obj = json.loads(path.read_text("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            yield ParsedRecord(0, None, InputError(f"{path} is not valid UTF-8 JSON: {exc}", record=path.name))
            return
        items = obj if isinstance(obj, list) and obj and isinstance(obj[0], Mapping) and "conversations" in obj[0] else [obj]
        for no, it in enumerate(items):
            try:
                d = parse_any(it, base_dir=path.parent, record_no=no if len(items) > 1 else None, limits=limits)
                if not d.id:
                    d.id = path.stem if len(items) == 1 else str(no)
                yield ParsedRecord(no, d, None, d.id)
            except InputError as exc:
                yield ParsedRecord(no, None, exc, None)
        return
    yield from iter_jsonl(path, limits=limits)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's content, read in 1 MiB blocks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_jsonl_atomic(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows as JSON Lines to a temp file beside `path`, then rename over it. Returns the count."""
    import os
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
                n += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n
