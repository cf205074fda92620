"""Thresholds for dialogues from sources the model never saw: calibration on out-of-family scores.

Dev-split thresholds are fitted to scores of source families the model trained on; on a new benchmark the
scores shift (unseen harmful dialogues score lower, unseen benign look-alikes higher). Here the training
families are split into K groups; for each group a context model is trained without it and scores it. The
pooled out-of-family scores of every training dialogue then stand in for "a source never seen", and the
thresholds are placed on them (dev F1 rule of `training.calibrate`). Costs K extra trainings.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mmshield.shields.embedded import training as tr


def family_groups(examples: list[tr.Example], k: int) -> list[list[str]]:
    """The examples' families in `k` groups of similar size (largest first, dealt out in a snake order)."""
    if k < 2:
        raise ValueError("out-of-family calibration needs at least 2 groups")
    counts: dict[str, int] = {}
    for e in examples:
        counts[e.family] = counts.get(e.family, 0) + 1
    if len(counts) < k:
        raise ValueError(f"{len(counts)} source families cannot make {k} groups")
    groups: list[list[str]] = [[] for _ in range(k)]
    for i, fam in enumerate(sorted(counts, key=lambda f: (-counts[f], f))):
        r = i % (2 * k)
        groups[r if r < k else 2 * k - 1 - r].append(fam)
    return groups


def out_of_family_scores(train_ex: list[tr.Example], dev_ex: list[tr.Example], cfg: tr.TrainConfig, k: int = 4,
                         log: Callable[[str], None] = print) -> tuple[np.ndarray, list[tr.Example]]:
    """Side scores of every train and dev example from a model trained without its family's group."""
    scores: list[np.ndarray] = []
    scored: list[tr.Example] = []
    for gi, group in enumerate(family_groups(train_ex + dev_ex, k)):
        held = set(group)
        log(f"out-of-family group {gi + 1}/{k}: {', '.join(sorted(held))}")
        model, _ = tr.train([e for e in train_ex if e.family not in held], [e for e in dev_ex if e.family not in held],
                            cfg, log=lambda m, gi=gi: log(f"[group {gi + 1}] {m}"))
        members = [e for e in train_ex + dev_ex if e.family in held]
        scores.append(tr.side_scores(tr.numpy_model(model), members))
        scored.extend(members)
    return np.concatenate(scores), scored


def out_of_family_thresholds(train_ex: list[tr.Example], dev_ex: list[tr.Example], cfg: tr.TrainConfig,
                             k: int = 4, log: Callable[[str], None] = print) -> dict[str, float]:
    """Per side, the threshold maximising F1 on the pooled out-of-family scores."""
    scores, scored = out_of_family_scores(train_ex, dev_ex, cfg, k, log)
    return tr.calibrate(scores, scored)
