"""Rewrite an original LLaVA-NeXT (LLaVA-OneVision) training checkpoint into the transformers layout.

The published LLaVAShield-7B weights are saved by the LLaVA-NeXT trainer (`LlavaQwenForCausalLM`):
safetensors shards whose tensors are named `model.embed_tokens.*`, `model.layers.*`, `lm_head.*`,
`model.vision_tower.vision_tower.vision_model.*`, `model.mm_projector.{0,2}.*`, `model.image_newline`,
and a `config.json` with the Qwen2 fields plus `mm_*` keys. transformers (`LlavaOnevisionForConditional
Generation`), vLLM and SGLang load the layout of the `llava-hf/llava-onevision-*-hf` checkpoints instead.

`KEY_TABLE` is the explicit mapping, the same one transformers' own
`convert_llava_onevision_weights_to_hf.py` applies with substring replacements. The conversion refuses to
write anything when a source tensor matches no rule, when a tensor the target model needs is missing,
or when a shape disagrees with the target config; the error lists every such key.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmshield.errors import MMShieldError


class ConversionError(MMShieldError):
    """The source checkpoint cannot be converted; `unmapped`, `missing` and `mismatched` say why."""

    def __init__(self, message: str, *, unmapped: Iterable[str] = (), missing: Iterable[str] = (),
                 mismatched: Iterable[str] = ()) -> None:
        self.unmapped = sorted(unmapped)
        self.missing = sorted(missing)
        self.mismatched = sorted(mismatched)
        parts = [message]
        for title, items in (("source tensors that map to nothing in the target model", self.unmapped),
                             ("target tensors missing from the source", self.missing),
                             ("shape mismatches", self.mismatched)):
            if items:
                shown = "\n  ".join(items[:50])
                more = f"\n  ... and {len(items) - 50} more" if len(items) > 50 else ""
                parts.append(f"{title} ({len(items)}):\n  {shown}{more}")
        super().__init__("\n".join(parts))


# ----------------------------------------------------------------------------------------- key table


@dataclass(frozen=True)
class KeyRule:
    """One rename rule: a full-match regex on the original name and its replacement template."""

    source: str
    target: str
    what: str

    def apply(self, key: str) -> str | None:
        m = re.fullmatch(self.source, key)
        return m.expand(self.target) if m else None


KEY_TABLE: tuple[KeyRule, ...] = (
    KeyRule(r"model\.embed_tokens\.(weight)", r"language_model.model.embed_tokens.\1", "Qwen2 token embeddings"),
    KeyRule(r"model\.layers\.(\d+)\.(.+)", r"language_model.model.layers.\1.\2", "Qwen2 decoder layers"),
    KeyRule(r"model\.norm\.(weight)", r"language_model.model.norm.\1", "Qwen2 final RMSNorm"),
    KeyRule(r"lm_head\.(weight)", r"language_model.lm_head.\1", "output projection"),
    KeyRule(r"model\.vision_tower\.vision_tower\.vision_model\.(.+)", r"vision_tower.vision_model.\1",
            "SigLIP vision tower (last layer already dropped, no head)"),
    KeyRule(r"model\.mm_projector\.0\.(weight|bias)", r"multi_modal_projector.linear_1.\1", "projector linear 1"),
    KeyRule(r"model\.mm_projector\.2\.(weight|bias)", r"multi_modal_projector.linear_2.\1", "projector linear 2"),
    KeyRule(r"model\.image_newline", r"image_newline", "image newline embedding"),
)
"""Original LLaVA-NeXT tensor name -> transformers (llava-hf hub) tensor name."""

IGNORED_SOURCE: tuple[KeyRule, ...] = (
    KeyRule(r".*\.rotary_emb\.inv_freq", "", "rotary frequencies, recomputed at load"),
    KeyRule(r".*\.embeddings\.position_ids", "", "position index buffer, recomputed at load"),
    KeyRule(r"model\.vision_tower\.vision_tower\.vision_model\.head\..+", "",
            "SigLIP pooling head: LLaVA replaces it with Identity, never used"),
)
"""Source tensors that are buffers transformers recomputes; dropped and listed in the report."""

_MODEL_TO_HUB: tuple[tuple[str, str], ...] = (
    ("lm_head.", "language_model.lm_head."),
    ("model.language_model.", "language_model.model."),
    ("model.vision_tower.vision_model.", "vision_tower.vision_model."),
    ("model.vision_tower.", "vision_tower.vision_model."),
    ("model.multi_modal_projector.", "multi_modal_projector."),
    ("model.image_newline", "image_newline"),
    ("vision_tower.vision_model.", "vision_tower.vision_model."),
    ("vision_tower.", "vision_tower.vision_model."),
)
"""State-dict names of the installed transformers' model (which vary by version) -> hub layout names."""

