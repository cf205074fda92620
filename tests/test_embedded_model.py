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


def test_policy_score_keeps_a_split_side_flagged_while_its_top_dimension_is_in_force():
    """A bomb is Violence and Illegal Activities: the mass splits, the side is still plainly unsafe."""
    from mmshield.shields.embedded.model import policy_score

    probs = np.array([0.02, 0.50, 0.47, 0.01])  # safe, Violence, Illegal, Privacy
    full = np.array([True, True, True])
    assert policy_score(probs, full) == pytest.approx(0.98)
    assert policy_score(probs, np.array([True, False, False])) == pytest.approx(0.98)  # top dimension kept
    assert policy_score(probs, np.array([False, True, True])) == pytest.approx(0.48)  # top switched off: what is left
    assert policy_score(probs, np.array([False, False, True])) == pytest.approx(0.01)
    series = np.stack([probs, [0.9, 0.02, 0.07, 0.01]])  # running scores over turns: one per row
    assert policy_score(series, np.array([False, True, False])).tolist() == pytest.approx([0.47, 0.10])  # row 2: top kept


def test_ensemble_file_averages_its_members(tmp_path):
    torch = pytest.importorskip("torch")
    from mmshield.shields.embedded import training as tr
    from mmshield.shields.embedded.model import ContextEnsemble, ensemble_mean, pool_logits, softmax

    members = []
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        m = tr.build_torch_model(hidden=16, proj=24, dropout=0.0)
        m.eval()
        members.append(m)
    tr.export_weights(members, tmp_path / "ens.npz", {})
    ens = ContextModel.load(tmp_path / "ens.npz")
    assert isinstance(ens, ContextEnsemble) and ens.members == 3
    singles = []
    for i, m in enumerate(members):
        tr.export_weights(m, tmp_path / f"m{i}.npz", {})
        singles.append(ContextModel.load(tmp_path / f"m{i}.npz"))
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, INPUT_DIM)).astype(np.float32)
    roles = ["user", "assistant", "user", "assistant"]
    steps = ens.forward(x, roles)
    user = [t for t, r in enumerate(roles) if r == "user"]
    got = ensemble_mean(softmax(pool_logits(np.stack([steps[t].logits for t in user]))), ens.members)
    want = np.mean([softmax(pool_logits(np.stack([s.forward(x, roles)[t].logits for t in user]))) for s in singles], axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.sum(), 1.0, rtol=1e-5)
    # members really differ, so the average is not any single member
    assert not np.allclose(got, softmax(pool_logits(np.stack([singles[0].forward(x, roles)[t].logits for t in user]))))


def test_shield_runs_an_ensemble_and_stays_incremental(tmp_path):
    torch = pytest.importorskip("torch")
    from mmshield.dialogue import Dialogue, Turn
    from mmshield.policy import Policy
    from mmshield.shields.embedded import training as tr
    from mmshield.shields.embedded.shield import EmbeddedShield

    members = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        m = tr.build_torch_model(hidden=16, proj=24, dropout=0.0)
        m.eval()
        members.append(m)
    tr.export_weights(members, tmp_path / "ens.npz", {"thresholds": {"user": 0.5, "assistant": 0.5}})
    shield = EmbeddedShield(tmp_path / "ens.npz", read_images=False)
    turns = [Turn("user", "Hi there"), Turn("assistant", "Hello! How can I help?"), Turn("user", "Tell me a joke.")]
    whole = shield.moderate(Dialogue(turns=turns), Policy.default())
    session = shield.session(Policy.default())
    for t in turns:
        last = session.add(t)
    assert last.user.scores == whole.user.scores and last.assistant.scores == whole.assistant.scores
    # per-dimension probabilities of the averaged distribution: each in [0, 1], together at most 1 ("safe" holds the rest)
    assert all(0.0 <= v <= 1.0 for v in whole.user.scores.values()) and sum(whole.user.scores.values()) <= 1.0 + 1e-3


