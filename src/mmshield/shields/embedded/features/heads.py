"""Attention heads over MiniLM's word-piece states: the parts of a text a safety decision should look at.

A sentence embedding is the mean of a text's word-piece states: "kill" weighs the same in "kill a Python
process" as in "kill my neighbour", and a request inside a long template is a small part of the mean. An
attention head is a learned query over the layer-normed word-piece states of a text (every window of a long
one, and its tail): it pools the pieces that matter, each as MiniLM read it in its context. K heads give K
pooled vectors per text. They are fitted on the training split's turns (`heads_training.fit_heads`) together
with a small classifier per role over {safe, dimensions}. The context model reads, beside the mean embedding,
either the pooled vectors themselves or (when the classifier ships too) the classifier's probabilities: a
text-level reading it combines across turns. Both ship inside the weights file (keys `heads.*`).

Pure numpy; a text with no MiniLM word pieces (one read through the cross-lingual path) gets zero vectors.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

EMB_DIM = 384
LN_EPS = 1e-5
PREFIX = "heads."
MEAN_SCALE = 8.0
"""The classifier reads the normalised token mean at about the scale of layer-normed states."""
_FIELDS = ("ln_weight", "ln_bias", "query_weight", "query_bias")
_CLASSIFIER = ("classifier_w1", "classifier_b1", "classifier_w2", "classifier_b2")


@dataclass(frozen=True, eq=False)
class AttentionHeads:
    """K learned attention queries over layer-normed word-piece states (float32 arrays)."""

    ln_weight: np.ndarray  # (384,)
    ln_bias: np.ndarray  # (384,)
    query_weight: np.ndarray  # (K, 384)
    query_bias: np.ndarray  # (K,)
    classifier: tuple[np.ndarray, ...] | None = None
    """Per-role MLP over [pooled vectors, scaled token mean]: w1 (2, H, (K+1)*384), b1 (2, H), w2 (2, L, H),
    b2 (2, L); with it, `read` gives the two roles' probabilities over L labels instead of the pooled vectors."""

    def __post_init__(self) -> None:
        if self.query_weight.ndim != 2 or self.query_weight.shape[1] != EMB_DIM:
            raise ValueError(f"query_weight must be (K, {EMB_DIM}), not {self.query_weight.shape}")
        if self.ln_weight.shape != (EMB_DIM,) or self.ln_bias.shape != (EMB_DIM,):
            raise ValueError(f"layer-norm parameters must be ({EMB_DIM},)")
        if self.query_bias.shape != (self.count,):
            raise ValueError(f"query_bias must be ({self.count},), not {self.query_bias.shape}")

    @property
    def count(self) -> int:
        """Number of heads K."""
        return int(self.query_weight.shape[0])

    @property
    def width(self) -> int:
        """Length of what `read` gives for one text: 2 * L probabilities with a classifier, else K * 384."""
        if self.classifier is not None:
            return 2 * int(self.classifier[3].shape[1])
        return self.count * EMB_DIM

    def normed(self, states: np.ndarray) -> np.ndarray:
        """Layer norm of word-piece states (T, 384), with the learned scale and shift."""
        mu = states.mean(axis=-1, keepdims=True)
        var = states.var(axis=-1, keepdims=True)
        return (states - mu) / np.sqrt(var + LN_EPS) * self.ln_weight + self.ln_bias

    def weights(self, states: np.ndarray) -> np.ndarray:
        """Attention of each head over the word pieces (T, K), each column summing to 1."""
        scores = self.normed(states) @ self.query_weight.T + self.query_bias
        scores = scores - scores.max(axis=0, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=0, keepdims=True)

    def pool(self, states: np.ndarray) -> np.ndarray:
        """The K pooled vectors of one text, flattened (K * 384,); zeros for a text without word pieces."""
        if len(states) == 0:
            return np.zeros(self.width, dtype=np.float32)
        states = np.asarray(states, dtype=np.float32)
        return (self.weights(states).T @ self.normed(states)).reshape(-1).astype(np.float32)

    def probabilities(self, states: np.ndarray) -> np.ndarray:
        """The classifier's probabilities over its labels for the user and the assistant role, flattened (2 * L,);
        zeros for a text without word pieces."""
        assert self.classifier is not None
        w1, b1, w2, b2 = self.classifier
        if len(states) == 0:
            return np.zeros(self.width, dtype=np.float32)
        states = np.asarray(states, dtype=np.float32)
        mean = states.mean(axis=0)
        mean = mean / max(float(np.linalg.norm(mean)), 1e-6) * MEAN_SCALE
        x = np.concatenate([self.pool(states), mean])
        hidden = np.maximum(np.einsum("rhd,d->rh", w1, x) + b1, 0.0)
        logits = np.einsum("rlh,rh->rl", w2, hidden) + b2
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).reshape(-1).astype(np.float32)

    def read(self, states: np.ndarray) -> np.ndarray:
        """What the context model reads of one text: the classifier's probabilities, or the pooled vectors."""
        return self.probabilities(states) if self.classifier is not None else self.pool(states)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays a weights file holds (keys `heads.*`)."""
        out = {f"{PREFIX}{name}": np.asarray(getattr(self, name), dtype=np.float32) for name in _FIELDS}
        if self.classifier is not None:
            out.update({f"{PREFIX}{name}": np.asarray(a, dtype=np.float32) for name, a in zip(_CLASSIFIER, self.classifier)})
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> AttentionHeads | None:
        """The heads stored in a weights file's arrays, or None when it has none."""
        if f"{PREFIX}query_weight" not in arrays:
            return None
        classifier = None
        if f"{PREFIX}{_CLASSIFIER[0]}" in arrays:
            classifier = tuple(np.asarray(arrays[f"{PREFIX}{name}"], dtype=np.float32) for name in _CLASSIFIER)
        return cls(**{name: np.asarray(arrays[f"{PREFIX}{name}"], dtype=np.float32) for name in _FIELDS},
                   classifier=classifier)

    def signature(self) -> str:
        """A short content hash (caches keyed by text must not mix vectors of other heads)."""
        h = hashlib.sha256()
        for arr in self.to_arrays().values():
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()[:12]
