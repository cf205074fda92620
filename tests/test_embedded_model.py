"""The numpy context model matches the torch module it was exported from, and is causal."""

from __future__ import annotations

import numpy as np
import pytest

from mmshield.shields.embedded.featurize import INPUT_DIM
from mmshield.shields.embedded.model import ContextModel


def _export(tmp_path):
    torch = pytest.importorskip("torch")
    from mmshield.shields.embedded import training as tr

    torch.manual_seed(0)
    m = tr.build_torch_model(hidden=16, proj=24, rank=8, dropout=0.0)
    with torch.no_grad():
        m.norm_mean.uniform_(-0.1, 0.1)
        m.norm_std.uniform_(0.5, 1.5)
    m.eval()
    path = tmp_path / "w.npz"
    tr.export_weights(m, path, {})
    return torch, tr, m, ContextModel.load(path)


def test_numpy_forward_matches_torch(tmp_path):
    torch, tr, m, npm = _export(tmp_path)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, INPUT_DIM)).astype(np.float32)
    roles = ["user", "assistant", "user", "assistant", "user"]
    steps = npm.forward(x, roles)
    with torch.no_grad():
        hi = m(torch.from_numpy(x)[None])[0].numpy()
        ref_user = torch.sigmoid(m.head_user(torch.from_numpy(hi))).numpy()
        ref_asst = torch.sigmoid(m.head_assistant(torch.from_numpy(hi))).numpy()
    for t, (s, r) in enumerate(zip(steps, roles)):
        np.testing.assert_allclose(s.head_input, hi[t], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(s.probs, (ref_user if r == "user" else ref_asst)[t], rtol=1e-4, atol=1e-5)


def test_forward_is_causal(tmp_path):
    _, _, _, npm = _export(tmp_path)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, INPUT_DIM)).astype(np.float32)
    roles = ["user", "assistant", "user", "assistant"]
    a = npm.forward(x, roles)
    x2 = x.copy()
    x2[3] = rng.normal(size=INPUT_DIM)
    b = npm.forward(x2, roles)
    for t in range(3):
        np.testing.assert_array_equal(a[t].probs, b[t].probs)
    assert not np.allclose(a[3].probs, b[3].probs)


def test_custom_scores_shape_and_range(tmp_path):
    _, _, _, npm = _export(tmp_path)
    x = np.zeros((1, INPUT_DIM), dtype=np.float32)
    s = npm.forward(x, ["user"])[0]
    defs = np.random.default_rng(2).normal(size=(3, 384)).astype(np.float32)
    out = npm.custom_scores(s.head_input, "user", defs)
    assert out.shape == (3,) and ((out > 0) & (out < 1)).all()
