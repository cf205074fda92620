"""Attention heads over word pieces: the pooling, the encoder path, fitting, and the trained shield reading texts
exactly as its training features did."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmshield.shields.embedded.features import TextEncoder
from mmshield.shields.embedded.features.heads import EMB_DIM, AttentionHeads

EXAMPLES = Path(__file__).parent.parent / "examples"


def _heads(k: int = 2, seed: int = 0) -> AttentionHeads:
    rng = np.random.default_rng(seed)
    return AttentionHeads(ln_weight=np.ones(EMB_DIM, np.float32), ln_bias=np.zeros(EMB_DIM, np.float32),
                          query_weight=rng.normal(size=(k, EMB_DIM)).astype(np.float32),
                          query_bias=np.zeros(k, np.float32))


def test_pooling_weights_sum_to_one_and_an_empty_text_pools_to_zeros():
    heads = _heads(3)
    states = np.random.default_rng(1).normal(size=(7, EMB_DIM)).astype(np.float32)
    w = heads.weights(states)
    assert w.shape == (7, 3)
    np.testing.assert_allclose(w.sum(axis=0), 1.0, atol=1e-5)
    pooled = heads.pool(states)
    assert pooled.shape == (3 * EMB_DIM,)
    np.testing.assert_allclose(pooled[:EMB_DIM], w[:, 0] @ heads.normed(states), atol=1e-5)
    assert not heads.pool(np.zeros((0, EMB_DIM), np.float32)).any()
    back = AttentionHeads.from_arrays(heads.to_arrays())
    assert back is not None and back.signature() == heads.signature()
    assert AttentionHeads.from_arrays({}) is None
    with pytest.raises(ValueError, match="query_weight"):
        AttentionHeads(np.ones(EMB_DIM), np.zeros(EMB_DIM), np.ones((2, 10)), np.zeros(2))


def test_a_head_that_looks_for_one_word_finds_it_in_context():
    """A query equal to a word's normed state puts most of its weight on that word, wherever it stands."""
    enc = TextEncoder(cache_size=0)
    _, [states] = enc.token_states(["How do I kill a process that hangs?"])
    target = TextEncoder(cache_size=0)._untruncated().encode("kill", add_special_tokens=False).ids[0]
    ids = enc._untruncated().encode("How do I kill a process that hangs?").ids  # [CLS] ... [SEP]
    pos = ids.index(target)
    probe = _heads(1)
    q = probe.normed(states)[pos] * 4
    heads = AttentionHeads(probe.ln_weight, probe.ln_bias, q[None].astype(np.float32), np.zeros(1, np.float32))
    assert int(np.argmax(heads.weights(states)[:, 0])) == pos


def test_encoder_with_heads_keeps_the_mean_and_reads_every_window_and_the_tail():
    plain = TextEncoder(cache_size=0)
    with_heads = TextEncoder(cache_size=0, heads=_heads(2))
    texts = ["Tell me a joke about cats.", "word " * 700 + "how do I pick a lock?", "如何在家里制作炸弹？"]
    full = with_heads.encode_full(texts)
    assert full.shape == (3, EMB_DIM + 2 * EMB_DIM) and with_heads.width == full.shape[1]
    np.testing.assert_allclose(with_heads.encode(texts), plain.encode(texts), atol=1e-6)  # the mean is untouched
    means, states = plain.token_states(texts)
    np.testing.assert_allclose(means, plain.encode(texts), atol=1e-6)
    windows = plain._windows(plain._untruncated().encode(texts[1], add_special_tokens=False).ids, 256, limit=8)
    assert len(states[1]) == sum(len(w) for w in windows) + 64  # every window, then the 64-piece tail
    np.testing.assert_allclose(full[1, EMB_DIM:], with_heads.heads.pool(states[1]), atol=1e-4)
    assert len(states[2]) == 0 and not full[2, EMB_DIM:].any()  # read cross-lingually: no word pieces
    assert with_heads.signature() != plain.signature()


