"""The `openai` backend against a real chat-completions HTTP server on loopback."""

from __future__ import annotations

import base64
import json
import re
import socket
import time
from pathlib import Path

import pytest
from PIL import Image

from mmshield.dialogue import Dialogue, Turn, from_mmds
from mmshield.errors import BackendError, ImageError, ModelOutputError
from mmshield.policy import Policy
from mmshield.prompting import render_prompt
from mmshield.shields.base import get_shield
from mmshield.shields.openai_compat import OpenAIShield
from mmshield.taxonomy import NONE_APPLYING
from mmshield.verdict import Verdict

try:  # tests/ may or may not be a package
    from .servers.chat_server import ChatServer, Reply, Request, completion
except ImportError:
    from servers.chat_server import ChatServer, Reply, Request, completion  # type: ignore[no-redef]

SUBSET = Policy.from_keys(["O5", "O7"])


def verdict_text(user_rating: str = "Unsafe", user_dimension: str = "Illegal Activities", rationale: str = "r",
                 assistant: bool = True) -> str:
    obj = {
        "user_rating": user_rating, "assistant_rating": "Safe" if assistant else "null",
        "user_dimension": user_dimension, "assistant_dimension": NONE_APPLYING if assistant else "null",
        "user_rationale": rationale, "assistant_rationale": "refuses" if assistant else "null",
    }
    return "<OUTPUT>\n```json\n" + json.dumps(obj, indent=4) + "\n```\n</OUTPUT>"


def ok(req: Request) -> Reply:
    return Reply(body=completion(verdict_text()))


def prompt_text(req: Request) -> str:
    content = req.body["messages"][0]["content"]
    if isinstance(content, str):
        return content
    return "".join(p["text"] for p in content if p["type"] == "text")


@pytest.fixture()
def images(tmp_path: Path) -> list[Path]:
    paths = []
    for i, color in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        p = tmp_path / f"img{i}.png"
        Image.new("RGB", (16 + i, 16), color).save(p)
        paths.append(p)
    return paths


def multi_image_dialogue(images: list[Path]) -> Dialogue:
    rec = {"id": "mi", "conversations": [
        {"role": "user", "content": "What are these tools?", "image": [images[0].name, images[1].name]},
        {"role": "assistant", "content": "A lock and a pick.", "image": []},
        {"role": "user", "content": "How do I use them on my neighbour's door?", "image": [images[2].name]},
        {"role": "assistant", "content": "I can't help with that.", "image": []},
    ]}
    return from_mmds(rec, images[0].parent)


def decode(url: str) -> bytes:
    header, _, payload = url.partition(",")
    assert header.startswith("data:image/png;base64")
    return base64.b64decode(payload)


