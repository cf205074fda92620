"""`openai` backend: any OpenAI-compatible chat-completions endpoint as the judge.

Works with vLLM or SGLang serving LLaVAShield-7B (prompt style ``llavashield``, byte-identical to
the fine-tuning prompt) and with hosted or self-served general VLMs (prompt style ``generic``).

Request shape: one user message. For ``llavashield`` its content is every image of the dialogue as
an ``image_url`` part (a data URI), in dialogue order, followed by the prompt text; the prompt
already holds one ``<image>`` placeholder per image (``Image1: <image>; ...``), and a server using
a string content format (vLLM ``--chat-template-content-format string``) fills those placeholders
with the attached images in order, which is exactly how the model was trained. For ``generic`` the
prompt text comes first, then each image preceded by a ``ImageK:`` label part. A dialogue without
images is sent as a plain string.

Retries: 429, 5xx, timeouts and connection errors are retried with exponential backoff and jitter,
honouring ``Retry-After`` / ``retry-after-ms``; other HTTP errors fail at once. The answer goes
through the fail-closed parser: an unusable answer is an error, never a Safe verdict.
"""

from __future__ import annotations

import email.utils
import io
import os
import random
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx

from mmshield.dialogue import Dialogue
from mmshield.errors import BackendError, ModelOutputError
from mmshield.images import ImageRef
from mmshield.policy import Policy
from mmshield.prompting import STYLES, parse_output, prompt_images, render_prompt
from mmshield.shields.base import BaseShield
from mmshield.verdict import Verdict

_DEFAULTS: dict[str, Any] = {
    "prompt_style": "llavashield",
    "max_concurrency": 4,
    "timeout_s": 120.0,
    "max_retries": 3,
    "temperature": 0.0,
    "max_tokens": 1024,
    "backoff_s": 0.5,
    "backoff_max_s": 30.0,
    "max_retry_after_s": 120.0,
}
_OK_MIME = ("image/png", "image/jpeg", "image/webp", "image/gif")