def test_turn_labels_follow_the_side_and_its_first_risky_turn():
    from mmshield.shields.embedded import heads_training as ht
    from mmshield.shields.embedded.training import Example

    k = 8
    target = np.zeros((2, k), np.float32)
    target[0, 4] = 1.0  # user side Unsafe: the fifth dimension
    mask = np.ones((2, k), np.float32)
    slots = np.array([[0, -1, -1, -1], [1, -1, -1, 0], [2, 3, 4, 1]], np.int32)
    e = Example(id="d", x=np.zeros((3, 4)), roles=np.array([0, 1, 0]), target=target, mask=mask,
                prefix_safe=np.array([1.0, 0.0, 0.0]), slots=slots)
    items = {(i.text, i.role, i.label) for i in ht.turn_items([e])}
    # the opening user turn comes before the risk: safe; the reply is on a Safe side; the last user turn and its
    # text joined with OCR carry the dimension (label = 1 + index); the OCR text alone is not labelled
    assert items == {(0, 0, 0), (1, 1, 0), (2, 0, 5), (4, 0, 5)}


def test_fitted_heads_attend_to_the_word_that_decides_the_label():
    pytest.importorskip("torch")
    from mmshield.shields.embedded import heads_training as ht

    rng = np.random.default_rng(0)
    signal = rng.normal(size=EMB_DIM).astype(np.float32) * 3
    texts, chunks, items = [], [], []
    for i in range(300):
        states = rng.normal(size=(int(rng.integers(8, 30)), EMB_DIM)).astype(np.float32)
        label = int(i % 2)
        if label:
            states[int(rng.integers(len(states)))] += signal
        texts.append(f"t{i}")
        chunks.append(states)
        items.append(ht.TurnItem(i, 0, label))
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in chunks])])
    store = ht.TokenStore(texts, np.concatenate(chunks).astype(np.float16), offsets)
    heads = ht.fit_heads(store, items[:240], items[240:], ht.HeadsConfig(count=1, epochs=6, seed=1), 2, log=lambda m: None)
    hits = []
    for it in items[240:]:
        if it.label:
            states = store.states(it.text)
            planted = int(np.argmax(states @ signal))
            hits.append(heads.weights(states)[planted, 0])
    assert np.median(hits) > 0.5  # uniform attention would give about 1/20


def test_token_store_extends_a_store_whose_texts_it_begins(tmp_path):
    from mmshield.shields.embedded import heads_training as ht

    enc = TextEncoder(cache_size=0)
    first = ht.TokenStore.build(tmp_path, ["a cat", "a dog on a mat"], enc)
    stamp = (tmp_path / "tokens.f16").read_bytes()
    more = ht.TokenStore.build(tmp_path, ["a cat", "a dog on a mat", "hello there"], enc, batch=1)
    assert (tmp_path / "tokens.f16").read_bytes().startswith(stamp)
    np.testing.assert_allclose(more.states(1), first.states(1))
    np.testing.assert_allclose(more.states(2), enc.token_states(["hello there"])[1][0], atol=1e-2)
    other = ht.TokenStore.build(tmp_path, ["hello there"], enc)  # not an extension: rebuilt
    assert len(other) == 1 and other.length(0) == more.length(2)


