"""Safe, lazy image references: local paths, data URIs, bytes, and (only when allowed) remote URLs."""

from __future__ import annotations

import base64
import hashlib
import io
import ipaddress
import socket
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from mmshield.errors import ImageError

MAX_IMAGE_BYTES = 20 * 1024 * 1024
"""Refuse encoded images larger than this (20 MiB)."""
MAX_IMAGE_PIXELS = 40_000_000
"""Refuse images with more pixels than this (decompression-bomb guard)."""


@dataclass(frozen=True)
class ImageLimits:
    """Limits applied when reading an image."""

    max_bytes: int = MAX_IMAGE_BYTES
    max_pixels: int = MAX_IMAGE_PIXELS
    allow_remote: bool = False
    remote_timeout_s: float = 10.0


DEFAULT_LIMITS = ImageLimits()


@dataclass(eq=False)
class ImageRef:
    """A reference to one image; bytes are read lazily and cached, with a content hash.

    `source` is what the dialogue said (a relative path, `file://` URI, `data:` URI, http(s) URL,
    or `<bytes>`); `base_dir` resolves relative paths (the folder of the JSONL file).
    """

    source: str
    base_dir: Path | None = None
    data: bytes | None = field(default=None, repr=False)
    limits: ImageLimits = field(default=DEFAULT_LIMITS, repr=False)

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "<bytes>") -> ImageRef:
        return cls(source=name, data=data)

    @property
    def is_remote(self) -> bool:
        return self.source.startswith(("http://", "https://"))

    def path(self) -> Path | None:
        """Local file path, when the source is one."""
        src = self.source
        if self.data is not None and src == "<bytes>":
            return None
        if src.startswith("file://"):
            return Path(urllib.parse.unquote(urllib.parse.urlparse(src).path))
        if src.startswith(("data:", "http://", "https://")):
            return None
        p = Path(src)
        if not p.is_absolute() and self.base_dir is not None:
            p = self.base_dir / p
        return p

    def read_bytes(self) -> bytes:
        """The encoded image bytes, read once and checked against the byte limit."""
        if self.data is None:
            self.data = self._fetch()
        if len(self.data) > self.limits.max_bytes:
            raise ImageError(f"image {self.source!r} is {len(self.data)} bytes, over the {self.limits.max_bytes}-byte limit")
        return self.data

    def _fetch(self) -> bytes:
        src = self.source
        if src.startswith("data:"):
            return _decode_data_uri(src)
        if self.is_remote:
            if not self.limits.allow_remote:
                raise ImageError(f"remote image {src!r} refused: pass allow_remote=True (or --allow-remote-images) to fetch it")
            return _fetch_remote(src, self.limits)
        p = self.path()
        assert p is not None
        if not p.is_file():
            raise ImageError(f"image file not found: {p}")
        size = p.stat().st_size
        if size > self.limits.max_bytes:
            raise ImageError(f"image {p} is {size} bytes, over the {self.limits.max_bytes}-byte limit")
        return p.read_bytes()

    @property
    def sha256(self) -> str:
        """Content hash of the encoded bytes (cache key)."""
        return hashlib.sha256(self.read_bytes()).hexdigest()

    def load(self):  # -> PIL.Image.Image
        """Decode to an RGB PIL image, refusing corrupt images and decompression bombs."""
        from PIL import Image

        data = self.read_bytes()
        try:
            with Image.open(io.BytesIO(data)) as probe:
                w, h = probe.size
                if w * h > self.limits.max_pixels:
                    raise ImageError(f"image {self.source!r} has {w}x{h} pixels, over the {self.limits.max_pixels}-pixel limit")
                probe.verify()
            img = Image.open(io.BytesIO(data))
            img.load()
        except ImageError:
            raise
        except Exception as exc:  # PIL raises many types for corrupt data
            raise ImageError(f"image {self.source!r} is corrupt or not an image: {exc}") from exc
        return img.convert("RGB")

    def check(self) -> None:
        """Raise ImageError unless the image can be read and decoded within limits."""
        self.load()

    def to_data_uri(self) -> str:
        """The image as a `data:` URI (for OpenAI-style requests)."""
        data = self.read_bytes()
        mime = _sniff_mime(data)
        return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _sniff_mime(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:3] == b"GIF":
        return "image/gif"
    return "application/octet-stream"


def _decode_data_uri(uri: str) -> bytes:
    header, sep, payload = uri.partition(",")
    if not sep:
        raise ImageError("malformed data URI: no comma")
    try:
        if header.endswith(";base64"):
            return base64.b64decode(payload, validate=True)
        return urllib.parse.unquote_to_bytes(payload)
    except Exception as exc:
        raise ImageError(f"malformed data URI: {exc}") from exc


def _check_public_host(host: str) -> None:
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError as exc:
        raise ImageError(f"cannot resolve image host {host!r}: {exc}") from exc
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast or ip.is_unspecified:
            raise ImageError(f"image host {host!r} resolves to non-public address {ip}; refused")


def _fetch_remote(url: str, limits: ImageLimits) -> bytes:
    import httpx

    host = urllib.parse.urlparse(url).hostname or ""
    _check_public_host(host)
    chunks: list[bytes] = []
    total = 0
    with httpx.stream("GET", url, timeout=limits.remote_timeout_s, follow_redirects=False) as resp:
        if resp.status_code != 200:
            raise ImageError(f"fetching {url!r} gave HTTP {resp.status_code}")
        for chunk in resp.iter_bytes():
            total += len(chunk)
            if total > limits.max_bytes:
                raise ImageError(f"remote image {url!r} exceeds the {limits.max_bytes}-byte limit")
            chunks.append(chunk)
    return b"".join(chunks)