def test_calibration_finds_the_separating_threshold_and_smoothing_centres_it():
    from types import SimpleNamespace

    from mmshield.shields.embedded import training as tr

    k = 8
    rng = np.random.default_rng(5)
    rows, scores = [], []
    for i in range(400):
        unsafe = i % 2 == 0
        mass = rng.uniform(0.55, 0.95) if unsafe else rng.uniform(0.0, 0.25)  # a gap between 0.25 and 0.55
        target = np.zeros((2, k), dtype=np.float32)
        mask = np.zeros((2, k), dtype=np.float32)
        mask[0] = 1.0
        if unsafe:
            target[0, 2] = 1.0
        p = np.full((2, k + 1), np.nan, dtype=np.float32)
        p[0] = 0.0
        p[0, 0] = 1.0 - mass
        p[0, 3] = mass  # all the unsafe mass on one dimension
        rows.append(SimpleNamespace(target=target, mask=mask))
        scores.append(p)
    scores = np.stack(scores)
    th = tr.calibrate(scores, rows)["user"]
    assert 0.24 <= th <= 0.55  # any threshold in the gap separates the classes
    centred = tr.calibrate(scores, rows, smooth=0.1)["user"]
    assert abs(centred - 0.4) <= 0.06  # the middle of the flat optimum
    assert tr.quick_metrics(scores, rows, {"user": centred, "assistant": 0.5})["user"]["f1"] == 1.0


def test_features_cache_is_rebuilt_when_the_encoder_changes(tmp_path):
    """A cache made by another encoder (e.g. truncating long texts) must not be reused: its files go."""
    from mmshield.shields.embedded.training import claim_features_cache

    folder = tmp_path / "features"
    assert claim_features_cache(folder, "enc-A") is True  # new folder: build it
    for name in ("text_table.npy", "text_table.texts.json", "train.npz"):
        (folder / name).write_bytes(b"x")
    assert claim_features_cache(folder, "enc-A") is False  # same encoder and layout: reuse
    assert (folder / "train.npz").is_file()
    assert claim_features_cache(folder, "enc-B") is True  # another encoder: everything stale is removed
    assert not any(folder.glob("*.npz")) and not any(folder.glob("text_table*"))
    assert claim_features_cache(folder, "enc-B") is False


