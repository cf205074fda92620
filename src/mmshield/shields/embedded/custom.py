"""Zero-shot scoring of custom dimensions: semantic match of each turn against the definition.

A definition ("Gambling: betting strategies, casinos, online slots...") is split into facets
(the name and each listed phrase); a turn's score is the best cosine similarity between any facet
and the turn's text, OCR text or both joined, mapped to [0, 1] by a fixed logistic curve.
"""

from __future__ import annotations

import re

import numpy as np

from mmshield.shields.embedded.featurize import EMB_DIM
from mmshield.taxonomy import Dimension

CENTER = 0.5
"""Cosine similarity (all-MiniLM-L6-v2) at which a custom-dimension score is 0.5."""
SLOPE = 15.0

_SPLIT = re.compile(r"[:;,.()/]|\band\b|\bor\b|\be\.g\b", re.IGNORECASE)


def facets(dim: Dimension) -> list[str]:
    """The name, the whole definition and each listed phrase of a custom dimension."""
    parts = [dim.name, dim.describe()]
    parts.extend(p.strip() for p in _SPLIT.split(dim.definition) if len(p.strip()) > 2)
    return list(dict.fromkeys(parts))


def turn_views(vector: np.ndarray) -> np.ndarray:
    """The text, OCR and joined embeddings of one turn's feature vector (empty OCR rows dropped)."""
    views = vector[: 3 * EMB_DIM].reshape(3, EMB_DIM)
    return views[np.abs(views).sum(axis=1) > 0]


def score(facet_embeddings: np.ndarray, vector: np.ndarray) -> float:
    """Score in [0, 1] of one turn against one custom dimension's facets."""
    sim = float((turn_views(vector) @ facet_embeddings.T).max())
    return float(1.0 / (1.0 + np.exp(-SLOPE * (sim - CENTER))))