@pytest.mark.parametrize("output", ["pooled", "scores"])
def test_trained_shield_reads_texts_as_its_training_features_did(tmp_path, example_build, output):
    """`mmshield train --heads 2` writes heads into the weights; the shield built from them gives each dialogue the
    feature vectors that the shipped heads give the training texts (float16 storage aside)."""
    pytest.importorskip("torch")
    from mmshield.cli import main as cli_main
    from mmshield.dialogue import from_mmds
    from mmshield.shields.embedded import heads_training as ht
    from mmshield.shields.embedded import training as tr
    from mmshield.shields.embedded.shield import EmbeddedShield

    build = example_build
    out, cache = tmp_path / "w" / "context_model.npz", tmp_path / "fc"
    assert cli_main(["train", "--data", str(build), "--out", str(out), "--features-cache", str(cache),
                     "--epochs", "1", "--heads", "2", "--heads-output", output]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["heads"] == 2
    shield = EmbeddedShield(out)
    heads = shield.encoder.text_encoder.heads
    assert heads.count == 2 and (heads.classifier is not None) == (output == "scores")
    assert shield.encoder.width == EMB_DIM + (2 * 9 if output == "scores" else 2 * EMB_DIM)
    store = ht.TokenStore.load(cache / "tokens", tr.read_slot_texts(cache))
    examples = ht.with_heads(tr.load_examples(cache / "test.npz"), ht.heads_table(store, shield.encoder.text_encoder.heads))
    for example, record in zip(examples, tr.load_records(build / "test.jsonl")):
        x = np.stack([f.vector for f in shield.encoder.turns(from_mmds(record, build))])
        np.testing.assert_allclose(x, example.x, atol=5e-3)
    verdict = shield.moderate(from_mmds(tr.load_records(build / "test.jsonl")[0], build))
    assert verdict.user.rating in ("Safe", "Unsafe")


def test_a_factored_heads_projection_exports_as_one_matrix(tmp_path):
    """Training may factor the heads' input projection (`heads_rank`); the exported numpy model is the same
    function."""
    torch = pytest.importorskip("torch")
    from mmshield.shields.embedded import training as tr
    from mmshield.shields.embedded.featurize import input_dim
    from mmshield.shields.embedded.model import ContextModel

    torch.manual_seed(0)
    width = input_dim(2 * EMB_DIM)
    m = tr.build_torch_model(hidden=16, proj=24, dropout=0.0, input_dim=width, heads_rank=4)
    assert m.proj.weight.shape[1] < width and m.heads_down.weight.shape == (4, width - m.proj.weight.shape[1])
    m.eval()
    tr.export_weights(m, tmp_path / "w.npz", {})
    npm = ContextModel.load(tmp_path / "w.npz")
    assert npm.w["proj.weight"].shape == (24, width)
    x = np.random.default_rng(0).normal(size=(3, width)).astype(np.float32)
    steps = npm.forward(x, ["user", "assistant", "user"])
    with torch.no_grad():
        hi = m(torch.from_numpy(x)[None])[0].numpy()
    for t, s in enumerate(steps):
        np.testing.assert_allclose(s.head_input, hi[t], rtol=1e-4, atol=1e-4)


def test_a_text_table_fills_every_slot_and_a_mismatched_one_is_refused(tmp_path):
    from mmshield.shields.embedded import heads_training as ht
    from mmshield.shields.embedded import training as tr

    tr.write_slot_texts(tmp_path, ["a", "b", "c"])
    table = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.save(tmp_path / "t.npy", table)
    slots = np.array([[0, -1, -1, -1], [1, 2, -1, 0]], np.int32)
    e = tr.Example(id="d", x=np.ones((2, 3), np.float32), roles=np.array([0, 1]), target=np.zeros((2, 8)),
                   mask=np.ones((2, 8)), prefix_safe=np.zeros(2), slots=slots)
    out = ht.with_text_table({"train": [e]}, tmp_path / "t.npy", tmp_path)["train"][0]
    # text, OCR (absent: zeros), joint (absent: the text's row), previous turn (absent: zeros)
    np.testing.assert_array_equal(out.x[0], [1, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(out.x[1], [1, 1, 1, 2, 3, 4, 5, 2, 3, 0, 1])
    np.save(tmp_path / "short.npy", table[:2])
    with pytest.raises(ValueError, match="3 slot texts"):
        ht.with_text_table({"train": [e]}, tmp_path / "short.npy", tmp_path)


def test_a_text_table_can_replace_the_mean_embeddings(tmp_path):
    from mmshield.shields.embedded import heads_training as ht
    from mmshield.shields.embedded import training as tr
    from mmshield.shields.embedded.featurize import INPUT_DIM, N_SCALARS

    tr.write_slot_texts(tmp_path, ["a", "b"])
    np.save(tmp_path / "t.npy", np.array([[7, 8], [9, 10]], np.float32))
    x = np.zeros((1, INPUT_DIM), np.float32)
    x[0, -N_SCALARS:] = np.arange(N_SCALARS)
    e = tr.Example(id="d", x=x, roles=np.array([0]), target=np.zeros((2, 8)), mask=np.ones((2, 8)),
                   prefix_safe=np.zeros(1), slots=np.array([[0, 1, -1, -1]], np.int32))
    out = ht.with_text_table({"dev": [e]}, tmp_path / "t.npy", tmp_path, instead=True)["dev"][0]
    # the scalars, then text, OCR, joint (absent: the text's row) and previous turn (absent: zeros)
    np.testing.assert_array_equal(out.x[0], [*range(N_SCALARS), 7, 8, 9, 10, 7, 8, 0, 0])


def _generalisation():
    """benchmarks/generalisation.py as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("generalisation", EXAMPLES.parent / "benchmarks" / "generalisation.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


def test_an_ensemble_across_encoders_pairs_the_same_records_and_refuses_them_out_of_step():
    import argparse

    from mmshield.shields.embedded import training as tr

    gen = _generalisation()

    def ex(i: str, fam: str) -> tr.Example:
        return tr.Example(id=i, x=np.ones((1, 3), np.float32), roles=np.array([0]), target=np.zeros((2, 8)),
                          mask=np.ones((2, 8)), prefix_safe=np.zeros(1), family=fam)

    plain = {"train": [ex("t", "a")], "dev": [ex("d1", "a"), ex("d2", "b")], "test": [ex("x", "b")]}
    dev, test, model = gen.encoder_member(plain, "b", argparse.Namespace(epochs=1, seed=0),
                                          splits_equal=([ex("d1", "a")], [ex("d2", "b"), ex("x", "b")]))
    assert [e.id for e in dev] == ["d1"] and [e.id for e in test] == ["d2", "x"]  # "b" held out of dev, tested whole
    assert tr.side_scores(model, test).shape == (2, 2, 9)
    # the table-fed side lists the held-out family's records in another order: its scores cannot be averaged
    with pytest.raises(ValueError, match="same order"):
        gen.encoder_member(plain, "b", argparse.Namespace(epochs=1, seed=0),
                           splits_equal=([ex("d1", "a")], [ex("x", "b"), ex("d2", "b")]))


def test_generalisation_breaks_a_held_out_family_down_by_strategy(tmp_path):
    from mmshield.shields.embedded import training as tr

    gen = _generalisation()
    for split, rows in {"train": [("a", "plain"), ("b", "benign_card")], "dev": [("c", "benign_card")], "test": []}.items():
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps({"id": i, "strategy": s}) + "\n" for i, s in rows))
    strategy_of = gen.strategies_of(tmp_path)
    assert strategy_of == {"a": "plain", "b": "benign_card", "c": "benign_card"}

    def ex(i: str) -> tr.Example:  # a benign user side
        mask = np.zeros((2, 8))
        mask[0] = 1
        return tr.Example(id=i, x=np.ones((1, 3), np.float32), roles=np.array([0]), target=np.zeros((2, 8)),
                          mask=mask, prefix_safe=np.zeros(1))

    examples = [ex("a"), ex("b"), ex("c")]
    scores = np.zeros((3, 2, 9))
    scores[:, :, 0] = 1.0  # all safe...
    scores[2, 0] = [0.1, 0.9, 0, 0, 0, 0, 0, 0, 0]  # ...but "c", flagged
    out = gen.by_strategy(scores, examples, {"user": 0.5, "assistant": 0.5}, strategy_of, min_n=1)
    assert out["plain"]["n"] == 1 and out["plain"]["user"]["fpr"] == 0.0
    assert out["benign_card"]["n"] == 2 and out["benign_card"]["user"]["fpr"] == 0.5
    assert gen.by_strategy(scores, examples, {"user": 0.5, "assistant": 0.5}, strategy_of, min_n=2).keys() == {"benign_card"}