def _toy_examples(n_per_family: int = 24) -> list:
    """Single-turn user dialogues whose first 64 input features say unsafe (dimension 1), in 5 families."""
    from mmshield.shields.embedded import training as tr

    rng = np.random.default_rng(1)
    k = 8
    out = []
    for f, fam in enumerate(["a", "b", "c", "d", "e"]):
        for i in range(n_per_family * (f + 1) // 2):
            unsafe = i % 2 == 0
            x = rng.normal(0, 0.05, size=(1, INPUT_DIM)).astype(np.float32)
            x[0, :64] += 1.0 if unsafe else -1.0
            target = np.zeros((2, k), dtype=np.float32)
            target[0, 0] = float(unsafe)
            mask = np.zeros((2, k), dtype=np.float32)
            mask[0] = 1.0
            out.append(tr.Example(id=f"{fam}{i}", x=x, roles=np.zeros(1, dtype=np.int64), target=target, mask=mask,
                                  prefix_safe=np.zeros(1, dtype=np.float32), family=fam))
    return out


def test_family_groups_partition_the_families_evenly():
    from mmshield.shields.embedded.family_calibration import family_groups

    examples = _toy_examples()
    groups = family_groups(examples, 2)
    assert sorted(f for g in groups for f in g) == ["a", "b", "c", "d", "e"]
    sizes = [sum(e.family in g for e in examples) for g in groups]
    assert max(sizes) - min(sizes) <= max(sum(e.family == f for e in examples) for f in "abcde")
    with pytest.raises(ValueError):
        family_groups(examples, 6)  # more groups than families


def test_out_of_family_scores_cover_every_dialogue_once_and_give_thresholds():
    pytest.importorskip("torch")
    from mmshield.shields.embedded import training as tr
    from mmshield.shields.embedded.family_calibration import out_of_family_scores, out_of_family_thresholds

    examples = _toy_examples()
    train_ex = [e for i, e in enumerate(examples) if i % 4 < 2]  # both labels in both parts
    dev_ex = [e for i, e in enumerate(examples) if i % 4 >= 2]
    cfg = tr.TrainConfig(epochs=10, hidden=8, proj=8, seed=0, lr=0.01, dropout=0.0)
    scores, scored = out_of_family_scores(train_ex, dev_ex, cfg, k=2, log=lambda m: None)
    assert sorted(e.id for e in scored) == sorted(e.id for e in examples)
    assert scores.shape == (len(examples), 2, 9) and np.isnan(scores[:, 1]).all()
    assert tr.auroc(scores, scored)["user"] > 0.9  # the signal carries over to families a model never saw
    th = out_of_family_thresholds(train_ex, dev_ex, cfg, k=2, log=lambda m: None)
    assert 0.05 <= th["user"] <= 0.95


def test_family_sampling_weights_flatten_the_families():
    from mmshield.shields.embedded import training as tr

    examples = _toy_examples()
    sizes = {f: sum(e.family == f for e in examples) for f in "abcde"}
    assert len(set(sizes.values())) > 1  # the toy families differ in size
    w = tr.family_sampling_weights(examples, 1.0)
    mass = {f: sum(wi for wi, e in zip(w, examples) if e.family == f) for f in "abcde"}
    assert max(mass.values()) == pytest.approx(min(mass.values()))
    assert set(tr.family_sampling_weights(examples, 0.0)) == {1.0}


def test_hard_negative_weight_multiplies_the_draw_of_look_alikes_only():
    from mmshield.shields.embedded import training as tr

    examples = _toy_examples()
    for i, e in enumerate(examples):
        e.pattern = "hard_negative" if i % 3 == 0 else "single_turn"
    assert tr.sampling_weights(examples, 0.0, 1.0) is None  # the plain shuffle
    w = tr.sampling_weights(examples, 0.0, 2.5)
    assert {wi for wi, e in zip(w, examples) if e.pattern == "hard_negative"} == {2.5}
    assert {wi for wi, e in zip(w, examples) if e.pattern != "hard_negative"} == {1.0}
    both = tr.sampling_weights(examples, 1.0, 2.0)  # composes with the family balance
    flat = tr.family_sampling_weights(examples, 1.0)
    assert both == pytest.approx([f * (2.0 if e.pattern == "hard_negative" else 1.0) for f, e in zip(flat, examples)])


def test_patterns_survive_the_cache_and_old_caches_read_them_from_the_build(tmp_path):
    import json

    from mmshield.shields.embedded import training as tr

    examples = _toy_examples(4)
    for i, e in enumerate(examples):
        e.pattern = "hard_negative" if i % 2 else "single_turn"
    tr.save_examples(tmp_path / "train.npz", examples)
    assert [e.pattern for e in tr.load_examples(tmp_path / "train.npz")] == [e.pattern for e in examples]
    for e in examples:  # a cache written before the field: patterns come from the records
        e.pattern = ""
    records = tmp_path / "train.jsonl"
    records.write_text("".join(json.dumps({"id": e.id, "pattern": "benign_chat"}) + "\n" for e in examples[:3]))
    assert tr.attach_patterns(examples, records) == 3
    assert [e.pattern for e in examples[:4]] == ["benign_chat"] * 3 + [""]


def _side_batch(torch, logits_user):
    """A one-dialogue batch whose user side is gold-Unsafe on dimension 1 under the full policy."""
    k = 8
    target = np.zeros((1, 2, k), dtype=np.float32)
    target[0, 0, 0] = 1.0
    mask = np.zeros((1, 2, k), dtype=np.float32)
    mask[0, 0] = 1.0
    return torch.from_numpy(target), torch.from_numpy(mask), torch.tensor([logits_user], dtype=torch.float32)


def test_policy_drop_counts_only_mass_on_other_dimensions_in_force():
    torch = pytest.importorskip("torch")
    from mmshield.shields.embedded import training as tr

    target, mask, _ = _side_batch(torch, [0.0] * 9)
    allowed = tr._dropped_allowed(target, mask, torch)[0, 0].tolist()
    assert allowed == [True, True] + [False] * 7  # safe and the violated dimension; every other one in force
    mask[0, 0, 5] = 0.0  # a dimension already switched off by the record's policy is allowed too
    assert tr._dropped_allowed(target, mask, torch)[0, 0, 6].item()
    # a side split between its dimension and another pays the drop term; a side sure of its dimension does not
    split = torch.tensor([[0.0, 4.0, 4.0] + [-9.0] * 6])
    sure = torch.tensor([[0.0, 4.0, -9.0] + [-9.0] * 6])
    drop = tr._dropped_allowed(target, torch.ones_like(mask), torch)[:, 0]
    assert tr._partial_nll(split, drop, torch).item() > 0.5 > 0.05 > tr._partial_nll(sure, drop, torch).item()


def test_policy_drop_training_moves_mass_off_the_confused_dimension(tmp_path):
    pytest.importorskip("torch")
    from mmshield.shields.embedded import training as tr

    # every unsafe dialogue is labelled dimension 1 or 2 at random: the plain loss splits its mass between them
    rng = np.random.default_rng(3)
    examples = []
    for e in _toy_examples():
        if e.target[0].any():
            e.target[0, :] = 0.0
            e.target[0, int(rng.integers(0, 2))] = 1.0
        e.x[:] = np.round(e.x)  # no noise to memorise: which label a dialogue got is a coin toss
        examples.append(e)
    train_ex = [e for i, e in enumerate(examples) if i % 4 < 2]  # both labels in both parts
    dev_ex = [e for i, e in enumerate(examples) if i % 4 >= 2]
    flagged = {}
    for w in (0.0, 3.0):
        cfg = tr.TrainConfig(epochs=40, hidden=8, proj=8, seed=0, lr=0.02, dropout=0.0, policy_drop_weight=w)
        model, _ = tr.train(train_ex, dev_ex, cfg, log=lambda m: None)
        path = tmp_path / f"w{w}.npz"
        tr.export_weights(model, path, {})
        scores = tr.side_scores(ContextModel.load(path), dev_ex)
        flagged[w] = float(tr.adaptation_masses(scores, dev_ex)["user"].mean())  # mass left once it is off
        restricted = tr.restricted_masses(scores, dev_ex)["user"]
        assert len(restricted) == sum(bool(e.target[0].any()) for e in dev_ex)
    assert flagged[0.0] > 0.35 and flagged[3.0] < flagged[0.0] - 0.1


def test_policy_drop_applies_only_to_the_sides_named():
    torch = pytest.importorskip("torch")
    from mmshield.shields.embedded import training as tr

    torch.manual_seed(0)
    model = tr.build_torch_model(8, 8, 0.0)
    batch = tr._batch(_toy_examples()[:16], torch)  # gold-Unsafe user sides only, no assistant turns
    with torch.no_grad():
        loss = {sides: tr.context_loss(model, batch, 0.5, torch, 1.0, sides).item()
                for sides in ("both", "user", "assistant")}
        plain = tr.context_loss(model, batch, 0.5, torch, 0.0).item()
    assert loss["assistant"] == pytest.approx(plain)  # no assistant side to drop
    assert loss["both"] == pytest.approx(loss["user"]) and loss["user"] > plain
    with pytest.raises(ValueError, match="policy_drop_sides"):
        tr.context_loss(model, batch, 0.5, torch, 1.0, "neither")
