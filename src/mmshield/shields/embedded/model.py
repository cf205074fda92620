"""The context model: a small causal GRU over turn features with a head per side.

Each head gives, per turn, logits over {safe, dimension 1..K}. A side's logits are pooled over its
turns (max for every dimension, min for "safe": one unsafe turn makes the side unsafe), and a softmax
gives a sharp distribution: the probability that the side is unsafe under a policy is the mass of the
dimensions in force, or the whole unsafe mass while its most likely dimension is in force
(`policy_score`), so switching the side's dimension off removes its mass (policy adaptation).

Inference is pure numpy (weights in an .npz file); training lives in `training.py` (torch).
State after turn t depends only on turns <= t, so a conversation can be judged turn by turn with
the same result as judging it whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmshield.shields.embedded.features.heads import PREFIX as HEADS_PREFIX

ROLE_INDEX = {"user": 0, "assistant": 1}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def pool_logits(turn_logits: np.ndarray) -> np.ndarray:
    """Side-level logits from per-turn logits (n, [M,] K+1): min over turns for safe, max for each dimension."""
    out = turn_logits.max(axis=0).copy()
    out[..., 0] = turn_logits[..., 0].min(axis=0)
    return out


def pooled_probs(pooled: np.ndarray, members: int) -> np.ndarray:
    """Class probabilities from pooled logits ([m,] [M,] K+1): softmax, averaged over ensemble members.

    Logits of a single model are (K+1,) per turn; an ensemble's are (M, K+1) and its members are averaged
    after their own softmax, so each member keeps its own sharp policy mass."""
    return ensemble_mean(softmax(pooled), members)


def policy_score(probs: np.ndarray, in_force: np.ndarray) -> np.ndarray:
    """The score a side is judged on under a policy, from class probabilities (..., K+1) and a boolean mask
    over the K dimensions: the mass of the dimensions in force, or the whole unsafe mass when the most
    likely dimension is in force.

    Neighbouring dimensions (a bomb is Violence and Illegal Activities) split the mass of a side that is
    plainly unsafe; a policy that keeps the side's most likely dimension must still flag it, while a policy
    without it is judged on the mass left in force (the policy-adaptation probe). Under the full policy both
    are the whole unsafe mass."""
    dims = np.nan_to_num(probs[..., 1:])
    mass = (dims * in_force).sum(axis=-1)
    top_in_force = in_force[np.argmax(dims, axis=-1)]
    return np.where(top_in_force, dims.sum(axis=-1), mass)


def ensemble_mean(probs: np.ndarray, members: int) -> np.ndarray:
    """Average over the member axis (second to last) when the model is an ensemble."""
    return probs.mean(axis=-2) if members > 1 else probs


@dataclass
class StepOutput:
    """Per-turn outputs: logits over {safe, dimensions} for the turn's role, and the head input."""

    hidden: np.ndarray
    head_input: np.ndarray
    logits: np.ndarray  # (K+1,) index 0 = safe


class ContextModel:
    """Numpy forward pass of the trained model. Weight names mirror the torch module in training.py."""

    def __init__(self, weights: dict[str, np.ndarray], dimensions: list[str]) -> None:
        self.w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        self.dimensions = list(dimensions)
        self.hidden_size = self.w["gru.weight_hh_l0"].shape[1]
        # Pre-transpose for row-vector products.
        self._w_ih = self.w["gru.weight_ih_l0"].T.copy()
        self._w_hh = self.w["gru.weight_hh_l0"].T.copy()

    members = 1

    @classmethod
    def load(cls, path: Path) -> ContextModel | ContextEnsemble:
        """One model, or an ensemble when the file holds members (keys `m0/...`, `m1/...`)."""
        with np.load(path, allow_pickle=False) as z:
            weights = {k: z[k] for k in z.files if not k.startswith(("meta.", HEADS_PREFIX))}
            dims = [str(x) for x in z["meta.dimensions"]]
        prefixes = sorted({k.split("/", 1)[0] for k in weights if "/" in k}, key=lambda p: int(p[1:]))
        if not prefixes:
            return cls(weights, dims)
        return ContextEnsemble([cls({k.split("/", 1)[1]: v for k, v in weights.items() if k.startswith(p + "/")}, dims)
                                for p in prefixes])

    def input_layer(self, x: np.ndarray) -> np.ndarray:
        """Input projection (ReLU), for one turn (d,) or many (n, d)."""
        mu, sd = self.w["norm.mean"], self.w["norm.std"]
        z = ((x - mu) / sd) @ self.w["proj.weight"].T + self.w["proj.bias"]
        return np.maximum(z, 0.0)

    def gru_step(self, z: np.ndarray, h: np.ndarray) -> np.ndarray:
        """One GRU step with torch's gate layout (r, z, n)."""
        hs = self.hidden_size
        gi = z @ self._w_ih + self.w["gru.bias_ih_l0"]
        gh = h @ self._w_hh + self.w["gru.bias_hh_l0"]
        r = _sigmoid(gi[:hs] + gh[:hs])
        u = _sigmoid(gi[hs : 2 * hs] + gh[hs : 2 * hs])
        n = np.tanh(gi[2 * hs :] + r * gh[2 * hs :])
        return (1.0 - u) * n + u * h

    def initial_state(self) -> np.ndarray:
        return np.zeros(self.hidden_size, dtype=np.float32)

    def head(self, head_input: np.ndarray, role: str) -> np.ndarray:
        w = self.w[f"head_{role}.weight"]
        b = self.w[f"head_{role}.bias"]
        return head_input @ w.T + b

    def step(self, x: np.ndarray, h: np.ndarray, role: str) -> StepOutput:
        z = self.input_layer(x)
        h2 = self.gru_step(z, h)
        hi = np.concatenate([h2, z])
        return StepOutput(hidden=h2, head_input=hi, logits=self.head(hi, role))

    def forward(self, xs: np.ndarray, roles: list[str]) -> list[StepOutput]:
        """Run all turns; returns one StepOutput per turn."""
        return run_turns(self, xs, roles)


class ContextEnsemble:
    """Several context models (different seeds) over the same turn features.

    States and logits gain a member axis: hidden (M, H), logits (M, K+1). Side probabilities are the mean of
    the members' softmaxes (`ensemble_mean`). The members share the encoder features, so an ensemble of M
    costs M small GRU steps per turn (well under a millisecond), not M encoder passes."""

    def __init__(self, models: list[ContextModel]) -> None:
        if not models:
            raise ValueError("an ensemble needs at least one model")
        self.models = models
        self.dimensions = models[0].dimensions
        self.members = len(models)

    def initial_state(self) -> np.ndarray:
        return np.stack([m.initial_state() for m in self.models])

    def step(self, x: np.ndarray, h: np.ndarray, role: str) -> StepOutput:
        outs = [m.step(x, h[i], role) for i, m in enumerate(self.models)]
        return StepOutput(hidden=np.stack([o.hidden for o in outs]), head_input=np.stack([o.head_input for o in outs]),
                          logits=np.stack([o.logits for o in outs]))

    def forward(self, xs: np.ndarray, roles: list[str]) -> list[StepOutput]:
        return run_turns(self, xs, roles)


def run_turns(model: ContextModel | ContextEnsemble, xs: np.ndarray, roles: list[str]) -> list[StepOutput]:
    """Step `model` through every turn from its initial state; one StepOutput per turn."""
    h = model.initial_state()
    out: list[StepOutput] = []
    for x, role in zip(xs, roles):
        s = model.step(x, h, role)
        h = s.hidden
        out.append(s)
    return out
