"""Family-style erasure: the directions that tell families apart within a label go, the label direction stays."""

from __future__ import annotations

import numpy as np

from mmshield.shields.embedded import family_erasure as fe
from mmshield.shields.embedded import training as tr
from mmshield.shields.embedded.featurize import EMB_DIM, INPUT_DIM


def _examples(rng: np.random.Generator) -> list[tr.Example]:
    """User-only dialogues from three families; family style along axis 0 (family b, c), the label along axis 1."""
    style = {"a": 0.0, "b": 1.0, "c": -1.0}
    out = []
    for fam, shift in style.items():
        for i in range(120):
            unsafe = i % 2
            x = rng.normal(0, 0.05, (2, INPUT_DIM)).astype(np.float32)
            x[:, 0] += shift
            x[:, 1] += 1.0 if unsafe else -1.0
            x[:, EMB_DIM] += shift  # the OCR slot carries the same style
            target = np.zeros((2, 8), np.float32)
            mask = np.zeros((2, 8), np.float32)
            mask[0] = 1.0
            target[0, 4] = float(unsafe)
            out.append(tr.Example(id=f"{fam}{i}", x=x, roles=np.zeros(2, dtype=np.int64), target=target, mask=mask,
                                  prefix_safe=np.zeros(2, np.float32), family=fam))
    return out


def test_basis_finds_family_style_not_label() -> None:
    basis = fe.fit_basis(_examples(np.random.default_rng(0)), rank=1)
    assert basis.shape == (EMB_DIM, 1)
    assert abs(basis[0, 0]) > 0.95  # the style axis
    assert abs(basis[1, 0]) < 0.1  # not the label axis


def test_erase_removes_style_in_every_slot_and_keeps_the_rest() -> None:
    examples = _examples(np.random.default_rng(1))
    basis = fe.fit_basis(examples, rank=1)
    erased = fe.erase_examples(examples, basis)
    b = [e for e in erased if e.family == "b"]
    c = [e for e in erased if e.family == "c"]
    for col in (0, EMB_DIM):  # text slot and OCR slot
        assert abs(np.mean([e.x[:, col].mean() for e in b]) - np.mean([e.x[:, col].mean() for e in c])) < 0.1
    label_gap = np.mean([e.x[:, 1].mean() for e, o in zip(erased, examples) if o.target[0].max() > 0]) - np.mean(
        [e.x[:, 1].mean() for e, o in zip(erased, examples) if o.target[0].max() == 0])
    assert label_gap > 1.8
    assert np.array_equal(erased[0].x[:, 4 * EMB_DIM:], examples[0].x[:, 4 * EMB_DIM:])  # scalars untouched
    assert examples[0].x[0, 0] != erased[0].x[0, 0]  # the inputs were copied, not changed in place


def test_no_groups_means_no_erasure() -> None:
    one_family = [e for e in _examples(np.random.default_rng(2)) if e.family == "a"]
    basis = fe.fit_basis(one_family, rank=4)
    assert basis.shape == (EMB_DIM, 0)
    assert np.array_equal(fe.erase(one_family[0].x, basis), one_family[0].x)


def test_fold_reads_raw_features_as_the_model_read_erased_ones() -> None:
    rng = np.random.default_rng(3)
    basis = np.linalg.qr(rng.normal(size=(EMB_DIM, 3)))[0].astype(np.float32)
    raw = rng.normal(size=(50, INPUT_DIM)).astype(np.float32)
    erased = fe.erase(raw, basis)
    mu, sd = erased.mean(0), erased.std(0) + 1e-2
    w = rng.normal(size=(7, INPUT_DIM)).astype(np.float32)
    folded = fe.fold_into_projection(w, sd, basis)
    assert np.allclose(((erased - mu) / sd) @ w.T, ((raw - mu) / sd) @ folded.T, atol=1e-3)


def test_a_model_trained_with_erasure_ignores_family_style() -> None:
    examples = _examples(np.random.default_rng(4))
    cfg = tr.TrainConfig(epochs=1, seed=1, erase_family_rank=1, hidden=16, proj=16)
    model, _ = tr.train(examples[::2], examples[1::2], cfg, log=lambda m: None)
    npm = tr.numpy_model(model)
    style = np.zeros(INPUT_DIM, np.float32)
    style[:EMB_DIM] = 3.0 * fe.fit_basis(examples[::2], rank=1)[:, 0]  # the direction train() erased
    shifted = [tr.Example(**{**e.__dict__, "x": e.x + style}) for e in examples[:10]]
    assert np.allclose(tr.side_scores(npm, examples[:10])[:, 0], tr.side_scores(npm, shifted)[:, 0], atol=1e-4)
    moved_label = [tr.Example(**{**e.__dict__, "x": e.x + np.where(np.arange(INPUT_DIM) == 1, 3.0, 0.0).astype(np.float32)})
                   for e in examples[:10]]
    assert not np.allclose(tr.side_scores(npm, examples[:10])[:, 0], tr.side_scores(npm, moved_label)[:, 0], atol=1e-4)
