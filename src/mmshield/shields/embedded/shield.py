"""EmbeddedShield: the offline CPU default backend.

Text embeddings (all-MiniLM-L6-v2, ONNX) of each turn, of the OCR text of its images and of both
joined, plus image-safety scores, feed a small causal GRU with per-dimension heads per side.
Only dimensions in force can make a side Unsafe; custom dimensions are scored zero-shot against
their definition's embedding. Evidence and rationale come from per-turn scores and image ablation.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from mmshield.dialogue import Dialogue, Turn
from mmshield.errors import InputError
from mmshield.policy import Policy
from mmshield.shields.base import BaseShield
from mmshield.shields.embedded.featurize import EMB_DIM, DialogueEncoder, EncoderState, TurnFeatures
from mmshield.shields.embedded.model import ContextModel, StepOutput
from mmshield.shields.embedded.rationale import safe_rationale, unsafe_rationale
from mmshield.taxonomy import load_taxonomy
from mmshield.verdict import UNSAFE, Evidence, RoleVerdict, Verdict

DEFAULT_WEIGHTS = "resources/embedded/context_model.npz"


def default_weights_path() -> Path:
    return Path(str(resources.files("mmshield").joinpath(DEFAULT_WEIGHTS)))


@dataclass
class _Trace:
    """Everything computed for a dialogue so far (shared by whole-dialogue and incremental modes)."""

    feats: list[TurnFeatures] = field(default_factory=list)
    steps: list[StepOutput] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    hidden: np.ndarray | None = None
    enc_state: EncoderState = field(default_factory=EncoderState)


class EmbeddedShield(BaseShield):
    """The offline CPU shield. Options: `weights` (path), `read_images` (OCR/safety models; default True)."""

    name = "embedded"

    def __init__(self, weights: str | Path | None = None, *, read_images: bool = True,
                 text_encoder=None, image_analyzer=None, **_ignored) -> None:
        path = Path(weights) if weights else default_weights_path()
        if not path.is_file():
            raise FileNotFoundError(f"embedded shield weights not found at {path}; run `mmshield train` to create them")
        self.model = ContextModel.load(path)
        meta_path = path.with_suffix(".json")
        self.meta = json.loads(meta_path.read_text("utf-8")) if meta_path.is_file() else {}
        self.thresholds: dict[str, float] = self.meta.get("thresholds", {"user": 0.5, "assistant": 0.5})
        self.custom_threshold: dict[str, float] = self.meta.get("custom_thresholds", self.thresholds)
        self.encoder = DialogueEncoder(text_encoder, image_analyzer, read_images=read_images)
        self._def_cache: dict[str, np.ndarray] = {}
        self._sub_cache: dict[str, tuple[list[str], np.ndarray]] = {}

    # ------------------------------------------------------------------ public API

    def moderate(self, dialogue: Dialogue, policy: Policy | None = None) -> Verdict:
        t0 = time.perf_counter()
        policy = policy or Policy.default()
        if not dialogue.turns:
            raise InputError("dialogue has no turns", record=dialogue.id or None, field="conversations")
        trace = _Trace()
        feats = self.encoder.turns(dialogue)
        self._extend(trace, dialogue.turns, feats)
        v = self._verdict(trace, policy, dialogue.id)
        v.latency_ms = (time.perf_counter() - t0) * 1000
        return v

    def session(self, policy: Policy | None = None, id: str = "") -> ShieldSession:
        """Turn-by-turn moderation: each `add` costs about one turn of work."""
        return ShieldSession(self, policy or Policy.default(), id)

    # ------------------------------------------------------------------ internals

    def _extend(self, trace: _Trace, turns: list[Turn], feats: list[TurnFeatures]) -> None:
        h = trace.hidden if trace.hidden is not None else self.model.initial_state()
        for t, f in zip(turns, feats):
            s = self.model.step(f.vector, h, f.role)
            h = s.hidden
            trace.steps.append(s)
            trace.feats.append(f)
            trace.turns.append(t)
        trace.hidden = h

    def _definitions(self, policy: Policy) -> np.ndarray:
        customs = [d for d in policy.dimensions if d.is_custom]
        if not customs:
            return np.zeros((0, EMB_DIM), dtype=np.float32)
        missing = [d.describe() for d in customs if d.describe() not in self._def_cache]
        if missing:
            for text, e in zip(missing, self.encoder.encode(missing)):
                self._def_cache[text] = e
        return np.stack([self._def_cache[d.describe()] for d in customs])

    def _turn_scores(self, trace: _Trace, policy: Policy) -> dict[str, np.ndarray]:
        """Per-turn probability of every dimension in force for the turn's own role: name -> (n,)."""
        names = [d.name for d in load_taxonomy()]
        defs = self._definitions(policy)
        customs = [d.name for d in policy.dimensions if d.is_custom]
        out: dict[str, np.ndarray] = {}
        n = len(trace.steps)
        for dim in policy.dimensions:
            out[dim.name] = np.zeros(n, dtype=np.float32)
        all_builtin = {nm: np.zeros(n, dtype=np.float32) for nm in names}
        for t, (s, f) in enumerate(zip(trace.steps, trace.feats)):
            for j, nm in enumerate(names):
                all_builtin[nm][t] = s.probs[j]
            if customs:
                cs = self.model.custom_scores(s.head_input, f.role, defs)
                for nm, v in zip(customs, cs):
                    out[nm][t] = v
        for nm in names:
            if nm in out:
                out[nm] = all_builtin[nm]
        out["__all_builtin__"] = np.stack([all_builtin[nm] for nm in names])  # (8, n)
        return out

    def _threshold(self, policy: Policy, dim_name: str, role: str, custom: bool) -> float:
        base = (self.custom_threshold if custom else self.thresholds).get(role, 0.5)
        return policy.threshold(dim_name, calibrated=base)

    def _verdict(self, trace: _Trace, policy: Policy, id: str) -> Verdict:
        scores = self._turn_scores(trace, policy)
        roles = [f.role for f in trace.feats]
        sides = {}
        for role in ("user", "assistant"):
            idx = [i for i, r in enumerate(roles) if r == role]
            if not idx:
                sides[role] = RoleVerdict.absent()
                continue
            sides[role] = self._side(trace, policy, scores, role, idx)
        return Verdict(user=sides["user"], assistant=sides["assistant"], backend=self.name, id=id,
                       policy=policy.to_list())

    def _side(self, trace: _Trace, policy: Policy, scores: dict[str, np.ndarray], role: str, idx: list[int]) -> RoleVerdict:
        side_scores = {d.name: float(scores[d.name][idx].max()) for d in policy.dimensions}
        ths = {d.name: self._threshold(policy, d.name, role, d.is_custom) for d in policy.dimensions}
        over = {n: s for n, s in side_scores.items() if s >= ths[n]}
        rounded = {n: round(s, 4) for n, s in side_scores.items()}
        if not over:
            top = max(side_scores, key=side_scores.get)
            all_b = scores["__all_builtin__"][:, idx].max(axis=1)
            out_pol = [(d.name, float(all_b[j])) for j, d in enumerate(load_taxonomy())
                       if d.name not in policy and all_b[j] >= self.thresholds.get(role, 0.5)]
            rv = RoleVerdict.safe(safe_rationale(role, top, side_scores[top], ths[top], out_pol), rounded)
            return rv
        dim = max(over, key=lambda n: over[n] - ths[n] + over[n])
        per_turn = scores[dim]
        crossing = next(i for i in idx if per_turn[i] >= ths[dim])
        evidence = self._evidence(trace, policy, dim, role, idx, per_turn, crossing, ths[dim])
        sub = self._subdimension(dim, trace.feats[crossing])
        text = unsafe_rationale(role, dim, sub, side_scores[dim], ths[dim], evidence, crossing, len(idx))
        return RoleVerdict(rating=UNSAFE, dimension=dim, rationale=text, scores=rounded, evidence=evidence, subdimension=sub)

    def _evidence(self, trace: _Trace, policy: Policy, dim: str, role: str, idx: list[int],
                  per_turn: np.ndarray, crossing: int, th: float) -> list[Evidence]:
        ev: list[Evidence] = []
        prev = 0.0
        contrib: list[tuple[float, int]] = []
        for i in idx:
            contrib.append((float(per_turn[i]) - prev if i <= crossing else 0.0, i))
            prev = max(prev, float(per_turn[i]))
        chosen = {crossing}
        chosen.update(i for d, i in sorted(contrib, reverse=True)[:2] if d > 0.1 and i < crossing)
        if role == "assistant":  # the request answered by the decisive reply
            req = [i for i in range(crossing) if trace.feats[i].role == "user"]
            if req:
                chosen.add(req[-1])
        image_base = [0]
        for t in trace.turns[:-1]:
            image_base.append(image_base[-1] + len(t.images))
        for i in sorted(chosen):
            f = trace.feats[i]
            ev.append(Evidence(turn=i, role=f.role, weight=round(float(per_turn[i]), 4), text=f.text[:500],
                               kind="turn"))
            if f.images.per_image_text and i <= crossing:
                for k, txt in enumerate(f.images.per_image_text):
                    if txt.strip() or f.images.sexual > 0.5 or f.images.gore > 0.5:
                        ev.append(Evidence(turn=i, role=f.role, weight=round(float(per_turn[i]), 4),
                                           image=image_base[i] + k, text=txt[:300], kind="image"))
        ev.append(Evidence(turn=crossing, role=role, weight=round(float(per_turn[crossing]), 4), kind="threshold",
                           text=f"risk crossed {th:.2f} here"))
        return ev

    def _subdimension(self, dim: str, feat: TurnFeatures) -> str | None:
        d = next((x for x in load_taxonomy() if x.name == dim), None)
        if d is None or not d.subdimensions:
            return None
        if dim not in self._sub_cache:
            names = [s.name for s in d.subdimensions]
            self._sub_cache[dim] = (names, self.encoder.encode([f"{s.name}: {s.description}" for s in d.subdimensions]))
        names, emb = self._sub_cache[dim]
        q = feat.text + (" " + feat.ocr_text if feat.ocr_text else "")
        e = self.encoder.encode([q.strip() or "(no text)"])[0]
        return names[int(np.argmax(emb @ e))]


class ShieldSession:
    """Incremental moderation of one conversation under one policy."""

    def __init__(self, shield: EmbeddedShield, policy: Policy, id: str = "") -> None:
        self.shield = shield
        self.policy = policy
        self.id = id
        self._trace = _Trace()

    def add(self, turn: Turn) -> Verdict:
        """Add one turn and return the verdict on the conversation so far."""
        t0 = time.perf_counter()
        if turn.role not in ("user", "assistant"):
            raise InputError(f"unknown role {turn.role!r}", record=self.id or None, turn=len(self._trace.turns), field="role")
        f = self.shield.encoder.step(turn, self._trace.enc_state)
        self.shield._extend(self._trace, [turn], [f])
        v = self.shield._verdict(self._trace, self.policy, self.id)
        v.latency_ms = (time.perf_counter() - t0) * 1000
        return v

    @property
    def n_turns(self) -> int:
        return len(self._trace.turns)