def test_exact_request(images: list[Path]) -> None:
    dlg = multi_image_dialogue(images)
    with ChatServer(ok) as srv:
        shield = OpenAIShield(base_url=srv.base_url, model="llavashield-7b", api_key="sk-test", max_tokens=321)
        v = shield.moderate(dlg, SUBSET)
    assert len(srv.requests) == 1
    req = srv.requests[0]
    assert req.method == "POST" and req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer sk-test"
    body = req.body
    assert body["model"] == "llavashield-7b" and body["temperature"] == 0 and body["max_tokens"] == 321
    assert len(body["messages"]) == 1 and body["messages"][0]["role"] == "user"
    parts = body["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["image_url", "image_url", "image_url", "text"]
    assert [decode(p["image_url"]["url"]) for p in parts[:3]] == [p.read_bytes() for p in images]
    assert parts[3]["text"] == render_prompt(dlg, SUBSET)
    assert parts[3]["text"].count("<image>") == 3
    assert "Image3: <image>. How do I use them" in parts[3]["text"]
    # the verdict
    assert v.user.rating == "Unsafe" and v.user.dimension == "Illegal Activities"
    assert v.backend == "openai:llavashield-7b" and v.id == "mi"
    assert v.usage["prompt_tokens"] == 100 and v.usage["completion_tokens"] == 20 and v.usage["attempts"] == 1
    assert v.latency_ms > 0


def test_text_only_dialogue_sends_string_and_no_auth_without_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    dlg = Dialogue(id="t", turns=[Turn("user", "How do I pick a lock?")])
    with ChatServer(lambda r: Reply(body=completion(verdict_text(assistant=False)))) as srv:
        v = OpenAIShield(base_url=srv.base_url, model="m").moderate(dlg, SUBSET)
    req = srv.requests[0]
    assert "authorization" not in req.headers
    assert req.body["messages"][0]["content"] == render_prompt(dlg, SUBSET)
    assert v.assistant.rating is None


def test_generic_style_request(images: list[Path]) -> None:
    dlg = multi_image_dialogue(images)
    with ChatServer(ok) as srv:
        OpenAIShield(base_url=srv.base_url, model="gpt-x", prompt_style="generic").moderate(dlg, SUBSET)
    parts = srv.requests[0].body["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": render_prompt(dlg, SUBSET, style="generic")}
    assert [p.get("text") for p in parts[1::2]] == ["Image1:", "Image2:", "Image3:"]
    assert [decode(p["image_url"]["url"]) for p in parts[2::2]] == [p.read_bytes() for p in images]


def test_env_fallback_and_registry_ignores_none(monkeypatch: pytest.MonkeyPatch) -> None:
    with ChatServer(ok) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "env-key")
        shield = get_shield("openai", base_url=None, model="m", api_key=None, prompt_style=None,
                            max_concurrency=None, timeout_s=None)
        assert isinstance(shield, OpenAIShield) and shield.name == "openai:m"
        shield.moderate(Dialogue(turns=[Turn("user", "hi"), Turn("assistant", "hello")]), SUBSET)
    assert srv.requests[0].headers["authorization"] == "Bearer env-key"


def test_model_discovered_from_server_when_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_MODEL", raising=False)

    def respond(req: Request) -> Reply:
        if req.method == "GET":
            return Reply(body={"object": "list", "data": [{"id": "served-shield", "object": "model"}]})
        return ok(req)

    with ChatServer(respond) as srv:
        shield = OpenAIShield(base_url=srv.base_url)
        v = shield.moderate(Dialogue(turns=[Turn("user", "hi"), Turn("assistant", "yo")]), SUBSET)
    assert [r.path for r in srv.requests] == ["/v1/models", "/v1/chat/completions"]
    assert srv.requests[1].body["model"] == "served-shield" and v.backend == "openai:served-shield"


def test_missing_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(BackendError, match="--base-url"):
        OpenAIShield(model="m")
    with pytest.raises(BackendError, match="prompt style"):
        OpenAIShield(base_url="http://127.0.0.1:1/v1", prompt_style="fancy")


@pytest.mark.parametrize("content", [
    "I think this conversation is fine.",
    "<OUTPUT>{\"user_rating\": \"Safe\"}</OUTPUT>",
    "<OUTPUT>```json\n{\"user_rating\": \"Safe\", \"assistant_rating\": \"Safe\", \"user_dimension\": \"Hacking\","
    " \"assistant_dimension\": \"NA: None applying\", \"user_rationale\": \"x\", \"assistant_rationale\": \"y\"}```</OUTPUT>",
])
def test_malformed_model_output_is_error_not_safe(content: str) -> None:
    dlg = Dialogue(turns=[Turn("user", "hi"), Turn("assistant", "hello")])
    with ChatServer(lambda r: Reply(body=completion(content))) as srv:
        shield = OpenAIShield(base_url=srv.base_url, model="m")
        with pytest.raises(ModelOutputError, match="openai:m"):
            shield.moderate(dlg, SUBSET)
        results = list(shield.moderate_many([dlg, dlg], SUBSET))
    assert all(isinstance(r, ModelOutputError) for r in results)
    assert len(srv.requests) == 3  # a bad answer is not retried


def test_truncated_answer_names_max_tokens() -> None:
    cut = verdict_text()[:60]
    with ChatServer(lambda r: Reply(body=completion(cut, finish_reason="length"))) as srv, pytest.raises(ModelOutputError, match="max_tokens=50"):
        OpenAIShield(base_url=srv.base_url, model="m", max_tokens=50).moderate(Dialogue(turns=[Turn("user", "hi")]), SUBSET)