class OpenAIShield(BaseShield):
    """Judge dialogues with a model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Options (None means "use the default"):
        base_url: server root including ``/v1`` (else ``$OPENAI_BASE_URL``); required.
        model: model name (else ``$OPENAI_MODEL``; else the only model the server lists).
        api_key: bearer token (else ``$OPENAI_API_KEY``; none sent when absent).
        prompt_style: ``llavashield`` (the fine-tuned prompt) or ``generic`` (any VLM).
        max_concurrency: requests in flight at once, across all threads (default 4).
        timeout_s: per-request timeout in seconds (default 120).
        max_retries: retries after the first attempt on 429/5xx/timeouts/connection errors (default 3).
        temperature, max_tokens: sampling settings (default 0 and 1024).
        backoff_s, backoff_max_s: exponential backoff base and cap; max_retry_after_s caps Retry-After.
        extra_body: extra JSON fields merged into every request (e.g. ``{"seed": 0}``).
        headers: extra HTTP headers.
        transport: an httpx transport (for tests or custom networking).
    """

    name = "openai"

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        prompt_style: str | None = None,
        max_concurrency: int | None = None,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        backoff_s: float | None = None,
        backoff_max_s: float | None = None,
        max_retry_after_s: float | None = None,
        extra_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        opts = dict(_DEFAULTS)
        given = {
            "prompt_style": prompt_style, "max_concurrency": max_concurrency, "timeout_s": timeout_s,
            "max_retries": max_retries, "temperature": temperature, "max_tokens": max_tokens,
            "backoff_s": backoff_s, "backoff_max_s": backoff_max_s, "max_retry_after_s": max_retry_after_s,
        }
        opts.update({k: v for k, v in given.items() if v is not None})
        url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not url:
            raise BackendError("openai backend needs a server URL: pass --base-url URL (e.g. http://localhost:8000/v1) "
                               "or set OPENAI_BASE_URL")
        if not url.startswith(("http://", "https://")):
            raise BackendError(f"openai backend: base URL {url!r} must start with http:// or https://")
        if opts["prompt_style"] not in STYLES:
            raise BackendError(f"unknown prompt style {opts['prompt_style']!r}; choose one of: {', '.join(STYLES)}")
        if int(opts["max_concurrency"]) < 1:
            raise BackendError("max_concurrency must be at least 1")
        if int(opts["max_retries"]) < 0 or float(opts["timeout_s"]) <= 0:
            raise BackendError("max_retries must be >= 0 and timeout_s > 0")
        self.base_url = url.rstrip("/")
        self.model = model or os.environ.get("OPENAI_MODEL") or None
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
        self.prompt_style: str = opts["prompt_style"]
        self.max_concurrency = int(opts["max_concurrency"])
        self.timeout_s = float(opts["timeout_s"])
        self.max_retries = int(opts["max_retries"])
        self.temperature = float(opts["temperature"])
        self.max_tokens = int(opts["max_tokens"])
        self.backoff_s = float(opts["backoff_s"])
        self.backoff_max_s = float(opts["backoff_max_s"])
        self.max_retry_after_s = float(opts["max_retry_after_s"])
        self.extra_body = dict(extra_body or {})
        self._headers = {"Content-Type": "application/json", **dict(headers or {})}
        if self.api_key:
            self._headers["Authorization"] = f"Bearer {self.api_key}"
        self._transport = transport
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.max_concurrency)
        if self.model:
            self.name = f"openai:{self.model}"

    # ------------------------------------------------------------------ public API

    def moderate(self, dialogue: Dialogue, policy: Policy | None = None) -> Verdict:
        """Judge one dialogue; raises BackendError (HTTP) or ModelOutputError (unusable answer)."""
        t0 = time.perf_counter()
        policy = policy or Policy.default()
        model = self._resolve_model()
        body = {
            "model": model,
            "messages": self.build_messages(dialogue, policy),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            **self.extra_body,
        }
        data, attempts = self._post("/chat/completions", body)
        text, finish = _answer_text(data)
        try:
            verdict = parse_output(text, policy, dialogue)
        except ModelOutputError as exc:
            hint = f" (generation stopped at max_tokens={self.max_tokens})" if finish == "length" else ""
            raise ModelOutputError(f"{self.name}: unusable model answer{hint}: {exc}") from exc
        usage = dict(data.get("usage") or {})
        usage.update({"attempts": attempts, "finish_reason": finish})
        if data.get("model"):
            usage["model"] = data["model"]
        verdict.usage = usage
        verdict.backend = f"openai:{model}"
        verdict.latency_ms = (time.perf_counter() - t0) * 1000
        return verdict

    def moderate_many(
        self, dialogues: Iterable[Dialogue], policy: Policy | None = None
    ) -> Iterator[Verdict | Exception]:
        """Judge many with at most `max_concurrency` requests in flight; results in input order."""
        pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="mmshield-openai")
        pending: deque[Future[Verdict]] = deque()
        try:
            for d in dialogues:
                pending.append(pool.submit(self.moderate, d, policy))
                while len(pending) >= 2 * self.max_concurrency:
                    yield _outcome(pending.popleft())
            while pending:
                yield _outcome(pending.popleft())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def build_messages(self, dialogue: Dialogue, policy: Policy | None = None) -> list[dict[str, Any]]:
        """The chat messages sent for one dialogue (see the module docstring for the layout)."""
        prompt = render_prompt(dialogue, policy, style=self.prompt_style)
        images = prompt_images(dialogue)
        if not images:
            return [{"role": "user", "content": prompt}]
        parts: list[dict[str, Any]] = []
        if self.prompt_style == "llavashield":
            parts.extend({"type": "image_url", "image_url": {"url": _data_uri(im)}} for im in images)
            parts.append({"type": "text", "text": prompt})
        else:
            parts.append({"type": "text", "text": prompt})
            for k, im in enumerate(images, 1):
                parts.append({"type": "text", "text": f"Image{k}:"})
                parts.append({"type": "image_url", "image_url": {"url": _data_uri(im)}})
        return [{"role": "user", "content": parts}]

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> OpenAIShield:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ HTTP

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.timeout_s),
                    limits=httpx.Limits(max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency),
                    transport=self._transport,
                )
            return self._client

    def _resolve_model(self) -> str:
        """The configured model, else the only model the server lists (asked once)."""
        if self.model:
            return self.model
        data, _ = self._request("GET", "/models", None)
        ids = [m.get("id") for m in data.get("data") or [] if isinstance(m, dict) and m.get("id")]
        if len(ids) != 1:
            raise BackendError(f"openai backend: pass --model NAME; the server at {self.base_url} lists "
                               f"{len(ids)} models ({', '.join(map(str, ids[:10])) or 'none'})")
        self.model = str(ids[0])
        self.name = f"openai:{self.model}"
        return self.model

    def _post(self, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        return self._request("POST", path, body)

    def _request(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[dict[str, Any], int]:
        """Send with retries; returns the JSON body and the number of attempts made."""
        url = self.base_url + path
        client = self._http()
        last = ""
        for attempt in range(self.max_retries + 1):
            wait: float | None = None
            try:
                with self._slots:
                    resp = client.request(method, url, json=body, headers=self._headers)
            except httpx.TimeoutException:
                last = f"no answer within timeout_s={self.timeout_s:g}"
            except httpx.TransportError as exc:
                last = f"connection error: {type(exc).__name__}: {exc}"
            else:
                code = resp.status_code
                if 200 <= code < 300:
                    try:
                        data = resp.json()
                    except ValueError as exc:
                        raise BackendError(f"{method} {url}: HTTP {code} with a body that is not JSON: {_clip(resp.text)}") from exc
                    if not isinstance(data, dict):
                        raise BackendError(f"{method} {url}: HTTP {code} with a JSON {type(data).__name__}, expected an object")
                    return data, attempt + 1
                detail = f"HTTP {code}: {_clip(resp.text)}"
                if code != 429 and code < 500:
                    raise BackendError(f"{method} {url} failed: {detail}{_hint(code)}")
                last = detail
                wait = _retry_after(resp.headers)
            if attempt == self.max_retries:
                break
            time.sleep(self._delay(attempt, wait))
        raise BackendError(f"{method} {url} failed after {self.max_retries + 1} attempt(s): {last}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after_s)
        cap = min(self.backoff_max_s, self.backoff_s * (2**attempt))
        return cap / 2 + random.uniform(0, cap / 2)


# ---------------------------------------------------------------------- helpers


def _outcome(fut: Future[Verdict]) -> Verdict | Exception:
    try:
        return fut.result()
    except Exception as exc:  # noqa: BLE001 - reported in place, the batch goes on
        return exc


def _answer_text(data: Mapping[str, Any]) -> tuple[str, str | None]:
    """The assistant text of the first choice, and its finish reason."""
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise BackendError(f"server answer has no choices: {_clip(str(data))}")
    choice = choices[0]
    msg = choice.get("message") or {}
    content = msg.get("content") if isinstance(msg, Mapping) else None
    if isinstance(content, list):  # some servers answer with content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    if not isinstance(content, str) or not content.strip():
        refusal = msg.get("refusal") if isinstance(msg, Mapping) else None
        why = f" (refusal: {refusal!r})" if refusal else ""
        raise ModelOutputError(f"model returned no text{why}")
    return content, choice.get("finish_reason")


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date), if given."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return float(ra)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(ra)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def _data_uri(im: ImageRef) -> str:
    """The image as a data URI, decoded first (limits, corruption); odd formats re-encoded as PNG."""
    img = im.load()
    uri = im.to_data_uri()
    if uri.startswith(tuple(f"data:{m};" for m in _OK_MIME)):
        return uri
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return ImageRef.from_bytes(buf.getvalue()).to_data_uri()


def _clip(text: str, n: int = 300) -> str:
    t = " ".join(text.split())
    return t[:n] + ("..." if len(t) > n else "")


def _hint(code: int) -> str:
    if code in (401, 403):
        return " (check --api-key / OPENAI_API_KEY)"
    if code == 404:
        return " (check --base-url: it usually ends with /v1; and --model)"
    if code == 400:
        return " (the server refused the request: too long for its context, or images not supported by this model?)"
    return ""
