"""The `llava` backend: LLaVAShield-7B (LLaVA-OneVision: Qwen2 + SigLIP) run locally with transformers.

Load a checkpoint in the transformers layout (convert the published LLaVA-NeXT weights first with
`mmshield convert-llava SRC DST`). Nothing is ever downloaded: only local folders are accepted.

How a dialogue becomes model input, matching how LLaVAShield was trained (LLaVA-NeXT, `--image_aspect_ratio
pad`, `--mm_patch_merge_type spatial_unpad`, conversation template `qwen_1_5`):

- the prompt is `mmshield.prompting.render_prompt` (byte parity with the released weights), wrapped as
  `<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n<|im_start|>user\\n{prompt}<|im_end|>\\n
  <|im_start|>assistant\\n`;
- every `<image>` placeholder, in order, becomes one image's block of image tokens: all images are used,
  and a text-only dialogue simply has none;
- each image is padded to a square with the image processor's mean colour (LLaVA's `expand2square`),
  resized to the tower's resolution, encoded by the SigLIP tower (last kept layer), projected, and followed
  by the learned `image_newline` vector, i.e. `(image_size / patch_size)^2 + 1` tokens per image;
- the dialogue's own text is tokenized with special tokens split, so text such as `<|im_end|>` or
  `<image>` typed by a user stays text and cannot forge turns or image slots;
- generation is greedy, the output is parsed by the fail-closed `parse_output` (garbage raises
  `ModelOutputError`, never a Safe verdict).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmshield.dialogue import Dialogue
from mmshield.errors import BackendError, ImageError, InputError, MMShieldError
from mmshield.policy import Policy
from mmshield.prompting import IMAGE_PLACEHOLDER, parse_output, prompt_images, render_prompt
from mmshield.shields.base import BaseShield
from mmshield.verdict import Verdict

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
"""The system message of LLaVA-NeXT's `qwen_1_5` template, which LLaVAShield was fine-tuned with."""

TRUNCATE_CHOICES = ("error", "drop_oldest")
_SENTINELS = ("\ue000", "\ue001", "\ue002", "\ufdd0")


