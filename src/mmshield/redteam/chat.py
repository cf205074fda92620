"""Chat models for the roles: an OpenAI-compatible HTTP client, and retries with timeouts per call."""

from __future__ import annotations

import base64
import concurrent.futures
import mimetypes
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from mmshield.errors import BackendError
from mmshield.redteam.types import Message

T = TypeVar("T")


@runtime_checkable
class ChatModel(Protocol):
    """Anything that answers a list of messages with one assistant text."""

    name: str

    def chat(self, messages: list[Message], *, system: str | None = None, max_tokens: int | None = None,
             temperature: float | None = None) -> str:
        ...


def image_data_uri(path: str | Path) -> str:
    p = Path(path)
    mime = mimetypes.guess_type(p.name)[0] or "image/png"
    return f"data:{mime};base64,{base64.b64encode(p.read_bytes()).decode('ascii')}"


def openai_messages(messages: list[Message], system: str | None = None, *, images: bool = True) -> list[dict[str, Any]]:
    """Messages in the chat-completions shape; images become `image_url` data-URI parts (or captions)."""
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": system})
    for m in messages:
        if not m.images:
            out.append({"role": m.role, "content": m.content})
        elif images:
            parts: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": image_data_uri(i.path)}} for i in m.images]
            parts.append({"type": "text", "text": m.content})
            out.append({"role": m.role, "content": parts})
        else:
            out.append({"role": m.role, "content": with_captions(m)})
    return out


def with_captions(m: Message) -> str:
    """A user turn for a text-only model: each image replaced by `[Image N: caption]` before the text."""
    tags = " ".join(f"[Image {k + 1}: {i.caption or 'an image'}]" for k, i in enumerate(m.images))
    return f"{tags}\n{m.content}" if tags else m.content


class OpenAIChat:
    """Any OpenAI-compatible chat-completions endpoint (vLLM, SGLang, llama.cpp server, hosted APIs)."""

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, api_key_env: str | None = None,
                 timeout: float = 60.0, max_tokens: int = 512, temperature: float = 0.7, send_images: bool = True,
                 transport: Any = None) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{model}"
        key = api_key or (os.environ.get(api_key_env) if api_key_env else None)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.send_images = send_images
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)

    def chat(self, messages: list[Message], *, system: str | None = None, max_tokens: int | None = None,
             temperature: float | None = None) -> str:
        import httpx

        body = {"model": self.model, "messages": openai_messages(messages, system, images=self.send_images),
                "max_tokens": max_tokens or self.max_tokens,
                "temperature": self.temperature if temperature is None else temperature}
        try:
            r = self._client.post("/chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise BackendError(f"{self.name}: request to {self.base_url}/chat/completions failed: {exc}") from exc
        if r.status_code >= 400:
            raise BackendError(f"{self.name}: HTTP {r.status_code} from {self.base_url}/chat/completions: {r.text[:300]}")
        try:
            content = r.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"{self.name}: response is not a chat completion: {r.text[:300]}") from exc
        if isinstance(content, list):  # some servers return content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return content or ""

    def close(self) -> None:
        self._client.close()


class CallPolicy:
    """Retries with exponential backoff and a wall-clock timeout per role call."""

    def __init__(self, retries: int = 2, timeout: float | None = 120.0, backoff: float = 1.0) -> None:
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="mmrt-call")

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run `fn`; on an exception or a timeout retry up to `retries` times, then raise BackendError."""
        last: BaseException | None = None
        for attempt in range(self.retries + 1):
            try:
                if self.timeout is None:
                    return fn()
                fut = self._pool.submit(fn)
                return fut.result(timeout=self.timeout)
            except concurrent.futures.TimeoutError:
                last = TimeoutError(f"{what}: no answer within {self.timeout:g}s")
            except Exception as exc:  # noqa: BLE001 - any role failure is retried, then reported
                last = exc
            if attempt < self.retries:
                time.sleep(self.backoff * (2 ** attempt))
        raise BackendError(f"{what} failed after {self.retries + 1} attempts: {last}") from last

    def close(self) -> None:
        """Release the worker threads (a call still hanging after its timeout finishes in the background)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
