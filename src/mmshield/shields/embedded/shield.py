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
from mmshield.shields.embedded import custom
from mmshield.shields.embedded.features.heads import PREFIX as HEADS_PREFIX
from mmshield.shields.embedded.features.heads import AttentionHeads
from mmshield.shields.embedded.featurize import EMB_DIM, DialogueEncoder, EncoderState, TurnFeatures
from mmshield.shields.embedded.model import ContextModel, StepOutput, policy_score, pool_logits, pooled_probs
from mmshield.shields.embedded.rationale import safe_rationale, unsafe_rationale
from mmshield.shields.embedded.subdimensions import best_subdimension, centroids_path, load_centroids
from mmshield.taxonomy import load_taxonomy
from mmshield.verdict import UNSAFE, Evidence, RoleVerdict, Verdict

DEFAULT_WEIGHTS = "resources/embedded/context_model.npz"


def default_weights_path() -> Path:
    return Path(str(resources.files("mmshield").joinpath(DEFAULT_WEIGHTS)))


def load_heads(path: Path) -> AttentionHeads | None:
    """The text encoder's attention heads stored in a weights file (`features.heads`), or None."""
    with np.load(path, allow_pickle=False) as z:
        return AttentionHeads.from_arrays({k: z[k] for k in z.files if k.startswith(HEADS_PREFIX)})


@dataclass
class _Trace:
    """Everything computed for a dialogue so far (shared by whole-dialogue and incremental modes)."""

    feats: list[TurnFeatures] = field(default_factory=list)
    steps: list[StepOutput] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    hidden: np.ndarray | None = None
    enc_state: EncoderState = field(default_factory=EncoderState)


