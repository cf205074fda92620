"""Preference pairs: read from hh-rlhf harmless-base, written by the build, featurized and trained as a ranking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmshield.data import preference
from mmshield.data.builder import BuildConfig, build
from mmshield.errors import InputError
from mmshield.shields.embedded.featurize import INPUT_DIM
from mmshield.shields.embedded.model import ContextModel

FIXTURES = Path(__file__).parent / "fixtures" / "data"


def test_pairs_keep_only_dialogues_that_differ_in_the_last_reply():
    pairs = preference.hh_rlhf_pairs(FIXTURES, seed=7)
    # the fixture's first record answers with a different number of turns: not a pair
    assert [p["id"] for p in pairs] == ["hh_pair-1", "hh_pair-2"]
    lock = pairs[0]
    assert [t["role"] for t in lock["conversations"]] == ["user", "assistant", "user"]
    assert lock["chosen"].startswith("I can't help") and "tension wrench" in lock["rejected"]
    assert lock["license"] == "MIT" and lock["split"] in ("train", "dev", "test")
    chosen, rejected = preference.pair_records(lock)
    assert chosen["conversations"][:-1] == rejected["conversations"][:-1] == lock["conversations"]
    assert chosen["conversations"][-1] == {"role": "assistant", "content": lock["chosen"]}


def test_build_writes_the_pairs_and_counts_them(tmp_path):
    out = tmp_path / "ds"
    manifest = build(BuildConfig(out=out, data_root=FIXTURES, seed=7, typography=2, negatives=2, progress=False),
                     log=lambda m: None)
    written = list(preference.read_pairs(out))
    assert len(written) == 2 == sum(manifest["preference_pairs"]["counts"].values())
    for split in ("train", "dev", "test"):
        assert [p["id"] for p in preference.read_pairs(out, split)] == [p["id"] for p in written if p["split"] == split]
    without = build(BuildConfig(out=tmp_path / "no-hh", data_root=FIXTURES, sources=["phtest"], seed=7, typography=2,
                                negatives=2, progress=False), log=lambda m: None)
    assert sum(without["preference_pairs"]["counts"].values()) == 0


def test_a_malformed_pairs_line_is_named(tmp_path):
    (tmp_path / preference.FILE_NAME).write_text(
        json.dumps({"id": "a", "conversations": [], "chosen": "x", "rejected": "y"}) + "\n"
        + json.dumps({"id": "b", "conversations": [], "chosen": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2") as err:
        list(preference.read_pairs(tmp_path))
    assert err.value.record == "b" and err.value.field == "rejected"


def _toy_pairs(n: int, rng: np.random.Generator) -> list:
    """Two-turn dialogues (a request, then a reply); the rejected reply carries +1 on features 64:128, the chosen
    one -1: a direction no labelled toy dialogue says anything about."""
    from mmshield.shields.embedded import training as tr

    def dialogue(sign: float, base: np.ndarray, i: int, which: str):
        x = base.copy()
        x[1, 64:128] += sign
        return tr.Example(id=f"p{i}:{which}", x=x, roles=np.array([0, 1]), target=np.zeros((2, 8), np.float32),
                          mask=np.zeros((2, 8), np.float32), prefix_safe=np.zeros(2, np.float32))

    out = []
    for i in range(n):
        base = rng.normal(0, 0.3, size=(2, INPUT_DIM)).astype(np.float32)
        out.append(tr.PairExample(chosen=dialogue(-1.0, base, i, "chosen"), rejected=dialogue(1.0, base, i, "rejected")))
    return out


def test_preference_term_teaches_the_assistant_side_to_rank_replies(tmp_path):
    pytest.importorskip("torch")
    from mmshield.shields.embedded import training as tr
    from test_embedded_model import _toy_examples

    rng = np.random.default_rng(5)
    examples = _toy_examples()
    train_ex = [e for i, e in enumerate(examples) if i % 4 < 2]  # both labels in both parts
    dev_ex = [e for i, e in enumerate(examples) if i % 4 >= 2]
    pairs = {s: _toy_pairs(n, rng) for s, n in (("train", 48), ("dev", 16), ("test", 32))}
    margins, accuracy = {}, {}
    for w in (0.0, 1.0):
        cfg = tr.TrainConfig(epochs=12, hidden=8, proj=8, seed=0, lr=0.02, dropout=0.0, preference_weight=w)
        model, _ = tr.train(train_ex, dev_ex, cfg, log=lambda m: None, pairs=(pairs["train"], pairs["dev"]))
        path = tmp_path / f"w{w}.npz"
        tr.export_weights(model, path, {})
        npm = ContextModel.load(path)
        accuracy[w] = tr.pair_accuracy(npm, pairs["test"])
        last = [[npm.forward(e.x, ["user", "assistant"])[-1].logits for e in (p.chosen, p.rejected)] for p in pairs["test"]]
        margins[w] = float(np.mean([(r[1:].max() - r[0]) - (c[1:].max() - c[0]) for c, r in last]))
        assert tr.auroc(tr.side_scores(npm, dev_ex), dev_ex)["user"] > 0.95  # the labelled task is still learned
    assert accuracy[1.0] >= 0.95 and margins[1.0] > margins[0.0] + 1.0


def test_preference_weight_without_pairs_is_refused():
    pytest.importorskip("torch")
    from mmshield.shields.embedded import training as tr
    from test_embedded_model import _toy_examples

    examples = _toy_examples(4)
    with pytest.raises(ValueError, match="preference pairs"):
        tr.train(examples, examples, tr.TrainConfig(epochs=1, preference_weight=1.0), log=lambda m: None)


def test_train_command_learns_from_the_build_pairs_and_reports_their_accuracy(tmp_path):
    pytest.importorskip("torch")
    from mmshield.cli import main as cli_main

    examples = Path(__file__).parent.parent / "examples"
    lines = [x for x in (examples / "mmds_examples.jsonl").read_text().splitlines() if x.strip()]
    build_dir = tmp_path / "build"
    build_dir.mkdir()
    for split in ("train", "dev", "test"):
        (build_dir / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "w" / "context_model.npz"
    args = ["train", "--data", str(build_dir), "--out", str(out), "--features-cache", str(tmp_path / "fc"),
            "--epochs", "1", "--no-images", "--preference-weight", "1"]
    assert cli_main(args) == 2  # no pairs file in the build: refused with a message, nothing written
    assert not out.exists()
    pairs = preference.hh_rlhf_pairs(FIXTURES, seed=7)
    preference.write_pairs(build_dir, [{**p, "split": s} for p in pairs for s in ("train", "dev", "test")])
    assert cli_main(args) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["config"]["preference_weight"] == 1.0
    assert meta["preference_pairs"]["train"] == 2 and meta["preference_pairs"]["test_accuracy"] in (0.0, 0.5, 1.0)
    from mmshield.shields.embedded import training as tr

    cached = tr.load_cached_pairs(tmp_path / "fc")  # what generalisation.py and recipe_variants read
    assert [len(cached[s]) for s in ("train", "dev", "test")] == [2, 2, 2]
    assert cached["train"][0].chosen.x.shape == cached["train"][0].rejected.x.shape  # same turns, other last reply
