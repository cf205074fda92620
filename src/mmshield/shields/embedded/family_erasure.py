"""Erase source-family style from text embeddings, keeping what separates safe from unsafe.

Each source family writes in its own style (jailbreak templates, forum posts, benchmark one-liners), and most
families lean one way (all unsafe, all benign), so a model can learn "written like family F" for "unsafe". Here
the texts are grouped by (family, side label); each group's mean minus its label's mean is a direction that
tells families apart *within* a label. The top directions of those deviations (weighted by group size) span a
small subspace that is projected out of every 384-d text slot (text, OCR, joint, previous turn) before the
context model reads it. Fitted on the training families only; the held-out family never shapes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from mmshield.shields.embedded.featurize import EMB_DIM, SLOTS
from mmshield.shields.embedded.training import Example


def slot_columns() -> list[slice]:
    """Column ranges of the four text slots in a feature row (they come first, side by side)."""
    return [slice(i * EMB_DIM, (i + 1) * EMB_DIM) for i in range(SLOTS)]


def group_means(examples: Iterable[Example]) -> dict[tuple[str, int], tuple[np.ndarray, int]]:
    """Mean own-text embedding and count per (family, side label) over every turn of every present side."""
    sums: dict[tuple[str, int], np.ndarray] = {}
    counts: dict[tuple[str, int], int] = {}
    for e in examples:
        for s in (0, 1):
            if e.mask[s].sum() <= 0 and e.target[s].sum() <= 0:
                continue
            label = int(e.target[s].max() > 0)
            rows = e.x[e.roles == s, :EMB_DIM]
            if not len(rows):
                continue
            key = (e.family, label)
            sums[key] = sums.get(key, np.zeros(EMB_DIM)) + rows.sum(0)
            counts[key] = counts.get(key, 0) + len(rows)
    return {k: (sums[k] / counts[k], counts[k]) for k in sums}


def fit_basis(examples: list[Example], rank: int, min_turns: int = 50) -> np.ndarray:
    """(EMB_DIM, r) orthonormal basis of the family directions within a label, r <= rank."""
    means = {k: v for k, v in group_means(examples).items() if v[1] >= min_turns}
    rows = []
    for label in (0, 1):
        groups = [(m, n) for (f, y), (m, n) in means.items() if y == label]
        if len(groups) < 2:
            continue
        total = sum(n for _, n in groups)
        centre = sum(m * n for m, n in groups) / total
        rows += [np.sqrt(n / total) * (m - centre) for m, n in groups]
    if not rows:
        return np.zeros((EMB_DIM, 0), dtype=np.float32)
    _, sv, vt = np.linalg.svd(np.stack(rows), full_matrices=False)
    keep = min(rank, int((sv > 1e-6).sum()))
    return vt[:keep].T.astype(np.float32)


def erase(x: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Feature rows with the basis projected out of each text slot (scalars and other columns unchanged)."""
    if basis.shape[1] == 0:
        return x
    out = x.copy()
    for cols in slot_columns():
        v = out[:, cols]
        out[:, cols] = v - (v @ basis) @ basis.T
    return out


def erase_examples(examples: list[Example], basis: np.ndarray) -> list[Example]:
    """Copies of `examples` whose features have the basis erased."""
    return [replace(e, x=erase(e.x, basis)) for e in examples]


def fold_into_projection(weight: np.ndarray, std: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """The input projection (out, d) of a model trained on erased features, rewritten to read raw ones.

    The model computes `W @ ((E x - mu) / std)` with E the erasure and mu the mean of erased features, so E mu = mu
    and that equals `W' @ ((x - mu) / std)` with `W' = W diag(1/std) E diag(std)`: same mean and scale, no
    change at inference. Columns outside the text slots are unchanged.
    """
    out = weight.astype(np.float64).copy()
    for cols in slot_columns():
        scaled = out[:, cols] / std[cols]  # W diag(1/std) on this slot
        scaled = scaled - (scaled @ basis) @ basis.T  # ... E (symmetric)
        out[:, cols] = scaled * std[cols]  # ... diag(std)
    return out.astype(weight.dtype)
