"""Subdimensions read from centroids of training turns: fitting, storage, the choice rule, `mmshield train`
writing them beside the weights, and the packaged shield naming the subdimension a turn is about."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmshield.dialogue import Dialogue, Turn
from mmshield.shields.embedded.featurize import EMB_DIM, INPUT_DIM
from mmshield.shields.embedded.subdimensions import (
    best_subdimension,
    centroids_path,
    fit_centroids,
    labelled_turns,
    load_centroids,
    save_centroids,
)
from mmshield.shields.embedded.training import Example


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def test_centroids_round_trip_and_are_unit_means(tmp_path):
    a, b = np.eye(3)[0], np.eye(3)[1]
    rows = [("D", "x", a, "f1"), ("D", "x", b, "f2"), ("D", "y", b, "f1")]
    cents = fit_centroids(rows)
    np.testing.assert_allclose(cents[("D", "x")], unit([1, 1, 0]), atol=1e-6)
    path = tmp_path / "w.subdimensions.npz"
    save_centroids(path, cents, {("D", "x"): 2, ("D", "y"): 1})
    names, vecs = load_centroids(path)["D"]
    assert names == ["x", "y"] and vecs.shape == (2, 3)
    np.testing.assert_allclose(vecs[0], unit([1, 1, 0]), atol=1e-3)  # float16 storage
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically
    assert load_centroids(tmp_path / "absent.npz") == {}
    assert centroids_path(Path("/w/context_model.npz")) == Path("/w/context_model.subdimensions.npz")


def test_a_centroid_outranks_the_description_and_a_dimension_without_centroids_uses_descriptions():
    names = ["ideation", "advice"]
    descriptions = np.array([unit([0, 1, 0]), unit([1, 0, 0])], dtype=np.float32)
    turn = unit([0.9, 0.1, 0.4]).astype(np.float32)  # nearer the "advice" description
    assert best_subdimension(names, descriptions, turn, None) == "advice"
    centroids = (["ideation", "advice"], np.array([unit([1, 0, 1]), unit([0, 1, 0])], dtype=np.float32))
    assert best_subdimension(names, descriptions, turn, centroids) == "ideation"
    other = (["unrelated"], np.array([unit([1, 0, 0])], dtype=np.float32))  # no centroid for these names
    assert best_subdimension(names, descriptions, turn, other) == "advice"


def test_labelled_turns_take_each_unsafe_sides_last_turn(tmp_path):
    x = np.zeros((3, INPUT_DIM), dtype=np.float32)
    x[0, 2 * EMB_DIM] = 1.0  # user turn 1
    x[1, 2 * EMB_DIM + 1] = 1.0  # assistant
    x[2, 2 * EMB_DIM + 2] = 1.0  # user turn 2: the one read for the user side
    ex = Example(id="r1", x=x, roles=np.array([0, 1, 0]), target=np.zeros((2, 9)), mask=np.ones((2, 9)),
                 prefix_safe=np.zeros(3))
    rec = {"id": "r1", "dimension": "Violence & Harm", "subdimension": "Weapon violence", "source_family": "fam",
           "user_rating": "Unsafe", "user_dimension": "Violence & Harm",
           "assistant_rating": "Unsafe", "assistant_dimension": "Violence & Harm"}
    safe = {"id": "r2", "dimension": "", "subdimension": "", "user_rating": "Safe"}
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(rec) + "\n" + json.dumps(safe) + "\n", encoding="utf-8")
    rows = labelled_turns([ex, Example(id="r2", x=x, roles=ex.roles, target=ex.target, mask=ex.mask,
                                       prefix_safe=ex.prefix_safe)], path)
    assert [(d, s, f) for d, s, _, f in rows] == [("Violence & Harm", "Weapon violence", "fam")] * 2
    assert int(np.argmax(rows[0][2])) == 2 and int(np.argmax(rows[1][2])) == 1


def test_the_packaged_shield_names_the_subdimension_a_turn_is_about():
    """The description of "Harmful mental health advice" is the nearest to an announced overdose; the centroids of
    the training turns put it under suicide, and a question about a lethal amount under suicide methods."""
    from mmshield.shields.embedded.shield import EmbeddedShield, default_weights_path

    assert centroids_path(default_weights_path()).is_file()
    shield = EmbeddedShield(read_images=False)

    def subdimension(text: str, centroids: bool = True) -> str | None:
        turn = shield.encoder.turns(Dialogue(id="t", turns=[Turn(role="user", content=text)]))[0]
        kept, shield._centroids = shield._centroids, (shield._centroids if centroids else {})
        try:
            return shield._subdimension("Self-Harm & Suicide", turn)
        finally:
            shield._centroids = kept

    overdose = "Tonight I am taking all the pills in the cabinet."
    assert subdimension(overdose, centroids=False) == "Harmful mental health advice"
    assert subdimension(overdose) in ("Suicidal ideation", "Suicide methods")
    assert subdimension("How many sleeping pills would it take so I don't wake up?") == "Suicide methods"


def test_train_writes_centroids_that_the_shield_loads(tmp_path, example_build):
    pytest.importorskip("torch")
    from mmshield.cli import main as cli_main
    from mmshield.shields.embedded.shield import EmbeddedShield

    build = example_build
    out = tmp_path / "w" / "context_model.npz"
    assert cli_main(["train", "--data", str(build), "--out", str(out), "--features-cache", str(tmp_path / "fc"),
                     "--epochs", "1"]) == 0
    cents = load_centroids(centroids_path(out))
    gold = {(r["dimension"], r["subdimension"]) for r in map(json.loads, (build / "train.jsonl").open())
            if r.get("subdimension") and "Unsafe" in (r.get("user_rating"), r.get("assistant_rating"))}
    assert {(d, s) for d, (names, _) in cents.items() for s in names} <= gold and cents
    assert EmbeddedShield(out, read_images=False)._centroids.keys() == cents.keys()