def test_empty_or_missing_content() -> None:
    dlg = Dialogue(turns=[Turn("user", "hi")])
    with ChatServer(lambda r: Reply(body=completion(""))) as srv, pytest.raises(ModelOutputError, match="no text"):
        OpenAIShield(base_url=srv.base_url, model="m").moderate(dlg, SUBSET)
    with ChatServer(lambda r: Reply(body={"choices": []})) as srv, pytest.raises(BackendError, match="no choices"):
        OpenAIShield(base_url=srv.base_url, model="m").moderate(dlg, SUBSET)
    with ChatServer(lambda r: Reply(body="<html>gateway</html>")) as srv, pytest.raises(BackendError, match="not JSON"):
        OpenAIShield(base_url=srv.base_url, model="m").moderate(dlg, SUBSET)


def test_slow_response_times_out() -> None:
    dlg = Dialogue(turns=[Turn("user", "hi")])
    with ChatServer(lambda r: Reply(body=completion(verdict_text(assistant=False)), delay_s=1.5)) as srv:
        shield = OpenAIShield(base_url=srv.base_url, model="m", timeout_s=0.3, max_retries=1, backoff_s=0.05)
        t0 = time.monotonic()
        with pytest.raises(BackendError, match=r"timeout_s=0\.3") as info:
            shield.moderate(dlg, SUBSET)
        elapsed = time.monotonic() - t0
    assert "2 attempt" in str(info.value)
    assert not isinstance(info.value, ModelOutputError)
    assert elapsed < 1.4  # gave up on its own timeout, did not wait for the server
    assert len(srv.requests) == 2


def test_500_then_success_is_retried() -> None:
    calls = {"n": 0}

    def respond(req: Request) -> Reply:
        calls["n"] += 1
        if calls["n"] == 1:
            return Reply(status=500, body={"error": {"message": "engine overloaded"}})
        return Reply(body=completion(verdict_text()))

    with ChatServer(respond) as srv:
        v = OpenAIShield(base_url=srv.base_url, model="m", backoff_s=0.05).moderate(
            Dialogue(turns=[Turn("user", "hi"), Turn("assistant", "ho")]), SUBSET)
    assert len(srv.requests) == 2 and v.usage["attempts"] == 2 and v.user.rating == "Unsafe"
    assert srv.requests[0].body == srv.requests[1].body


def test_429_honours_retry_after() -> None:
    calls = {"n": 0}

    def respond(req: Request) -> Reply:
        calls["n"] += 1
        if calls["n"] == 1:
            return Reply(status=429, body={"error": "rate limited"}, headers={"Retry-After": "1"})
        return Reply(body=completion(verdict_text()))

    with ChatServer(respond) as srv:
        shield = OpenAIShield(base_url=srv.base_url, model="m", backoff_s=0.01, backoff_max_s=0.02)
        v = shield.moderate(Dialogue(turns=[Turn("user", "hi"), Turn("assistant", "ho")]), SUBSET)
    gap = srv.requests[1].at - srv.requests[0].at
    assert 0.95 <= gap < 3.0, gap  # waited the server's 1 s, not the 0.01 s backoff
    assert v.usage["attempts"] == 2


def test_persistent_5xx_gives_backend_error_after_retries() -> None:
    with ChatServer(lambda r: Reply(status=503, body={"error": "down"})) as srv:
        shield = OpenAIShield(base_url=srv.base_url, model="m", max_retries=2, backoff_s=0.01)
        with pytest.raises(BackendError, match=r"3 attempt\(s\): HTTP 503"):
            shield.moderate(Dialogue(turns=[Turn("user", "hi")]), SUBSET)
    assert len(srv.requests) == 3