_VISION_PREFIX = "model.vision_tower.vision_tower.vision_model."

KNOWN_VISION_TOWERS: dict[str, dict[str, Any]] = {
    "google/siglip-so400m-patch14-384": {
        "hidden_size": 1152, "intermediate_size": 4304, "num_attention_heads": 16, "patch_size": 14,
        "image_size": 384, "layer_norm_eps": 1e-6, "hidden_act": "gelu_pytorch_tanh",
        "num_hidden_layers": 26,  # of 27: LLaVA-NeXT deletes the last layer and reads the 26th layer's output
    },
}
"""Vision towers whose config is not in the LLaVA-NeXT checkpoint (only their hub name is)."""

SIGLIP_IMAGE_PROCESSING: dict[str, Any] = {
    "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "resample": 3,
    "rescale_factor": 1 / 255, "do_resize": True, "do_rescale": True, "do_normalize": True,
    "do_convert_rgb": True,
}
"""SigLIP pre-processing (bicubic resize, mean = std = 0.5), as LLaVA-NeXT's SigLipImageProcessor."""

TEXT_CONFIG_KEYS = (
    "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "hidden_act", "max_position_embeddings", "initializer_range", "rms_norm_eps",
    "use_cache", "tie_word_embeddings", "rope_theta", "rope_scaling", "rope_parameters", "use_sliding_window",
    "sliding_window", "max_window_layers", "attention_dropout", "bos_token_id", "eos_token_id", "layer_types",
)
"""The Qwen2 fields taken from the original `config.json` (everything else there is LLaVA training state)."""

CHAT_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{% endif %}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<image>' }}{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{{ '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""LLaVA-NeXT `qwen_1_5` conversation format; images stay where their `<image>` part is (in order)."""


def map_key(key: str) -> str | None:
    """The transformers name of an original tensor name, or None when no rule matches."""
    for rule in KEY_TABLE:
        out = rule.apply(key)
        if out is not None:
            return out
    return None


def is_ignored(key: str) -> bool:
    return any(re.fullmatch(r.source, key) for r in IGNORED_SOURCE)


def hub_name(model_key: str) -> str:
    """The hub-layout name of a state-dict key of the installed transformers' model."""
    for old, new in _MODEL_TO_HUB:
        if model_key.startswith(old):
            return new + model_key[len(old):]
    return model_key


# ----------------------------------------------------------------------------------------- reading


def _torch_modules() -> tuple[Any, Any, Any]:
    try:
        import safetensors  # noqa: F401
        import torch
        import transformers
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MMShieldError(
            "convert-llava needs torch, transformers and safetensors: pip install torch==2.13.0, then "
            "pip install -e '.[llava]'"
        ) from exc
    return torch, transformers, safetensors


def source_shards(src: Path) -> list[Path]:
    """The safetensors files of the original checkpoint (error when there are none)."""
    shards = sorted(p for p in src.glob("*.safetensors") if p.is_file())
    if not shards:
        extra = " (found PyTorch .bin files: load and re-save them as safetensors first)" if list(src.glob("*.bin")) else ""
        raise ConversionError(f"{src}: no *.safetensors files{extra}")
    return shards


def read_shapes(shards: Iterable[Path]) -> dict[str, tuple[tuple[int, ...], Path]]:
    """Tensor name -> (shape, shard) without loading any tensor data."""
    from safetensors import safe_open

    out: dict[str, tuple[tuple[int, ...], Path]] = {}
    for shard in shards:
        with safe_open(str(shard), framework="pt", device="cpu") as f:
            for key in f.keys():  # noqa: SIM118 - safe_open objects are not iterable on every version
                if key in out:
                    raise ConversionError(f"tensor {key!r} appears in both {out[key][1].name} and {shard.name}")
                out[key] = (tuple(f.get_slice(key).get_shape()), shard)
    return out


def read_source_config(src: Path) -> dict[str, Any]:
    path = src / "config.json"
    if not path.is_file():
        raise ConversionError(f"{src}: no config.json")
    try:
        cfg = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConversionError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(cfg, dict) or "mm_vision_tower" not in cfg:
        raise ConversionError(
            f"{path}: not an original LLaVA-NeXT config (no 'mm_vision_tower' key); a checkpoint that already "
            "has the transformers layout needs no conversion"
        )
    ptype = cfg.get("mm_projector_type", "mlp2x_gelu")
    if ptype != "mlp2x_gelu":
        raise ConversionError(f"{path}: mm_projector_type {ptype!r} is not supported (only 'mlp2x_gelu')")
    return cfg