class EmbeddedShield(BaseShield):
    """The offline CPU shield. Options: `weights` (path), `read_images` (OCR/safety models; default True),
    `correct_spelling` (read typos as the words they stand for; default True, off for a fine-tuned encoder)."""

    name = "embedded"

    def __init__(self, weights: str | Path | None = None, *, read_images: bool = True, correct_spelling: bool = True,
                 text_encoder=None, image_analyzer=None, **_ignored) -> None:
        path = Path(weights) if weights else default_weights_path()
        self.weights_path = path
        if not path.is_file():
            raise FileNotFoundError(f"embedded shield weights not found at {path}; run `mmshield train` to create them")
        self.model = ContextModel.load(path)
        meta_path = path.with_suffix(".json")
        self.meta = json.loads(meta_path.read_text("utf-8")) if meta_path.is_file() else {}
        self.thresholds: dict[str, float] = self.meta.get("thresholds", {"user": 0.5, "assistant": 0.5})
        self.finetuned = bool(self.meta.get("encoder")) and text_encoder is None
        if text_encoder is None:
            from mmshield.shields.embedded.features.text_encoder import TextEncoder, finetuned_assets

            # a fine-tuned encoder's int8 ONNX sits beside its weights (finetune.py); long texts are read the way
            # the weights were trained (weights that do not say: truncated)
            assets = finetuned_assets(path.parent / self.meta["encoder"]) if self.finetuned else None
            # non-English text goes through the cross-lingual path only for weights trained that way
            text_encoder = TextEncoder(assets=assets, long_texts=self.meta.get("long_texts", "truncate"),
                                       multilingual=bool(self.meta.get("multilingual")) and not self.finetuned,
                                       read_hidden=not self.finetuned,
                                       correct_spelling=correct_spelling and not self.finetuned,
                                       heads=load_heads(path))
        self.encoder = DialogueEncoder(text_encoder, image_analyzer, read_images=read_images)
        self._semantic = None
        self._def_cache: dict[str, np.ndarray] = {}
        self._sub_cache: dict[str, tuple[list[str], np.ndarray]] = {}
        # subdimension centroids live in the plain MiniLM space, which a fine-tuned encoder's features are not
        self._centroids = {} if self.finetuned else load_centroids(centroids_path(path))

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

    def semantic_encode(self, texts: list[str]) -> np.ndarray:
        """Plain all-MiniLM-L6-v2 embeddings for meaning matching (custom dimensions, subdimensions).

        A fine-tuned encoder is shaped for the context model, not for similarity to free-text definitions."""
        if not self.finetuned:
            return self.encoder.encode(texts)[:, :EMB_DIM]
        if self._semantic is None:
            from mmshield.shields.embedded.features import TextEncoder

            self._semantic = TextEncoder()
        return np.asarray(self._semantic.encode(texts), dtype=np.float32)

    def _views(self, feat: TurnFeatures) -> np.ndarray:
        """Text, OCR and joined-text embeddings of a turn in the semantic space (as custom.turn_views)."""
        if not self.finetuned:
            return feat.vector[: 3 * EMB_DIM]
        from mmshield.shields.embedded.featurize import EMPTY_TEXT, joint_text

        text = (feat.text or "").strip() or EMPTY_TEXT
        if not feat.ocr_text:
            e = self.semantic_encode([text])[0]
            return np.concatenate([e, np.zeros(EMB_DIM, dtype=np.float32), e])
        # joint_text only reads turn.content
        joint = joint_text(Turn(role=feat.role, content=feat.text), feat.images)
        return self.semantic_encode([text, feat.ocr_text, joint]).reshape(-1)

    def _facets(self, dim) -> np.ndarray:
        """Facet embeddings of a custom dimension (cached by its description)."""
        key = dim.describe()
        if key not in self._def_cache:
            self._def_cache[key] = self.semantic_encode(custom.facets(dim))
        return self._def_cache[key]

    def _side_series(self, trace: _Trace, policy: Policy, role: str, idx: list[int]) -> dict[str, np.ndarray]:
        """Running side-level scores after each of the side's turns (causal): builtin class probabilities
        (softmax of pooled logits, (m, K+1)) and custom-dimension scores (max so far, name -> (m,))."""
        logits = np.stack([trace.steps[i].logits for i in idx])
        running = np.empty_like(logits)
        for j in range(len(idx)):
            running[j] = pool_logits(logits[: j + 1])
        out: dict[str, np.ndarray] = {"__probs__": pooled_probs(running, self.model.members)}
        for d in policy.dimensions:
            if d.is_custom:
                fe = self._facets(d)
                per_turn = np.array([custom.score(fe, self._views(trace.feats[i])) for i in idx], dtype=np.float32)
                out[d.name] = np.maximum.accumulate(per_turn)
        return out

    def _side_threshold(self, policy: Policy, role: str) -> float:
        return policy.threshold("", calibrated=self.thresholds.get(role, 0.5))

    def _verdict(self, trace: _Trace, policy: Policy, id: str) -> Verdict:
        roles = [f.role for f in trace.feats]
        sides = {}
        for role in ("user", "assistant"):
            idx = [i for i, r in enumerate(roles) if r == role]
            sides[role] = self._side(trace, policy, role, idx) if idx else RoleVerdict.absent()
        return Verdict(user=sides["user"], assistant=sides["assistant"], backend=self.name, id=id,
                       policy=policy.to_list())

    def _side(self, trace: _Trace, policy: Policy, role: str, idx: list[int]) -> RoleVerdict:
        series = self._side_series(trace, policy, role, idx)
        probs = series["__probs__"]  # (m, K+1)
        builtin = [d.name for d in load_taxonomy()]
        col = {n: j + 1 for j, n in enumerate(builtin)}
        in_force = [d for d in policy.dimensions if not d.is_custom]
        overridden = [d.name for d in in_force if d.name in policy.thresholds]
        pooled = [d.name for d in in_force if d.name not in policy.thresholds]
        side_th = self._side_threshold(policy, role)
        # running decision quantities per candidate: (series over the side's turns, threshold)
        cands: dict[str, tuple[np.ndarray, float]] = {}
        # the pooled dimensions are judged together: their mass, or the whole unsafe mass while the side's most
        # likely dimension is one of them (model.policy_score)
        pooled_score = policy_score(probs, np.array([n in pooled for n in builtin])) if pooled else np.zeros(len(idx))
        for n in overridden:
            cands[n] = (probs[:, col[n]], policy.threshold(n))
        for d in policy.dimensions:
            if d.is_custom:
                cands[d.name] = (series[d.name], policy.threshold(d.name, calibrated=0.5))
        final = {n: float(probs[-1, col[n]]) for n in builtin if n in policy}
        final.update({n: float(v[-1]) for n, (v, _) in cands.items() if n not in final})
        scores = {d.name: round(final[d.name], 4) for d in policy.dimensions}
        flagged: dict[str, float] = {n: float(v[-1]) for n, (v, t) in cands.items() if v[-1] >= t}
        if pooled and pooled_score[-1] >= side_th:
            top = max(pooled, key=lambda n: final[n])
            flagged[top] = max(flagged.get(top, 0.0), final[top])
            cands[top] = (pooled_score, side_th)
        if not flagged:
            top = max(scores, key=scores.get)
            out_pol = [(n, float(probs[-1, col[n]])) for n in builtin
                       if n not in policy and probs[-1, col[n]] >= side_th]
            if top in pooled:  # judged with the other pooled dimensions on their mass
                rationale = safe_rationale(role, top, scores[top], side_th, out_pol, float(pooled_score[-1]))
            else:
                rationale = safe_rationale(role, top, scores[top], cands.get(top, (None, side_th))[1], out_pol)
            return RoleVerdict.safe(rationale, scores)
        dim = max(flagged, key=flagged.get)
        run, th = cands[dim]
        crossing_j = int(np.argmax(run >= th))
        per_turn = np.zeros(len(trace.steps), dtype=np.float32)
        per_turn[idx] = run
        evidence = self._evidence(trace, dim, role, idx, per_turn, idx[crossing_j], th)
        sub = self._subdimension(dim, trace.feats[idx[crossing_j]])
        text = unsafe_rationale(role, dim, sub, float(run[-1]), th, evidence, idx[crossing_j], len(idx))
        return RoleVerdict(rating=UNSAFE, dimension=dim, rationale=text, scores=scores, evidence=evidence, subdimension=sub)

    def _evidence(self, trace: _Trace, dim: str, role: str, idx: list[int],
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
            for reading in self._hidden_readings(f.text):
                ev.append(Evidence(turn=i, role=f.role, weight=round(float(per_turn[i]), 4), text=reading[:500],
                                   kind="decoded"))
            if f.images.per_image_text and i <= crossing:
                for k, txt in enumerate(f.images.per_image_text):
                    if txt.strip() or f.images.sexual > 0.5 or f.images.gore > 0.5:
                        ev.append(Evidence(turn=i, role=f.role, weight=round(float(per_turn[i]), 4),
                                           image=image_base[i] + k, text=txt[:300], kind="image"))
        ev.append(Evidence(turn=crossing, role=role, weight=round(float(per_turn[crossing]), 4), kind="threshold",
                           text=f"risk crossed {th:.2f} here"))
        return ev

    def _hidden_readings(self, text: str) -> list[str]:
        """The decoded or plainly spelled text the encoder read in a turn (encodings, leetspeak), if any."""
        readings = getattr(self.encoder.text_encoder, "hidden_readings", None)
        return readings(text) if readings is not None and text else []

    def _subdimension(self, dim: str, feat: TurnFeatures) -> str | None:
        d = next((x for x in load_taxonomy() if x.name == dim), None)
        if d is None or not d.subdimensions:
            return None
        if dim not in self._sub_cache:
            names = [s.name for s in d.subdimensions]
            self._sub_cache[dim] = (names, self.semantic_encode([f"{s.name}: {s.description}" for s in d.subdimensions]))
        names, emb = self._sub_cache[dim]
        joint = self._views(feat)[2 * EMB_DIM : 3 * EMB_DIM]  # embedding of the turn text joined with its OCR text
        return best_subdimension(names, emb, joint, self._centroids.get(dim))


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