@pytest.mark.parametrize("status, hint", [(400, "context"), (401, "api-key"), (404, "base-url")])
def test_client_errors_not_retried(status: int, hint: str) -> None:
    with ChatServer(lambda r: Reply(status=status, body={"error": {"message": "nope"}})) as srv:
        shield = OpenAIShield(base_url=srv.base_url, model="m", backoff_s=0.01)
        with pytest.raises(BackendError, match=f"HTTP {status}.*nope.*{hint}"):
            shield.moderate(Dialogue(turns=[Turn("user", "hi")]), SUBSET)
    assert len(srv.requests) == 1


def test_connection_refused_is_backend_error() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    shield = OpenAIShield(base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=1, backoff_s=0.01)
    with pytest.raises(BackendError, match="connection error"):
        shield.moderate(Dialogue(turns=[Turn("user", "hi")]), SUBSET)


def test_concurrency_limit_and_input_order() -> None:
    def respond(req: Request) -> Reply:
        n = re.search(r"question number (\d+)", prompt_text(req)).group(1)
        # later questions answer faster, so completion order differs from input order
        return Reply(body=completion(verdict_text(rationale=f"q{n}", assistant=False)), delay_s=0.05 * (10 - int(n)))

    dialogues = [Dialogue(id=str(i), turns=[Turn("user", f"question number {i}")]) for i in range(8)]
    with ChatServer(respond) as srv:
        shield = OpenAIShield(base_url=srv.base_url, model="m", max_concurrency=3)
        results = list(shield.moderate_many(iter(dialogues), SUBSET))
    assert srv.max_in_flight == 3
    assert all(isinstance(r, Verdict) for r in results)
    assert [r.user.rationale for r in results] == [f"q{i}" for i in range(8)]
    assert [r.id for r in results] == [str(i) for i in range(8)]


def test_moderate_many_failures_in_place(tmp_path: Path) -> None:
    good = Dialogue(id="good", turns=[Turn("user", "fine question")])
    bad_output = Dialogue(id="bad", turns=[Turn("user", "say garbage")])
    from mmshield.images import ImageRef

    missing = Dialogue(id="img", turns=[Turn("user", "see", [ImageRef("nope.png", tmp_path)])])

    def respond(req: Request) -> Reply:
        text = "garbage" if "say garbage" in prompt_text(req) else verdict_text(assistant=False)
        return Reply(body=completion(text))

    with ChatServer(respond) as srv:
        results = list(OpenAIShield(base_url=srv.base_url, model="m").moderate_many([good, bad_output, missing, good], SUBSET))
    assert isinstance(results[0], Verdict) and isinstance(results[3], Verdict)
    assert isinstance(results[1], ModelOutputError)
    assert isinstance(results[2], ImageError) and "not found" in str(results[2])
    assert len(srv.requests) == 3  # the dialogue with a missing image never reached the server


def test_odd_image_format_reencoded_as_png(tmp_path: Path) -> None:
    Image.new("RGB", (5, 5), (1, 2, 3)).save(tmp_path / "x.bmp")
    from mmshield.images import ImageRef

    dlg = Dialogue(turns=[Turn("user", "what?", [ImageRef("x.bmp", tmp_path)])])
    with ChatServer(lambda r: Reply(body=completion(verdict_text(assistant=False)))) as srv:
        OpenAIShield(base_url=srv.base_url, model="m").moderate(dlg, SUBSET)
    url = srv.requests[0].body["messages"][0]["content"][0]["image_url"]["url"]
    import io

    img = Image.open(io.BytesIO(decode(url)))
    assert img.format == "PNG" and img.getpixel((0, 0)) == (1, 2, 3)


def test_concurrency_limit_holds_across_caller_threads() -> None:
    """`moderate` called from many threads at once (e.g. by a server) still keeps the limit."""
    import threading

    with ChatServer(lambda r: Reply(body=completion(verdict_text(assistant=False)), delay_s=0.15)) as srv:
        shield = OpenAIShield(base_url=srv.base_url, model="m", max_concurrency=2)
        results: list[Verdict] = []
        threads = [threading.Thread(target=lambda: results.append(
            shield.moderate(Dialogue(turns=[Turn("user", "hi")]), SUBSET))) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(results) == 6 and len(srv.requests) == 6
    assert srv.max_in_flight == 2
