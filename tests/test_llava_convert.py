"""`mmshield convert-llava`: original LLaVA-NeXT layout -> transformers layout, on a tiny random model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")

from safetensors import safe_open  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from conftest import load_tiny_llava  # noqa: E402
from mmshield.cli import main as cli_main  # noqa: E402
from mmshield.llava_convert import (  # noqa: E402
    KEY_TABLE,
    ConversionError,
    convert_llava,
    hub_name,
    map_key,
    plan_conversion,
)

tiny = load_tiny_llava()


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    root = tmp_path_factory.mktemp("llava_orig")
    src = root / "orig"
    weights = tiny.build_original_checkpoint(src)
    vision = tiny.vision_config_file(root)
    return src, weights, vision


def _copy(src: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(src, out)
    return out


def _shards(path: Path) -> list[Path]:
    return sorted(path.glob("*.safetensors"))


def test_key_table_maps_every_original_name_explicitly():
    cases = {
        "model.embed_tokens.weight": "language_model.model.embed_tokens.weight",
        "model.layers.27.self_attn.q_proj.bias": "language_model.model.layers.27.self_attn.q_proj.bias",
        "model.layers.0.mlp.down_proj.weight": "language_model.model.layers.0.mlp.down_proj.weight",
        "model.norm.weight": "language_model.model.norm.weight",
        "lm_head.weight": "language_model.lm_head.weight",
        "model.vision_tower.vision_tower.vision_model.encoder.layers.25.mlp.fc1.bias":
            "vision_tower.vision_model.encoder.layers.25.mlp.fc1.bias",
        "model.vision_tower.vision_tower.vision_model.post_layernorm.weight":
            "vision_tower.vision_model.post_layernorm.weight",
        "model.mm_projector.0.weight": "multi_modal_projector.linear_1.weight",
        "model.mm_projector.2.bias": "multi_modal_projector.linear_2.bias",
        "model.image_newline": "image_newline",
    }
    for src, dst in cases.items():
        assert map_key(src) == dst, src
    assert len(KEY_TABLE) == 8
    for unknown in ("model.mm_projector.1.weight", "model.vision_resampler.x", "model.faster_token", "foo"):
        assert map_key(unknown) is None
    # the installed transformers' own parameter names map onto the same hub layout
    assert hub_name("model.language_model.layers.0.mlp.up_proj.weight") == "language_model.model.layers.0.mlp.up_proj.weight"
    assert hub_name("lm_head.weight") == "language_model.lm_head.weight"
    assert hub_name("model.vision_tower.embeddings.patch_embedding.weight") == "vision_tower.vision_model.embeddings.patch_embedding.weight"
    assert hub_name("model.image_newline") == "image_newline"


def test_cli_converts_and_transformers_loads_it_exactly(original, tmp_path, capsys):
    src, weights, vision = original
    dst = tmp_path / "hf"
    rc = cli_main(["convert-llava", str(src), str(dst), "--vision-config", str(vision), "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    names = {p.name for p in dst.iterdir()}
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "processor_config.json",
            "tokenizer_config.json", "chat_template.jinja"} <= names
    assert not list(tmp_path.glob(".hf.*")), "temporary folder left behind"

    with safe_open(str(dst / "model.safetensors"), "pt") as f:
        written = set(f.keys())
    assert written == set(weights)  # hub layout, nothing more, nothing less

    model, info = transformers.LlavaOnevisionForConditionalGeneration.from_pretrained(
        str(dst), output_loading_info=True, local_files_only=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, weights[hub_name(k)]), k

    cfg = json.loads((dst / "config.json").read_text())
    tok = transformers.AutoTokenizer.from_pretrained(str(dst), local_files_only=True)
    assert tok.convert_tokens_to_ids("<image>") == cfg["image_token_index"] == model.config.image_token_index
    assert cfg["image_token_index"] < cfg["text_config"]["vocab_size"]
    assert cfg["vision_config"]["num_hidden_layers"] == 2 and cfg["vision_config"]["image_size"] == 32
    assert cfg["vision_feature_layer"] == -1 and cfg["vision_feature_select_strategy"] == "full"
    assert cfg["image_grid_pinpoints"] == [[32, 32], [32, 64], [64, 32], [64, 64]]  # from "(1x1),(2x2)"
    assert cfg["mmshield"]["image_aspect_ratio"] == "pad" and cfg["mmshield"]["model_max_length"] == 16384
    proc = json.loads((dst / "processor_config.json").read_text())
    assert proc["num_image_tokens"] == 16
    pre = json.loads((dst / "preprocessor_config.json").read_text())
    assert pre["image_mean"] == [0.5, 0.5, 0.5] and pre["size"] == {"height": 32, "width": 32}


def test_unmapped_source_tensor_is_an_error_and_nothing_is_written(original, tmp_path, capsys):
    src, _, vision = original
    bad = _copy(src, tmp_path)
    first = _shards(bad)[0]
    tensors = load_file(str(first))
    tensors["model.vision_resampler.mystery.weight"] = torch.zeros(2)
    save_file(tensors, str(first), metadata={"format": "pt"})
    dst = tmp_path / "out"
    rc = cli_main(["convert-llava", str(bad), str(dst), "--vision-config", str(vision), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "model.vision_resampler.mystery.weight" in err and "map to nothing in the target model" in err
    assert not dst.exists() and not list(tmp_path.glob(".out.*"))


def test_missing_target_tensor_is_an_error_listing_it(original, tmp_path):
    src, _, vision = original
    bad = _copy(src, tmp_path)
    for shard in _shards(bad):
        tensors = load_file(str(shard))
        if tensors.pop("model.mm_projector.2.bias", None) is not None:
            save_file(tensors, str(shard), metadata={"format": "pt"})
    with pytest.raises(ConversionError) as ei:
        plan_conversion(bad, vision_config=json.loads(vision.read_text()))
    assert ei.value.missing == ["multi_modal_projector.linear_2.bias"]
    assert not ei.value.unmapped


def test_shape_and_vision_config_disagreements_are_errors(original, tmp_path):
    src, _, vision = original
    wrong = dict(json.loads(vision.read_text()), hidden_size=48)
    with pytest.raises(ConversionError, match="hidden_size"):
        plan_conversion(src, vision_config=wrong)
    with pytest.raises(ConversionError, match="not in the known table"):
        plan_conversion(src)  # tiny tower name is unknown: its head count must be given
    bad = _copy(src, tmp_path)
    for shard in _shards(bad):
        tensors = load_file(str(shard))
        key = "model.mm_projector.0.weight"
        if key in tensors:
            tensors[key] = torch.zeros(64, 16)
            save_file(tensors, str(shard), metadata={"format": "pt"})
    with pytest.raises(ConversionError) as ei:
        plan_conversion(bad, vision_config=json.loads(vision.read_text()))
    assert any("model.mm_projector.0.weight" in m for m in ei.value.mismatched)


def test_refuses_non_empty_destination_and_already_converted_source(original, tmp_path):
    src, _, vision = original
    dst = tmp_path / "taken"
    dst.mkdir()
    (dst / "keep.txt").write_text("x")
    with pytest.raises(ConversionError, match="--overwrite"):
        convert_llava(src, dst, vision_config=json.loads(vision.read_text()), progress=False, log=lambda m: None)
    assert (dst / "keep.txt").read_text() == "x"
    convert_llava(src, dst, vision_config=json.loads(vision.read_text()), overwrite=True, progress=False, log=lambda m: None)
    assert not (dst / "keep.txt").exists() and (dst / "model.safetensors").is_file()
    with pytest.raises(ConversionError, match="mm_vision_tower"):
        plan_conversion(dst)


def test_vocab_is_grown_when_image_token_does_not_fit(tmp_path):
    src = tmp_path / "orig"
    weights = tiny.build_original_checkpoint(src, vocab_slack=0)
    vision = json.loads(tiny.vision_config_file(tmp_path).read_text())
    dst = tmp_path / "hf"
    report = convert_llava(src, dst, vision_config=vision, dtype="bfloat16", progress=False, log=lambda m: None)
    rows = weights["language_model.model.embed_tokens.weight"].shape[0]
    assert report.resized_from == rows and report.vocab_size % 64 == 0 and report.vocab_size > rows
    model = transformers.LlavaOnevisionForConditionalGeneration.from_pretrained(str(dst), local_files_only=True)
    emb = model.get_input_embeddings().weight
    assert emb.shape[0] == report.vocab_size and emb.dtype == torch.bfloat16
    assert torch.equal(emb[:rows], weights["language_model.model.embed_tokens.weight"].to(torch.bfloat16))
    assert model.config.image_token_index >= rows


def test_check_only_writes_nothing(original, tmp_path, capsys):
    src, _, vision = original
    dst = tmp_path / "none"
    assert cli_main(["convert-llava", str(src), str(dst), "--vision-config", str(vision), "--check-only"]) == 0
    assert "69 tensors" in capsys.readouterr().out
    assert not dst.exists()


def test_big_checkpoints_are_sharded_with_an_index_and_buffers_are_dropped(original, tmp_path):
    src, weights, vision = original
    extra = _copy(src, tmp_path)
    first = _shards(extra)[0]
    tensors = load_file(str(first))
    tensors["model.layers.0.self_attn.rotary_emb.inv_freq"] = torch.ones(8)
    save_file(tensors, str(first), metadata={"format": "pt"})
    dst = tmp_path / "sharded"
    report = convert_llava(extra, dst, vision_config=json.loads(vision.read_text()), max_shard_bytes=60_000,
                           progress=False, log=lambda m: None)
    assert report.ignored == ["model.layers.0.self_attn.rotary_emb.inv_freq"]
    assert len(report.shards) > 2 and all((dst / s).is_file() for s in report.shards)
    index = json.loads((dst / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == set(weights) and set(index["weight_map"].values()) == set(report.shards)
    model, info = transformers.LlavaOnevisionForConditionalGeneration.from_pretrained(
        str(dst), output_loading_info=True, local_files_only=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert torch.equal(model.get_input_embeddings().weight, weights["language_model.model.embed_tokens.weight"])


def test_so400m_tower_config_comes_from_the_known_table_and_the_tensors():
    from mmshield.llava_convert import vision_config_from

    pre = "model.vision_tower.vision_tower.vision_model."
    shapes = {pre + "embeddings.patch_embedding.weight": ((1152, 3, 14, 14), None),
              pre + "embeddings.position_embedding.weight": ((729, 1152), None),
              pre + "encoder.layers.0.mlp.fc1.weight": ((4304, 1152), None)}
    shapes.update({pre + f"encoder.layers.{i}.layer_norm1.weight": ((1152,), None) for i in range(26)})
    cfg = vision_config_from({"mm_vision_tower": "google/siglip-so400m-patch14-384"}, shapes, None)
    assert (cfg["image_size"], cfg["patch_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]) == (384, 14, 26, 16)
    assert cfg["vision_use_head"] is False
    with pytest.raises(ConversionError, match="position embeddings"):
        vision_config_from({"mm_vision_tower": "x"}, shapes, {"num_attention_heads": 16, "image_size": 448})


def test_known_tower_keeps_26_layers_and_drops_the_deleted_layer_and_head():
    from mmshield.llava_convert import is_ignored, vision_config_from

    pre = "model.vision_tower.vision_tower.vision_model."
    shapes = {pre + "embeddings.patch_embedding.weight": ((1152, 3, 14, 14), None),
              pre + "embeddings.position_embedding.weight": ((729, 1152), None),
              pre + "encoder.layers.0.mlp.fc1.weight": ((4304, 1152), None)}
    shapes.update({pre + f"encoder.layers.{i}.layer_norm1.weight": ((1152,), None) for i in range(27)})
    cfg = vision_config_from({"mm_vision_tower": "google/siglip-so400m-patch14-384"}, shapes, None)
    assert cfg["num_hidden_layers"] == 26
    assert is_ignored(pre + "head.probe") and is_ignored(pre + "head.mlp.fc1.weight")
    assert not is_ignored(pre + "post_layernorm.weight")
