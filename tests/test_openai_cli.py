"""End to end: `mmshield moderate --backend openai` against a loopback chat server, then `mmshield eval`.

The server plays an "oracle" judge: it reads the dialogue back out of the LLaVAShield prompt it
receives and answers with that record's gold labels, so the whole path (prompt, images, policy,
HTTP, parsing, output file, metrics) must be right for the scores to come out perfect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from mmshield.dialogue import read_input
from mmshield.prompting import conversation_json

try:  # tests/ may or may not be a package
    from .servers.chat_server import ChatServer, Reply, Request, completion
except ImportError:
    from servers.chat_server import ChatServer, Reply, Request, completion  # type: ignore[no-redef]


def oracle(gold_file: Path, broken_ids: tuple[str, ...] = ()) -> tuple[Callable[[Request], Reply], list[str]]:
    by_conv: dict[str, dict] = {}
    for pr in read_input(gold_file):
        assert pr.dialogue is not None
        by_conv[conversation_json(pr.dialogue)] = pr.dialogue.record | {"id": pr.dialogue.id}
    seen: list[str] = []

    def respond(req: Request) -> Reply:
        content = req.body["messages"][0]["content"]
        parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
        text = parts[-1]["text"]
        n_images = sum(p["type"] == "image_url" for p in parts)
        conv = re.search(r"\*\*Multi-turn Dialogue History\*\*:\n```json\n(.*)\n```\n\n\Z", text, re.DOTALL).group(1)
        rec = by_conv[conv]
        seen.append(rec["id"])
        assert n_images == conv.count("<image>")
        dims = re.findall(r"^O\d+: \**([^*\n]+)\**$", text, re.MULTILINE)
        assert dims == (rec.get("usage_policy") or dims)  # the record's policy, in its order
        if rec["id"] in broken_ids:
            return Reply(body=completion("I am not sure, it looks fine."))
        labels = {k: rec[k] if rec[k] is not None else "null" for k in (
            "user_rating", "assistant_rating", "user_dimension", "assistant_dimension", "user_rationale", "assistant_rationale")}
        return Reply(body=completion("<OUTPUT>\n```json\n" + json.dumps(labels, indent=4) + "\n```\n</OUTPUT>"))

    return respond, seen


def test_moderate_and_eval_through_openai_backend(examples_copy: Path, run_cli, tmp_path: Path) -> None:
    gold = examples_copy / "mmds_examples.jsonl"
    respond, seen = oracle(gold)
    out = tmp_path / "pred.jsonl"
    with ChatServer(respond) as srv:
        rc, _, err = run_cli("moderate", str(gold), "-o", str(out), "--backend", "openai", "--base-url", srv.base_url,
                             "--model", "llavashield-7b", "--api-key", "k", "--max-concurrency", "3", "--timeout", "20")
    assert rc == 0, err
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 12 == len(seen)
    assert all(x["backend"] == "openai:llavashield-7b" and x["usage"]["total_tokens"] == 120 for x in lines)
    rc, stdout, err = run_cli("eval", str(gold), str(out), "--json")
    assert rc == 0, err
    metrics = json.loads(stdout)
    for side in ("user", "assistant"):
        assert metrics[side]["f1"] == 1.0 and metrics[side]["accuracy"] == 1.0 and metrics[side]["fpr"] == 0.0


def test_unusable_answer_is_a_failed_record_not_safe(examples_copy: Path, run_cli, tmp_path: Path) -> None:
    gold = examples_copy / "mmds_examples.jsonl"
    respond, _ = oracle(gold, broken_ids=("ex03-lock",))
    out = tmp_path / "pred.jsonl"
    with ChatServer(respond) as srv:
        rc, _, err = run_cli("moderate", str(gold), "-o", str(out), "--backend", "openai", "--base-url", srv.base_url,
                             "--model", "m")
    assert rc == 1
    lines = {json.loads(x)["id"]: json.loads(x) for x in out.read_text().splitlines()}
    bad = lines["ex03-lock"]
    assert "user_rating" not in bad and bad["error"]["type"] == "ModelOutputError"
    assert sum("error" in x for x in lines.values()) == 1
    assert "ex03-lock" in err