def chat_wrap(prompt: str, system: str = DEFAULT_SYSTEM_PROMPT) -> tuple[str, str]:
    """The `qwen_1_5` text before and after the user prompt (kept apart so the prompt is tokenized as text)."""
    return (f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n")


def expand2square(img: Any, background: tuple[int, ...]) -> Any:
    """Pad a PIL image to a square with `background`, centred, as LLaVA training did."""
    from PIL import Image

    w, h = img.size
    if w == h:
        return img
    side = max(w, h)
    out = Image.new(img.mode, (side, side), background)
    out.paste(img, ((side - w) // 2, (side - h) // 2))
    return out


@dataclass
class Prepared:
    """One dialogue turned into token ids and pre-processed images, ready to batch."""

    dialogue: Dialogue
    policy: Policy
    input_ids: list[int]
    pixel_values: Any = None
    """Tensor `[n_images, 3, H, W]`, or None for a text-only dialogue."""
    image_tokens: list[int] = field(default_factory=list)
    """Image tokens reserved for each image, in order."""
    notes: list[str] = field(default_factory=list)
    kept_from_turn: int = 0


class LlavaShield(BaseShield):
    """LLaVAShield (LLaVA-OneVision) judge from a local transformers-layout checkpoint.

    Options:
        model: path of the converted checkpoint folder (alias `model_path`).
        device: "cpu" (default), "cuda", "cuda:N", "mps" or "auto" (cuda when available, else cpu).
        dtype: "float32", "bfloat16" or "float16"; default float32 on CPU, bfloat16 on GPU (float16 when
            the GPU has no bf16).
        batch_size: dialogues per generate call in `moderate_many` (left padding).
        max_new_tokens: generation budget for the verdict (default 512).
        max_context: token limit for prompt + generation; default the checkpoint's training length
            (16K for LLaVAShield) or `max_position_embeddings`, whichever is smaller.
        truncate: "error" (default: a too-long dialogue raises BackendError) or "drop_oldest" (drop whole
            turns from the start until it fits; said in `Verdict.notes`).
        system_prompt: the system message of the chat template.
    """

    name = "llava"

    def __init__(self, model: str | Path | None = None, *, model_path: str | Path | None = None,
                 device: str = "cpu", dtype: str | None = None, batch_size: int = 1, max_new_tokens: int = 512,
                 max_context: int | None = None, truncate: str = "error",
                 system_prompt: str = DEFAULT_SYSTEM_PROMPT, prompt_style: str = "llavashield") -> None:
        path = model if model is not None else model_path
        if path is None:
            raise BackendError("the llava backend needs model=PATH (a folder written by `mmshield convert-llava`)")
        if truncate not in TRUNCATE_CHOICES:
            raise ValueError(f"truncate must be one of {TRUNCATE_CHOICES}, got {truncate!r}")
        if batch_size < 1 or max_new_tokens < 1:
            raise ValueError("batch_size and max_new_tokens must be at least 1")
        if prompt_style != "llavashield":
            raise ValueError("the llava backend only speaks the 'llavashield' prompt style it was fine-tuned on")
        self.path = Path(path).expanduser()
        self.batch_size = int(batch_size)
        self.max_new_tokens = int(max_new_tokens)
        self.truncate = truncate
        self.system_prompt = system_prompt
        self._torch, self._tf = _imports()
        self.device = _resolve_device(self._torch, device)
        self.dtype = _resolve_dtype(self._torch, dtype, self.device)
        self._load()
        self.context_limit = self._context_limit(max_context)

    # ------------------------------------------------------------------------------------ loading

    def _load(self) -> None:
        tf = self._tf
        cfg_file = self.path / "config.json"
        if not self.path.is_dir() or not cfg_file.is_file():
            raise BackendError(f"{self.path}: not a local checkpoint folder with config.json (mmshield never downloads "
                               "weights; convert the published ones with `mmshield convert-llava SRC DST`)")
        import json

        raw = json.loads(cfg_file.read_text("utf-8"))
        if "mm_vision_tower" in raw:
            raise BackendError(f"{self.path}: original LLaVA-NeXT layout; convert it first: mmshield convert-llava {self.path} DST")
        if raw.get("model_type") != "llava_onevision":
            raise BackendError(f"{self.path}: model_type {raw.get('model_type')!r}, expected 'llava_onevision'")
        self.extra: dict[str, Any] = raw.get("mmshield") or {}
        dtype_kw = "dtype" if _version_at_least(tf.__version__, (4, 56)) else "torch_dtype"
        try:
            self.model = tf.LlavaOnevisionForConditionalGeneration.from_pretrained(
                str(self.path), local_files_only=True, trust_remote_code=False, **{dtype_kw: self.dtype})
            self.tokenizer = tf.AutoTokenizer.from_pretrained(str(self.path), local_files_only=True, trust_remote_code=False)
            self.image_processor = _load_image_processor(tf, self.path)
        except OSError as exc:
            raise BackendError(f"{self.path}: cannot load the checkpoint: {exc}") from exc
        self.model.to(self.device)
        self.model.eval()
        self.config = self.model.config
        inner = getattr(self.model, "model", self.model)
        self._inner = inner if hasattr(inner, "vision_tower") else self.model
        vc = self.config.vision_config
        n = (vc.image_size // vc.patch_size) ** 2
        if self.config.vision_feature_select_strategy == "default":
            n -= 1
        self.tokens_per_image = n + 1  # + image_newline
        self.image_token_id = int(self.config.image_token_index)
        tok = self.tokenizer
        self.im_end_id = tok.convert_tokens_to_ids("<|im_end|>")
        eos = [i for i in (self.im_end_id, tok.eos_token_id) if isinstance(i, int) and i >= 0]
        if not eos:
            raise BackendError(f"{self.path}: the tokenizer has neither <|im_end|> nor an eos token")
        self.eos_ids = sorted(set(eos))
        pad = tok.pad_token_id if tok.pad_token_id is not None else self.eos_ids[0]
        if pad == self.image_token_id:
            raise BackendError(f"{self.path}: the pad token is the image token")
        self.pad_id = int(pad)
        mean = getattr(self.image_processor, "image_mean", None) or [0.5, 0.5, 0.5]
        self.pad_colour = tuple(int(x * 255) for x in mean)
        self._prefix_cache: dict[str, list[int]] = {}

    def _context_limit(self, max_context: int | None) -> int:
        limits = [int(self.config.text_config.max_position_embeddings)]
        trained = self.extra.get("model_max_length")
        if isinstance(trained, int) and trained > 0:
            limits.append(trained)
        if max_context is not None:
            if max_context < 1:
                raise ValueError("max_context must be positive")
            limits = [max_context, limits[0]]
        return min(limits)

    # ------------------------------------------------------------------------------------ tokenizing

    def _encode_special(self, text: str) -> list[int]:
        """Template text whose special tokens (<|im_start|>...) are meant as such."""
        if text not in self._prefix_cache:
            self._prefix_cache[text] = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return self._prefix_cache[text]

    def _encode_text(self, text: str) -> list[int]:
        """Prompt text: special-token strings inside it are tokenized as plain text."""
        if not text:
            return []
        return list(self.tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"])

    def prompt_ids(self, dialogue: Dialogue, policy: Policy | None) -> tuple[list[int], int]:
        """Token ids of the full chat prompt (image slots expanded) and the number of images."""
        policy = policy or Policy.default()
        n_images = len(prompt_images(dialogue))
        sentinel = next((s for s in _SENTINELS if not any(s in t.content for t in dialogue.turns)), None)
        if sentinel is None:
            raise InputError("dialogue text contains every reserved sentinel character", record=dialogue.id or None)
        safe = _replace_text(dialogue, IMAGE_PLACEHOLDER, sentinel)
        prompt = render_prompt(safe, policy)
        pieces = prompt.split(IMAGE_PLACEHOLDER)
        if len(pieces) - 1 != n_images:
            raise InputError(f"the policy text contains the image placeholder {IMAGE_PLACEHOLDER!r}; remove it",
                             record=dialogue.id or None, field="policy")
        before, after = chat_wrap(prompt, self.system_prompt)
        ids = list(self._encode_special(before))
        for i, piece in enumerate(pieces):
            if i:
                ids.extend([self.image_token_id] * self.tokens_per_image)
            ids.extend(self._encode_text(piece.replace(sentinel, IMAGE_PLACEHOLDER)))
        ids.extend(self._encode_special(after))
        return ids, n_images

    def prepare(self, dialogue: Dialogue, policy: Policy | None = None) -> Prepared:
        """Tokenize and fit into the context (or raise BackendError), then load and pre-process the images."""
        policy = policy or Policy.default()
        ids, _ = self.prompt_ids(dialogue, policy)
        budget = self.context_limit - self.max_new_tokens
        notes: list[str] = []
        start = 0
        if len(ids) > budget:
            if self.truncate != "drop_oldest":
                raise BackendError(
                    f"record {dialogue.id or '?'}: the prompt is {len(ids)} tokens; with max_new_tokens="
                    f"{self.max_new_tokens} it exceeds the {self.context_limit}-token context. Pass "
                    "truncate='drop_oldest' to drop the oldest turns, or raise max_context")
            full = dialogue
            while len(ids) > budget:
                start += 1
                if start >= len(full.turns):
                    raise BackendError(
                        f"record {dialogue.id or '?'}: even the last turn alone needs {len(ids)} prompt tokens, over the "
                        f"{budget} available ({self.context_limit} context - {self.max_new_tokens} new tokens)")
                dialogue = Dialogue(turns=full.turns[start:], id=full.id, system=full.system, record=full.record)
                ids, _ = self.prompt_ids(dialogue, policy)
            dropped_imgs = sum(len(t.images) for t in full.turns[:start])
            notes.append(f"context: dropped the {start} oldest turn(s) ({dropped_imgs} image(s)) to fit the "
                         f"{self.context_limit}-token context; the verdict judges turns {start}..{len(full.turns) - 1} only")
            for role in ("user", "assistant"):
                if full.has_role(role) and not dialogue.has_role(role):
                    notes.append(f"context: no {role} turn left after dropping; the {role} side is reported as null")
        pixel_values, counts = self._pixels(dialogue, offset=start)
        return Prepared(dialogue=dialogue, policy=policy, input_ids=ids, pixel_values=pixel_values,
                        image_tokens=counts, notes=notes, kept_from_turn=start)

    # ------------------------------------------------------------------------------------ images

    def _pixels(self, dialogue: Dialogue, offset: int = 0) -> tuple[Any, list[int]]:
        torch = self._torch
        tensors = []
        for ti, turn in enumerate(dialogue.turns):
            for ii, ref in enumerate(turn.images):
                try:
                    img = ref.load()
                except ImageError as exc:
                    raise ImageError(exc.message, record=dialogue.id or None, turn=ti + offset, field=f"image[{ii}]") from exc
                tensors.append(self.pixel_values(img))
        if not tensors:
            return None, []
        return torch.stack(tensors), [self.tokens_per_image] * len(tensors)

    def pixel_values(self, img: Any) -> Any:
        """One RGB PIL image -> `[3, H, W]`: padded to square, then the processor's resize/rescale/normalise."""
        sq = expand2square(img.convert("RGB"), self.pad_colour)
        size = self.config.vision_config.image_size
        out = self.image_processor(images=[sq], return_tensors="pt", image_grid_pinpoints=[[size, size]])
        pv = out["pixel_values"]
        return pv[0][0] if pv.dim() == 5 else pv[0]

    def image_features(self, pixel_values: Any) -> Any:
        """`[n, 3, H, W]` -> `[n, tokens_per_image, hidden]`: tower, projector, then the newline vector."""
        torch = self._torch
        with torch.inference_mode():
            return self._image_features(pixel_values)

    def _image_features(self, pixel_values: Any) -> Any:
        torch = self._torch
        inner = self._inner
        pv = pixel_values.to(self.device, self.dtype)
        out = inner.vision_tower(pv, output_hidden_states=True, return_dict=True)
        layer = self.config.vision_feature_layer
        if isinstance(layer, int):
            hs = out.hidden_states[layer]
        else:
            hs = torch.cat([out.hidden_states[i] for i in layer], dim=-1)
        if self.config.vision_feature_select_strategy == "default":
            hs = hs[:, 1:]
        feats = inner.multi_modal_projector(hs)
        newline = inner.image_newline.to(feats.dtype)[None, None, :].expand(feats.shape[0], 1, feats.shape[-1])
        feats = torch.cat([feats, newline], dim=1)
        if feats.shape[1] != self.tokens_per_image:
            raise BackendError(f"image features have {feats.shape[1]} tokens, expected {self.tokens_per_image}")
        return feats

    # ------------------------------------------------------------------------------------ generation

    def embed_batch(self, batch: Sequence[Prepared]) -> tuple[Any, Any]:
        """Left-padded input embeddings with every image block filled in, and the attention mask."""
        with self._torch.inference_mode():
            return self._embed_batch(batch)

    def _embed_batch(self, batch: Sequence[Prepared]) -> tuple[Any, Any]:
        torch = self._torch
        width = max(len(p.input_ids) for p in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, p in enumerate(batch):
            ids[row, width - len(p.input_ids):] = torch.tensor(p.input_ids, dtype=torch.long)
            mask[row, width - len(p.input_ids):] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        embeds = self.model.get_input_embeddings()(ids)
        pix = [p.pixel_values for p in batch if p.pixel_values is not None]
        slots = (ids == self.image_token_id) & mask.bool()
        n_slots = int(slots.sum())
        if pix:
            feats = self.image_features(torch.cat(pix, dim=0))
            flat = feats.reshape(-1, feats.shape[-1])
            if flat.shape[0] != n_slots:
                raise BackendError(f"{n_slots} image tokens in the prompt but {flat.shape[0]} image feature vectors")
            embeds = embeds.masked_scatter(slots.unsqueeze(-1).expand_as(embeds), flat.to(embeds.dtype))
        elif n_slots:
            raise BackendError(f"{n_slots} image tokens in the prompt but no images")
        return embeds, mask

    def generate(self, batch: Sequence[Prepared]) -> list[tuple[str, int, bool]]:
        """Greedy generation; per item (decoded text, generated token count, hit max_new_tokens)."""
        with self._torch.inference_mode():
            embeds, mask = self._embed_batch(batch)
            out = self._generate(embeds, mask)
        seqs = out.sequences if hasattr(out, "sequences") else out
        if seqs.shape[1] > self.max_new_tokens:  # only new tokens fit in max_new_tokens; else the prompt is included
            seqs = seqs[:, embeds.shape[1]:]
        return [self._decode(row) for row in seqs.tolist()]

    def _generate(self, embeds: Any, mask: Any) -> Any:
        return self.model.generate(
            inputs_embeds=embeds, attention_mask=mask, max_new_tokens=self.max_new_tokens, do_sample=False,
            num_beams=1, eos_token_id=self.eos_ids, pad_token_id=self.pad_id, temperature=None, top_p=None, top_k=None,
        )

    def _decode(self, row: list[int]) -> tuple[str, int, bool]:
        """Text up to the first end token, its token count, and whether the budget ran out first."""
        n = next((i for i, t in enumerate(row) if t in self.eos_ids), len(row))
        return self.tokenizer.decode(row[:n], skip_special_tokens=True), n, n >= self.max_new_tokens

    # ------------------------------------------------------------------------------------ Shield API

    def moderate(self, dialogue: Dialogue, policy: Policy | None = None) -> Verdict:
        result = next(self._run([dialogue], policy))
        if isinstance(result, Exception):
            raise result
        return result

    def moderate_many(self, dialogues: Iterable[Dialogue], policy: Policy | None = None) -> Iterator[Verdict | Exception]:
        yield from self._run(dialogues, policy)

    def _run(self, dialogues: Iterable[Dialogue], policy: Policy | None) -> Iterator[Verdict | Exception]:
        pending: list[Prepared | Exception] = []
        for d in dialogues:
            try:
                pending.append(self.prepare(d, policy))
            except Exception as exc:  # noqa: BLE001 - reported in its position, the rest goes on
                pending.append(exc)
            if sum(isinstance(p, Prepared) for p in pending) >= self.batch_size:
                yield from self._flush(pending)
                pending = []
        if pending:
            yield from self._flush(pending)

    def _flush(self, items: list[Prepared | Exception]) -> Iterator[Verdict | Exception]:
        ready = [p for p in items if isinstance(p, Prepared)]
        results: dict[int, Verdict | Exception] = {}
        if ready:
            t0 = time.perf_counter()
            try:
                outs: list[tuple[str, int, bool] | Exception] = list(self.generate(ready))
            except Exception as exc:  # noqa: BLE001 - retry one by one so one bad item does not sink the batch
                if len(ready) == 1:
                    outs = [_as_backend_error(exc)]
                else:
                    outs = []
                    for p in ready:
                        try:
                            outs.extend(self.generate([p]))
                        except Exception as one:  # noqa: BLE001
                            outs.append(_as_backend_error(one))
            ms = (time.perf_counter() - t0) * 1000
            for p, o in zip(ready, outs):
                results[id(p)] = o if isinstance(o, Exception) else self.verdict_from_text(p, o, ms, len(ready))
        for it in items:
            yield it if isinstance(it, Exception) else results[id(it)]

    def verdict_from_text(self, p: Prepared, out: tuple[str, int, bool], ms: float = 0.0,
                          batch: int = 1) -> Verdict | Exception:
        """The Verdict for one generated text (parsed fail-closed), or the ModelOutputError it raised."""
        text, n_new, hit_limit = out
        try:
            v = parse_output(text, p.policy, p.dialogue)
        except MMShieldError as exc:
            if hit_limit:
                exc.args = (f"{exc.args[0]} (generation stopped at max_new_tokens={self.max_new_tokens})",)
            return exc
        v.backend = self.name
        v.latency_ms = ms
        v.id = p.dialogue.id
        v.notes = p.notes + v.notes + ([f"generation stopped at max_new_tokens={self.max_new_tokens}"] if hit_limit else [])
        v.usage = {"prompt_tokens": len(p.input_ids), "completion_tokens": n_new, "image_tokens": sum(p.image_tokens),
                   "images": len(p.image_tokens), "batch_size": batch, "device": str(self.device),
                   "dtype": str(self.dtype).replace("torch.", "")}
        return v


# ---------------------------------------------------------------------------------------- helpers


def _imports() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BackendError("the llava backend needs torch and transformers: pip install torch==2.13.0, then "
                           "pip install -e '.[llava]'") from exc
    return torch, transformers


def _version_at_least(version: str, want: tuple[int, int]) -> bool:
    parts = []
    for p in version.split(".")[:2]:
        digits = "".join(c for c in p if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts) >= want


def _resolve_device(torch: Any, device: str) -> Any:
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown device {device!r}; use cpu, cuda, cuda:N, mps or auto") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BackendError("device 'cuda' requested but torch sees no CUDA GPU (use device='cpu' or 'auto')")
    return dev


def _resolve_dtype(torch: Any, dtype: str | None, device: Any) -> Any:
    table = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16}
    if dtype is None:
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if dtype not in table:
        raise ValueError(f"unknown dtype {dtype!r}; choose float32, bfloat16 or float16")
    return table[dtype]


def _load_image_processor(tf: Any, path: Path) -> Any:
    try:
        return tf.AutoImageProcessor.from_pretrained(str(path), local_files_only=True)
    except (ImportError, ValueError, OSError):
        pil = getattr(tf, "LlavaOnevisionImageProcessorPil", None) or tf.LlavaOnevisionImageProcessor
        return pil.from_pretrained(str(path), local_files_only=True)


def _replace_text(dialogue: Dialogue, old: str, new: str) -> Dialogue:
    """A copy of the dialogue with `old` replaced by `new` in every turn's text."""
    from dataclasses import replace

    if not any(old in t.content for t in dialogue.turns):
        return dialogue
    turns = [replace(t, content=t.content.replace(old, new)) for t in dialogue.turns]
    return Dialogue(turns=turns, id=dialogue.id, system=dialogue.system, record=dialogue.record)


def _as_backend_error(exc: Exception) -> Exception:
    if isinstance(exc, MMShieldError):
        return exc
    err = BackendError(f"generation failed: {type(exc).__name__}: {exc}")
    err.__cause__ = exc
    return err