# ----------------------------------------------------------------------------------------- planning


@dataclass
class ConversionPlan:
    """Everything decided before a byte is written: target config, renames, and the checks' results."""

    src: Path
    shards: list[Path]
    renames: dict[str, str]
    """Source name -> target name, for every tensor that is written."""
    ignored: list[str]
    target_config: dict[str, Any]
    image_token_id: int
    video_token_id: int
    vocab_rows: int
    """Rows of the source embedding matrix."""
    vocab_size: int
    """Rows in the target (larger when the new `<image>` token did not fit)."""
    tokenizer: Any = field(repr=False, default=None)


def vision_config_from(source_cfg: Mapping[str, Any], shapes: Mapping[str, tuple[tuple[int, ...], Path]],
                       override: Mapping[str, Any] | None) -> dict[str, Any]:
    """SigLIP config: sizes read from the tensors, the rest from `override` or the known-tower table."""
    pe = shapes.get(_VISION_PREFIX + "embeddings.patch_embedding.weight")
    pos = shapes.get(_VISION_PREFIX + "embeddings.position_embedding.weight")
    fc1 = shapes.get(_VISION_PREFIX + "encoder.layers.0.mlp.fc1.weight")
    if pe is None or pos is None or fc1 is None:
        raise ConversionError("the source has no complete vision tower (model.vision_tower.vision_tower.vision_model.*)",
                              missing=[k for k, v in (("patch_embedding", pe), ("position_embedding", pos), ("fc1", fc1)) if v is None])
    hidden, _, patch, _ = pe[0]
    side = round(pos[0][0] ** 0.5)
    layers = {int(m.group(1)) for k in shapes if (m := re.match(re.escape(_VISION_PREFIX) + r"encoder\.layers\.(\d+)\.", k))}
    inferred = {"hidden_size": hidden, "patch_size": patch, "intermediate_size": fc1[0][0],
                "num_hidden_layers": max(layers) + 1}
    tower = str(source_cfg.get("mm_vision_tower", ""))
    if override is None and tower in KNOWN_VISION_TOWERS:
        # a checkpoint that still holds the layer LLaVA deletes: keep the layers LLaVA runs, drop the rest
        inferred["num_hidden_layers"] = min(inferred["num_hidden_layers"], KNOWN_VISION_TOWERS[tower]["num_hidden_layers"])
    base = dict(override) if override is not None else dict(KNOWN_VISION_TOWERS.get(tower, {}))
    if not base:
        raise ConversionError(
            f"vision tower {tower!r} is not in the known table ({', '.join(KNOWN_VISION_TOWERS)}); pass its "
            "SigLIP vision config as JSON (--vision-config FILE) with at least num_attention_heads"
        )
    clash = [f"{k}: config says {base[k]}, tensors say {v}" for k, v in inferred.items() if k in base and base[k] != v]
    # the image size is only known up to the patch size from the tensors (384 px / 14 px -> 27 x 27 positions)
    inferred["image_size"] = int(base.get("image_size", side * patch))
    if (inferred["image_size"] // patch) ** 2 != pos[0][0]:
        clash.append(f"image_size: {inferred['image_size']} px / {patch} px patches does not give the "
                     f"{pos[0][0]} position embeddings of the checkpoint")
    if clash:
        raise ConversionError("the vision config disagrees with the checkpoint's tensors", mismatched=clash)
    cfg = {**base, **inferred, "vision_use_head": False, "model_type": "siglip_vision_model"}
    if "num_attention_heads" not in cfg or cfg["hidden_size"] % int(cfg["num_attention_heads"]):
        raise ConversionError(f"vision config needs num_attention_heads dividing hidden_size {hidden}")
    return cfg


def _load_tokenizer(src: Path) -> Any:
    _, transformers, _ = _torch_modules()
    try:
        return transformers.AutoTokenizer.from_pretrained(str(src), local_files_only=True, trust_remote_code=False)
    except Exception as exc:  # noqa: BLE001 - many failure types; all mean "no usable tokenizer here"
        raise ConversionError(f"{src}: cannot load the tokenizer files ({type(exc).__name__}: {exc})") from exc


def plan_conversion(src: Path, *, vision_config: Mapping[str, Any] | None = None) -> ConversionPlan:
    """Read names, shapes, config and tokenizer; build the target config; check the mapping both ways."""
    torch, transformers, _ = _torch_modules()
    src = Path(src)
    if not src.is_dir():
        raise ConversionError(f"{src}: not a directory")
    scfg = read_source_config(src)
    shards = source_shards(src)
    shapes = read_shapes(shards)

    renames: dict[str, str] = {}
    ignored: list[str] = []
    unmapped: list[str] = []  # matching no rule in KEY_TABLE
    for key in shapes:
        target = map_key(key)
        if is_ignored(key):
            ignored.append(key)
        elif target is not None:
            renames[key] = target
        else:
            unmapped.append(key)

    tok = _load_tokenizer(src)
    added = []
    for t in ("<image>", "<video>"):
        if t not in tok.get_vocab():
            added.append(transformers.AddedToken(t, special=True, normalized=False))
    if added:
        tok.add_tokens(added, special_tokens=True)
    image_id = int(tok.convert_tokens_to_ids("<image>"))
    video_id = int(tok.convert_tokens_to_ids("<video>"))
    tok.chat_template = CHAT_TEMPLATE

    emb = shapes.get("model.embed_tokens.weight")
    rows = emb[0][0] if emb else int(scfg.get("vocab_size", 0))
    needed = max(image_id, video_id) + 1
    vocab_size = rows if needed <= rows else -(-needed // 64) * 64

    text = {k: scfg[k] for k in TEXT_CONFIG_KEYS if k in scfg}
    text["vocab_size"] = vocab_size
    text["model_type"] = "qwen2"
    vis = vision_config_from(scfg, shapes, vision_config)
    layer_re = re.compile(re.escape(_VISION_PREFIX) + r"encoder\.layers\.(\d+)\.")
    for key in list(renames):
        m = layer_re.match(key)
        if m and int(m.group(1)) >= vis["num_hidden_layers"]:
            del renames[key]
            ignored.append(key)  # the vision layer LLaVA deletes before use
    side = vis["image_size"] // vis["patch_size"]
    mm_extra = {
        "source_format": "llava-next",
        "source_architectures": scfg.get("architectures"),
        "image_aspect_ratio": scfg.get("image_aspect_ratio"),
        "model_max_length": scfg.get("tokenizer_model_max_length"),
        "num_image_tokens": side * side,
        "converted_by": "mmshield convert-llava",
    }
    config = transformers.LlavaOnevisionConfig(
        text_config=text,
        vision_config=vis,
        image_token_index=image_id,
        video_token_index=video_id,
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        vision_aspect_ratio=_vision_aspect_ratio(scfg.get("image_aspect_ratio")),
        image_grid_pinpoints=_pinpoints(scfg.get("image_grid_pinpoints"), vis["image_size"]),
        multimodal_projector_bias=True,
        projector_hidden_act="gelu",
        tie_word_embeddings=bool(scfg.get("tie_word_embeddings", False)),
    )
    cfg_dict = config.to_dict()
    cfg_dict["architectures"] = ["LlavaOnevisionForConditionalGeneration"]
    cfg_dict["mmshield"] = mm_extra

    expected = _expected_shapes(transformers, torch, config)
    targets = {t: s for s, t in renames.items()}
    if config.tie_word_embeddings and "language_model.lm_head.weight" not in targets:
        expected.pop("language_model.lm_head.weight", None)  # tied to the embeddings
    missing = sorted(set(expected) - set(targets))
    unexpected = sorted(set(targets) - set(expected))
    unmapped += [f"{targets[t]} -> {t} (renamed, but not a tensor of the target model)" for t in unexpected]
    mismatched = []
    for t, shape in expected.items():
        s = targets.get(t)
        if s is None:
            continue
        have = shapes[s][0]
        if t.endswith(("embed_tokens.weight", "lm_head.weight")) and have[0] == rows and shape[0] == vocab_size:
            have = (vocab_size, *have[1:])
        if tuple(have) != tuple(shape):
            mismatched.append(f"{s} {list(shapes[s][0])} -> {t} expects {list(shape)}")
    if unmapped or missing or mismatched:
        raise ConversionError(f"{src}: cannot convert", unmapped=unmapped, missing=missing, mismatched=mismatched)
    return ConversionPlan(src=src, shards=shards, renames=renames, ignored=sorted(ignored), target_config=cfg_dict,
                          image_token_id=image_id, video_token_id=video_id, vocab_rows=rows, vocab_size=vocab_size,
                          tokenizer=tok)


def _vision_aspect_ratio(value: Any) -> str:
    return value if isinstance(value, str) and value.startswith("anyres_max_") else "anyres_max_9"


def _pinpoints(value: Any, size: int) -> list[list[int]]:
    """`image_grid_pinpoints` as a list of [h, w]; LLaVA-NeXT also writes the string form "(1x1),...,(6x6)"."""
    if isinstance(value, list) and value and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        return [[int(a), int(b)] for a, b in value]
    if isinstance(value, str):
        grid = re.findall(r"\((\d+)x(\d+)\)", value)
        if grid:
            lo = (min(int(a) for a, _ in grid), min(int(b) for _, b in grid))
            hi = (max(int(a) for a, _ in grid), max(int(b) for _, b in grid))
            return [[i * size, j * size] for i in range(lo[0], hi[0] + 1) for j in range(lo[1], hi[1] + 1)]
    return [[i * size, j * size] for i in range(1, 7) for j in range(1, 7)]


def _expected_shapes(transformers: Any, torch: Any, config: Any) -> dict[str, tuple[int, ...]]:
    """Hub-layout name -> shape of every tensor the target model holds (built on the meta device)."""
    with torch.device("meta"):
        model = transformers.LlavaOnevisionForConditionalGeneration(config)
    return {hub_name(k): tuple(v.shape) for k, v in model.state_dict().items()}


# ----------------------------------------------------------------------------------------- writing


@dataclass
class ConversionReport:
    """What `convert_llava` wrote."""

    dst: Path
    tensors: int
    bytes: int
    shards: list[str]
    ignored: list[str]
    image_token_id: int
    vocab_size: int
    resized_from: int | None

    def summary(self) -> str:
        resized = f", embeddings resized {self.resized_from} -> {self.vocab_size}" if self.resized_from else ""
        return (f"wrote {self.tensors} tensors ({self.bytes / 2**30:.2f} GiB) in {len(self.shards)} shard(s) to "
                f"{self.dst}; <image> token id {self.image_token_id}{resized}; dropped {len(self.ignored)} buffer(s)")


def convert_llava(src: Path, dst: Path, *, vision_config: Mapping[str, Any] | None = None, dtype: str | None = None,
                  overwrite: bool = False, max_shard_bytes: int = 4 * 2**30, progress: bool = True,
                  log: Callable[[str], None] | None = None) -> ConversionReport:
    """Convert `src` (original layout) into `dst` (transformers layout), atomically.

    Everything is written into a temporary folder beside `dst`, then renamed into place, so an
    interrupted run leaves no half-written checkpoint. `dtype` (float16, bfloat16, float32) casts the
    floating-point tensors; default keeps the source dtype.
    """
    torch, _, _ = _torch_modules()
    from safetensors import safe_open
    from safetensors.torch import save_file

    say = log or (lambda msg: print(msg, file=sys.stderr))
    src, dst = Path(src), Path(dst)
    if dst.exists() and not overwrite and (not dst.is_dir() or any(dst.iterdir())):
        raise ConversionError(f"{dst} exists and is not empty; pass --overwrite to replace it")
    cast = _dtype(torch, dtype)
    plan = plan_conversion(src, vision_config=vision_config)
    say(f"mapping checked: {len(plan.renames)} tensors, {len(plan.ignored)} ignored buffer(s)")

    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent))
    try:
        shard_names, weight_map, total = _write_tensors(plan, tmp, cast, max_shard_bytes, progress, torch, safe_open, save_file)
        if len(shard_names) > 1:
            index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
            (tmp / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n", "utf-8")
        (tmp / "config.json").write_text(json.dumps(plan.target_config, indent=2, sort_keys=True) + "\n", "utf-8")
        _write_processing(plan, tmp)
        _swap_into_place(tmp, dst, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report = ConversionReport(dst=dst, tensors=len(weight_map), bytes=total, shards=shard_names, ignored=plan.ignored,
                              image_token_id=plan.image_token_id, vocab_size=plan.vocab_size,
                              resized_from=plan.vocab_rows if plan.vocab_size != plan.vocab_rows else None)
    say(report.summary())
    return report


def _dtype(torch: Any, name: str | None) -> Any:
    if name is None:
        return None
    table = {"float16": torch.float16, "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float32": torch.float32, "fp32": torch.float32}
    if name not in table:
        raise ConversionError(f"unknown dtype {name!r}; choose float16, bfloat16 or float32")
    return table[name]


def _write_tensors(plan: ConversionPlan, out: Path, cast: Any, max_shard_bytes: int, progress: bool,
                   torch: Any, safe_open: Any, save_file: Any) -> tuple[list[str], dict[str, str], int]:
    """Stream tensors shard by shard (memory bounded by one output shard); returns names, map, bytes."""
    from tqdm import tqdm

    bar = tqdm(total=len(plan.renames), desc="converting tensors", unit="tensor", disable=not progress, file=sys.stderr)
    buffer: dict[str, Any] = {}
    size = 0
    parts: list[tuple[str, list[str]]] = []
    total = 0

    def flush() -> None:
        nonlocal buffer, size
        if not buffer:
            return
        name = f"part-{len(parts):05d}.safetensors"
        save_file(buffer, str(out / name), metadata={"format": "pt"})
        parts.append((name, list(buffer)))
        buffer, size = {}, 0

    for shard in plan.shards:
        with safe_open(str(shard), framework="pt", device="cpu") as f:
            for key in f.keys():  # noqa: SIM118
                target = plan.renames.get(key)
                if target is None:
                    continue
                t = f.get_tensor(key)
                if cast is not None and t.is_floating_point():
                    t = t.to(cast)
                if target.endswith(("embed_tokens.weight", "lm_head.weight")) and t.shape[0] < plan.vocab_size:
                    t = _grow_rows(torch, t, plan.vocab_size)
                nbytes = t.numel() * t.element_size()
                if buffer and size + nbytes > max_shard_bytes:
                    flush()
                buffer[target] = t.contiguous()
                size += nbytes
                total += nbytes
                bar.update(1)
    flush()
    bar.close()
    n = len(parts)
    names: list[str] = []
    weight_map: dict[str, str] = {}
    for i, (tmp_name, keys) in enumerate(parts, 1):
        final = "model.safetensors" if n == 1 else f"model-{i:05d}-of-{n:05d}.safetensors"
        os.replace(out / tmp_name, out / final)
        names.append(final)
        weight_map.update(dict.fromkeys(keys, final))
    return names, weight_map, total


def _grow_rows(torch: Any, t: Any, rows: int) -> Any:
    """Append rows equal to the mean row (the new `<image>`/`<video>` rows are replaced by image features anyway)."""
    extra = t.float().mean(dim=0, keepdim=True).to(t.dtype).expand(rows - t.shape[0], -1)
    return torch.cat([t, extra], dim=0)


def _write_processing(plan: ConversionPlan, out: Path) -> None:
    """Tokenizer (with `<image>`/`<video>` added), image-processor and processor configs."""
    plan.tokenizer.save_pretrained(str(out))
    vis = plan.target_config["vision_config"]
    size = int(vis["image_size"])
    pre_src = plan.src / "preprocessor_config.json"
    base = dict(SIGLIP_IMAGE_PROCESSING)
    if pre_src.is_file():
        loaded = json.loads(pre_src.read_text("utf-8"))
        base.update({k: loaded[k] for k in ("image_mean", "image_std", "resample", "rescale_factor") if k in loaded})
    pre = {
        **base,
        "image_processor_type": "LlavaOnevisionImageProcessor",
        "processor_class": "LlavaOnevisionProcessor",
        "size": {"height": size, "width": size},
        "do_pad": True,
        "image_grid_pinpoints": plan.target_config["image_grid_pinpoints"],
    }
    (out / "preprocessor_config.json").write_text(json.dumps(pre, indent=2) + "\n", "utf-8")
    proc = {
        "processor_class": "LlavaOnevisionProcessor",
        "num_image_tokens": plan.target_config["mmshield"]["num_image_tokens"],
        "vision_feature_select_strategy": "full",
        "vision_aspect_ratio": plan.target_config["vision_aspect_ratio"],
        "image_token": "<image>",
        "video_token": "<video>",
    }
    (out / "processor_config.json").write_text(json.dumps(proc, indent=2) + "\n", "utf-8")
    (out / "chat_template.jinja").write_text(CHAT_TEMPLATE, "utf-8")


def _swap_into_place(tmp: Path, dst: Path, overwrite: bool) -> None:
    """Rename the finished temporary folder to `dst` (replacing an old one only when allowed)."""
    if dst.exists():
        if not overwrite and any(dst.iterdir()):
            raise ConversionError(f"{dst} appeared while converting; not replacing it")
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        os.replace(dst, old)
        try:
            os.replace(tmp, dst)
        except BaseException:
            os.replace(old, dst)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, dst)
