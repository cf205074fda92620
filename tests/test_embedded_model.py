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
    m = tr.build_torch_model(hidden=16, proj=24, dropout=0.0)
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
        ref_user = m.head_user(torch.from_numpy(hi)).numpy()
        ref_asst = m.head_assistant(torch.from_numpy(hi)).numpy()
    for t, (s, r) in enumerate(zip(steps, roles)):
        np.testing.assert_allclose(s.head_input, hi[t], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(s.logits, (ref_user if r == "user" else ref_asst)[t], rtol=1e-4, atol=1e-4)


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
        np.testing.assert_array_equal(a[t].logits, b[t].logits)
    assert not np.allclose(a[3].logits, b[3].logits)


def test_pooling_keeps_an_unsafe_turn_and_policy_mass_is_exact():
    from mmshield.shields.embedded.model import pool_logits, softmax

    turns = np.array([[5.0, 0.0, -1.0], [0.0, 4.0, -1.0]])  # safe turn, then a turn unsafe on dimension 1
    pooled = pool_logits(turns)
    assert pooled.tolist() == [0.0, 4.0, -1.0]
    p = softmax(pooled)
    assert p[1] > 0.9
    # removing dimension 1 from the policy leaves only the mass of the other dimension
    assert p[2] < 0.02
