"""Which subdimension a flagged turn falls under, read from examples rather than from a three-word description.

The taxonomy describes a subdimension in a few words ("Suicidal ideation: thoughts or desires"), and a turn's
embedding is a poor match for so little text: "Tonight I'm taking all the pills in the cabinet." lands nearer
"Harmful mental health advice" than "Suicide methods". A centroid per (dimension, subdimension), the mean
turn embedding of the training dialogues labelled with it, says what such turns look like. `mmshield train`
writes the centroids beside the weights (`centroids_path`); the shield uses them where it has them and falls
back on the description's embedding for a subdimension without training examples (or weights without the
file). Measured by `benchmarks/subdimension_accuracy.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mmshield.shields.embedded.featurize import EMB_DIM

JOINT = slice(2 * EMB_DIM, 3 * EMB_DIM)
"""The joined text-and-OCR embedding of a turn inside its feature vector (what the shield matches)."""

SIDES = ("user", "assistant")


def centroids_path(weights: Path) -> Path:
    """Where the centroids of a weights file live: `<stem>.subdimensions.npz` beside it."""
    return weights.with_name(f"{weights.stem}.subdimensions.npz")


def labelled_turns(examples: Iterable, records_path: Path) -> list[tuple[str, str, np.ndarray, str]]:
    """(dimension, subdimension, unit joint embedding, source family) for every Unsafe side with a subdimension:
    the side's last turn (the one that carries the request or the reply). `examples` are featurized dialogues
    (`training.Example`) of the build whose records are at `records_path`."""
    records: dict[str, dict] = {}
    for line in records_path.read_text("utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            records[str(r.get("id"))] = r
    rows = []
    for e in examples:
        r = records.get(e.id)
        if r is None or not r.get("subdimension"):
            continue
        for role, side in enumerate(SIDES):
            if r.get(f"{side}_rating") != "Unsafe" or r.get(f"{side}_dimension") != r.get("dimension"):
                continue
            turns = np.where(e.roles == role)[0]
            if not len(turns):
                continue
            v = np.asarray(e.x[turns[-1], JOINT], dtype=np.float64)
            norm = np.linalg.norm(v)
            if norm > 0:
                rows.append((r["dimension"], r["subdimension"], v / norm, str(r.get("source_family", ""))))
    return rows


def fit_centroids(rows: Iterable[tuple[str, str, np.ndarray, str]]) -> dict[tuple[str, str], np.ndarray]:
    """Unit mean embedding per (dimension, subdimension)."""
    sums: dict[tuple[str, str], np.ndarray] = {}
    for dim, sub, v, _ in rows:
        sums[(dim, sub)] = sums.get((dim, sub), 0) + v
    return {k: (s / np.linalg.norm(s)).astype(np.float32) for k, s in sums.items() if np.linalg.norm(s) > 0}


def save_centroids(path: Path, centroids: dict[tuple[str, str], np.ndarray], counts: dict[tuple[str, str], int]) -> None:
    """Write centroids (float16) with their keys and example counts, atomically."""
    keys = sorted(centroids)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, keys=np.array([f"{d}\t{s}" for d, s in keys]),
                        counts=np.array([counts.get(k, 0) for k in keys], dtype=np.int64),
                        vectors=np.stack([centroids[k] for k in keys]).astype(np.float16))
    tmp.replace(path)


def load_centroids(path: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    """Centroids grouped by dimension: {dimension: (subdimension names, unit vectors)}; {} when absent."""
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as z:
        keys, vectors = [str(k) for k in z["keys"]], z["vectors"].astype(np.float32)
    grouped: dict[str, tuple[list[str], list[np.ndarray]]] = {}
    for key, v in zip(keys, vectors):
        dim, sub = key.split("\t", 1)
        names, vecs = grouped.setdefault(dim, ([], []))
        names.append(sub)
        vecs.append(v / max(float(np.linalg.norm(v)), 1e-9))
    return {d: (names, np.stack(vecs)) for d, (names, vecs) in grouped.items()}


def best_subdimension(names: list[str], description_vectors: np.ndarray, joint: np.ndarray,
                      centroids: tuple[list[str], np.ndarray] | None) -> str:
    """The subdimension whose centroid (or, without one, whose description) is nearest the turn's embedding."""
    scores = description_vectors @ joint
    if centroids is not None:
        cnames, cvecs = centroids
        by_name = dict(zip(cnames, cvecs @ joint))
        if any(n in by_name for n in names):
            scores = np.array([by_name.get(n, s) for n, s in zip(names, scores)])
    return names[int(np.argmax(scores))]


def write_for_weights(weights: Path, train_examples: Iterable, records_path: Path) -> Path:
    """Fit centroids on a build's train split and write them beside `weights`; returns the path."""
    rows = labelled_turns(train_examples, records_path)
    counts: dict[tuple[str, str], int] = {}
    for dim, sub, _, _ in rows:
        counts[(dim, sub)] = counts.get((dim, sub), 0) + 1
    out = centroids_path(weights)
    save_centroids(out, fit_centroids(rows), counts)
    return out
