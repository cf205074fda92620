"""Training of the context model (torch, dev extra) and export to the numpy weights file.

Reproduce the shipped weights with `mmshield train --data build/mmds-open` (see `mmshield train -h`).
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmshield.dialogue import Dialogue, from_mmds
from mmshield.shields.embedded.features.heads import AttentionHeads
from mmshield.shields.embedded.featurize import INPUT_DIM, DialogueEncoder
from mmshield.shields.embedded.model import ContextModel, policy_score, pool_logits, pooled_probs
from mmshield.taxonomy import DIMENSION_NAMES

SIDES = ("user", "assistant")


# --------------------------------------------------------------------------- examples


@dataclass
class Example:
    """One training dialogue as arrays: inputs, roles and masked per-dimension targets per side."""

    id: str
    x: np.ndarray  # (n, INPUT_DIM)
    roles: np.ndarray  # (n,) 0 user, 1 assistant
    target: np.ndarray  # (2, K) side-level target per dimension
    mask: np.ndarray  # (2, K) 1 where the target is known (dimension in force, side present)
    prefix_safe: np.ndarray  # (n,) 1 for turns known to come before any risk on their side
    family: str = ""
    record: dict | None = None
    pattern: str = ""
    """The record's `pattern` (single_turn, hard_negative, ...), for sampling weights."""
    slots: np.ndarray | None = None
    """(n, 4) indices of each turn's texts (text, OCR, joint, previous turn of the other role; -1 when absent) in
    the features cache's text index (`slot_texts.json`), for the attention heads (`heads_training`)."""


def side_targets(rec: dict) -> tuple[np.ndarray, np.ndarray]:
    """Targets under the record's policy: the violated dimension 1, other dimensions in force 0."""
    k = len(DIMENSION_NAMES)
    target = np.zeros((2, k), dtype=np.float32)
    mask = np.zeros((2, k), dtype=np.float32)
    policy = rec.get("usage_policy") or list(DIMENSION_NAMES)
    in_force = [DIMENSION_NAMES.index(p) for p in policy if p in DIMENSION_NAMES]
    for s, side in enumerate(SIDES):
        rating = rec.get(f"{side}_rating")
        if rating not in ("Safe", "Unsafe"):
            continue
        mask[s, in_force] = 1.0
        if rating == "Unsafe":
            dim = rec.get(f"{side}_dimension")
            if dim in DIMENSION_NAMES:
                target[s, DIMENSION_NAMES.index(dim)] = 1.0
                mask[s, DIMENSION_NAMES.index(dim)] = 1.0
            else:  # unsafe without a usable dimension: only "some dimension" is known
                mask[s] = 0.0
    return target, mask


def prefix_safe_turns(rec: dict, roles: list[str]) -> np.ndarray:
    """Turns of a side that come before the first turn marked as carrying that side's risk."""
    out = np.zeros(len(roles), dtype=np.float32)
    risk = rec.get("risk") or {}
    # conversation indices include a possible system turn; map to dialogue turn indices
    conv_roles = [t.get("role") for t in rec.get("conversations", [])]
    conv_to_turn: dict[int, int] = {}
    j = 0
    for i, r in enumerate(conv_roles):
        if r in SIDES:
            conv_to_turn[i] = j
            j += 1
    for side, key in (("user", "user_turns"), ("assistant", "assistant_turns")):
        if rec.get(f"{side}_rating") != "Unsafe":
            continue
        marks = [conv_to_turn[i] for i in risk.get(key) or [] if i in conv_to_turn]
        if not marks:
            continue
        first = min(marks)
        for t, r in enumerate(roles):
            if r == side and t < first:
                out[t] = 1.0
    return out


def claim_features_cache(folder: Path, encoder_signature: str) -> bool:
    """Make `folder` a features cache for this encoder and feature layout; True when what it held was made
    differently (or it is new) and must be rebuilt: its text table and featurized splits are removed."""
    sig = {"encoder": encoder_signature, "input_dim": INPUT_DIM, "layout": "slots"}
    marker = folder / "signature.json"
    try:
        current = json.loads(marker.read_text("utf-8"))
    except (OSError, ValueError):
        current = None
    if current == sig:
        return False
    for stale in [*folder.glob("text_table*"), *folder.glob("*.npz"), *folder.glob(SLOT_TEXTS)]:
        stale.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(sig) + "\n", encoding="utf-8")
    return True


class TableEncoder:
    """A text encoder over a precomputed table (training): missing texts are encoded in batches."""

    def __init__(self, base, batch_size: int = 128, path: Path | None = None) -> None:
        self.base = base
        self.table: dict[str, np.ndarray] = {}
        self.batch_size = batch_size
        self.path = path
        if path is not None and path.is_file() and path.with_suffix(".texts.json").is_file():
            texts = json.loads(path.with_suffix(".texts.json").read_text("utf-8"))
            emb = np.load(path, allow_pickle=False)
            self.table = dict(zip(texts, emb.astype(np.float32)))

    def save(self) -> None:
        """Persist the table (texts and float16 embeddings) so later runs skip the encoder."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        texts = list(self.table)
        tmp = self.path.with_suffix(".tmp.npy")
        np.save(tmp, np.stack([self.table[t] for t in texts]).astype(np.float16))
        tmp.replace(self.path)
        tj = self.path.with_suffix(".tmp.json")
        tj.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        tj.replace(self.path.with_suffix(".texts.json"))

    def prefill(self, texts: Iterable[str], progress: Callable[[int, int], None] | None = None) -> None:
        todo = [t for t in dict.fromkeys(texts) if t not in self.table]
        todo.sort(key=len)
        for i in range(0, len(todo), self.batch_size):
            chunk = todo[i : i + self.batch_size]
            for t, e in zip(chunk, self.base.encode(chunk)):
                self.table[t] = np.asarray(e, dtype=np.float32)
            if progress:
                progress(min(i + self.batch_size, len(todo)), len(todo))

    def encode(self, texts: list[str]) -> np.ndarray:
        self.prefill(texts)
        return np.stack([self.table[t] for t in texts])


class NotCached(Exception):
    """An image whose features are not in the disk cache (cache-only featurization)."""


class CacheOnlyAnalyzer:
    """Image analyzer that only reads the disk cache (filled by benchmarks/precompute_image_features.py)."""

    def __init__(self, base) -> None:
        self.base = base

    def analyze(self, ref):
        key = f"{ref.sha256}|{self.base.signature()}"
        store = self.base.store()
        cached = store.get(key) if store is not None else None
        if cached is None:
            raise NotCached(ref.source)
        from mmshield.shields.embedded.features import ImageFeatures

        return ImageFeatures.from_dict(cached)


def load_records(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def featurize(records: list[dict], base_dir: Path, encoder: DialogueEncoder, *, desc: str = "",
              index: dict[str, int] | None = None) -> list[Example]:
    """Featurize MMDS records (images read once, texts encoded in large batches). With `index` (text -> position,
    extended with new texts), each example also records its turns' text slots (`Example.slots`)."""
    from mmshield.shields.embedded.featurize import EMPTY_TEXT, joint_text, turn_inputs

    dialogues: list[Dialogue] = [from_mmds(r, base_dir) for r in records]
    t0 = time.time()
    # 1) images (OCR + safety), cached by the analyzer; with a cache-only analyzer, dialogues whose
    #    images are not cached yet are skipped (reported)
    n_img = sum(len(t.images) for d in dialogues for t in d.turns)
    done = skipped = 0
    turn_images = []
    kept_records, kept_dialogues = [], []
    for rec, d in zip(records, dialogues):
        try:
            per = [encoder.read_turn_images(t) for t in d.turns]
        except NotCached:
            skipped += 1
            continue
        done += len(d.images)
        turn_images.append(per)
        kept_records.append(rec)
        kept_dialogues.append(d)
        if n_img and done and (done % 200 < len(d.images) or done == n_img):
            print(f"\r[{desc}] images {done}/{n_img} ({time.time() - t0:.0f}s)", end="", file=sys.stderr)
    if skipped:
        print(f"\n[{desc}] skipped {skipped} dialogues whose images are not in the feature cache", file=sys.stderr)
    records, dialogues = kept_records, kept_dialogues
    # 2) texts
    texts: list[str] = []
    for d, per in zip(dialogues, turn_images):
        for t, im in zip(d.turns, per):
            texts.append((t.content or "").strip() or EMPTY_TEXT)
            if im.ocr_text:
                texts.extend([im.ocr_text, joint_text(t, im)])
    te = encoder.text_encoder
    if isinstance(te, TableEncoder):
        te.prefill(texts, lambda a, b: print(f"\r[{desc}] texts {a}/{b} ({time.time() - t0:.0f}s)", end="", file=sys.stderr))
    print(file=sys.stderr)
    # 3) assemble
    out: list[Example] = []
    for rec, d, per in zip(records, dialogues, turn_images):
        feats = encoder.turns(d, per)
        roles = [f.role for f in feats]
        slots = None if index is None else text_slots(turn_inputs(d.turns, per), index)
        target, mask = side_targets(rec)
        out.append(
            Example(
                id=str(rec.get("id")),
                x=np.stack([f.vector for f in feats]),
                roles=np.array([0 if r == "user" else 1 for r in roles], dtype=np.int64),
                target=target,
                mask=mask,
                prefix_safe=prefix_safe_turns(rec, roles),
                family=str(rec.get("source_family", "")),
                record=rec,
                pattern=str(rec.get("pattern", "")),
                slots=slots,
            )
        )
    return out


SLOT_TEXTS = "slot_texts.json"


def read_slot_texts(features_cache: Path) -> list[str]:
    """The texts the cached examples' slots point at (empty for a new cache)."""
    path = features_cache / SLOT_TEXTS
    return json.loads(path.read_text("utf-8")) if path.is_file() else []


def write_slot_texts(features_cache: Path, texts: list[str]) -> None:
    tmp = features_cache / (SLOT_TEXTS + ".tmp")
    tmp.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    tmp.replace(features_cache / SLOT_TEXTS)


def text_slots(inputs, index: dict[str, int]) -> np.ndarray:
    """(n, 4) positions in `index` (extended as needed) of each turn's text, OCR, joint and previous-turn texts
    (`featurize.TurnInputs`); -1 where a slot is absent."""

    def pos(text: str | None) -> int:
        if not text:
            return -1
        return index.setdefault(text, len(index))

    return np.asarray([[pos(t.text), pos(t.ocr), pos(t.joint), pos(t.prev)] for t in inputs],
                      dtype=np.int32).reshape(-1, 4)


@dataclass
class PairExample:
    """A preference pair as two featurized dialogues sharing a prefix: the same turns answered by the chosen
    reply and by the rejected (more harmful) one."""

    chosen: Example
    rejected: Example


def featurize_pairs(pairs: list[dict], encoder: DialogueEncoder, *, desc: str = "",
                    index: dict[str, int] | None = None) -> list[PairExample]:
    """Featurize preference pairs (`mmshield.data.preference` records); they hold no images."""
    from mmshield.data.preference import pair_records

    both = [pair_records(p) for p in pairs]
    chosen = featurize([c for c, _ in both], Path("."), encoder, desc=f"{desc} chosen", index=index)
    rejected = featurize([r for _, r in both], Path("."), encoder, desc=f"{desc} rejected", index=index)
    return [PairExample(c, r) for c, r in zip(chosen, rejected)]


def save_pair_examples(path: Path, pairs: list[PairExample]) -> None:
    """Cache featurized pairs as two example files, `<path>-chosen.npz` and `<path>-rejected.npz`."""
    for which in ("chosen", "rejected"):
        save_examples(path.with_name(f"{path.name}-{which}.npz"), [getattr(p, which) for p in pairs])


def load_pair_examples(path: Path) -> list[PairExample]:
    """Featurized pairs cached by `save_pair_examples` under the same `path`."""
    chosen, rejected = (load_examples(path.with_name(f"{path.name}-{w}.npz")) for w in ("chosen", "rejected"))
    return [PairExample(c, r) for c, r in zip(chosen, rejected)]


def pair_cache_files(features_cache: Path, split: str) -> tuple[Path, list[Path]]:
    """Where a features cache keeps one split's featurized pairs: the `save_pair_examples` path and its two files."""
    base = features_cache / f"pairs-{split}"
    return base, [base.with_name(f"{base.name}-{w}.npz") for w in ("chosen", "rejected")]


def load_cached_pairs(features_cache: Path) -> dict[str, list[PairExample]]:
    """The featurized pairs of every split in a features cache (`mmshield train --preference-weight` writes them);
    empty for a split not cached."""
    out: dict[str, list[PairExample]] = {}
    for split in ("train", "dev", "test"):
        base, files = pair_cache_files(features_cache, split)
        out[split] = load_pair_examples(base) if all(f.is_file() for f in files) else []
    return out


def save_examples(path: Path, examples: list[Example]) -> None:
    """Cache featurized examples (npz) so retraining does not recompute features."""
    lengths = np.array([len(e.x) for e in examples])
    np.savez_compressed(
        path,
        x=np.concatenate([e.x for e in examples]).astype(np.float16),
        roles=np.concatenate([e.roles for e in examples]),
        prefix=np.concatenate([e.prefix_safe for e in examples]),
        lengths=lengths,
        target=np.stack([e.target for e in examples]),
        mask=np.stack([e.mask for e in examples]),
        ids=np.array([e.id for e in examples]),
        families=np.array([e.family for e in examples]),
        patterns=np.array([e.pattern for e in examples]),
        **({"slots": np.concatenate([e.slots for e in examples])} if all(e.slots is not None for e in examples) else {}),
    )


def at_cache_precision(examples: list[Example]) -> list[Example]:
    """Round each example's inputs as the features cache stores them (float16), in place.

    Training on freshly featurized dialogues must give the model that a rerun gets from the cache: without this
    the first `mmshield train` of a build (float32 inputs) and every later one (float16 inputs from the cache)
    train different weights from the same command and seed."""
    for e in examples:
        e.x = e.x.astype(np.float16).astype(np.float32)
    return examples


def load_examples(path: Path) -> list[Example]:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}  # decompress each array once
    x = arrays["x"].astype(np.float32)
    patterns = arrays.get("patterns", np.full(len(arrays["lengths"]), ""))  # older caches have none
    slots = arrays.get("slots")
    out: list[Example] = []
    off = 0
    for i, n in enumerate(arrays["lengths"]):
        out.append(
            Example(
                id=str(arrays["ids"][i]),
                x=x[off : off + n],
                roles=arrays["roles"][off : off + n],
                target=arrays["target"][i],
                mask=arrays["mask"][i],
                prefix_safe=arrays["prefix"][off : off + n],
                family=str(arrays["families"][i]),
                pattern=str(patterns[i]),
                slots=None if slots is None else slots[off : off + n],
            )
        )
        off += n
    return out


# --------------------------------------------------------------------------- torch model


def build_torch_model(hidden: int = 128, proj: int = 192, dropout: float = 0.25, input_dim: int = INPUT_DIM,
                      heads_rank: int = 0):
    """The context model (torch). With `input_dim` beyond INPUT_DIM (attention heads' pooled vectors after the base
    features) and `heads_rank` > 0, the input projection of the heads' part is factored through `heads_rank`
    dimensions while training (fewer free parameters on 4 * K * 384 inputs); it is exported as one matrix, so
    inference does not change."""
    import torch
    from torch import nn

    k = len(DIMENSION_NAMES)
    extra = input_dim - INPUT_DIM
    low_rank = heads_rank > 0 and extra > 0

    class TorchContextModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("norm_mean", torch.zeros(input_dim))
            self.register_buffer("norm_std", torch.ones(input_dim))
            self.proj = nn.Linear(INPUT_DIM if low_rank else input_dim, proj)
            if low_rank:
                self.heads_down = nn.Linear(extra, heads_rank, bias=False)
                self.heads_up = nn.Linear(heads_rank, proj, bias=False)
            self.drop_in = nn.Dropout(dropout)
            self.drop = nn.Dropout(dropout)
            self.gru = nn.GRU(proj, hidden, batch_first=True)
            self.head_user = nn.Linear(hidden + proj, k + 1)  # 0 = safe, 1..K = dimensions
            self.head_assistant = nn.Linear(hidden + proj, k + 1)

        def forward(self, x):  # x: (B, n, D) -> head input (B, n, H+P)
            x = self.drop_in((x - self.norm_mean) / self.norm_std)
            if low_rank:
                z = torch.relu(self.proj(x[..., :INPUT_DIM]) + self.heads_up(self.heads_down(x[..., INPUT_DIM:])))
            else:
                z = torch.relu(self.proj(x))
            h, _ = self.gru(self.drop(z))
            return torch.cat([h, z], dim=-1)

    return TorchContextModel()


def export_weights(model, path: Path, meta: dict, heads: AttentionHeads | None = None) -> None:
    """Write the numpy weights file read by ContextModel.load (float32 npz); a list of models makes an
    ensemble file (members under `m0/`, `m1/`, ...). `heads`: the attention heads the features were made with
    (keys `heads.*`, read by the shield's text encoder)."""
    models = model if isinstance(model, list) else [model]
    arrays: dict[str, np.ndarray] = heads.to_arrays() if heads is not None else {}
    for i, m in enumerate(models):
        w = _numpy_weights(m)
        arrays.update(w if len(models) == 1 else {f"m{i}/{k}": v for k, v in w.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays, **{"meta.dimensions": np.array(DIMENSION_NAMES)})
    tmp.replace(path)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def numpy_model(model):
    """The numpy ContextModel of a trained torch model (what export_weights + ContextModel.load give, in memory)."""
    return ContextModel(_numpy_weights(model), list(DIMENSION_NAMES))


def _numpy_weights(model) -> dict[str, np.ndarray]:
    sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    proj = sd["proj.weight"]
    if "heads_down.weight" in sd:  # the factored heads' part, as one matrix
        proj = np.concatenate([proj, sd["heads_up.weight"] @ sd["heads_down.weight"]], axis=1)
    return {
        "norm.mean": sd["norm_mean"],
        "norm.std": sd["norm_std"],
        "proj.weight": proj,
        "proj.bias": sd["proj.bias"],
        "gru.weight_ih_l0": sd["gru.weight_ih_l0"],
        "gru.weight_hh_l0": sd["gru.weight_hh_l0"],
        "gru.bias_ih_l0": sd["gru.bias_ih_l0"],
        "gru.bias_hh_l0": sd["gru.bias_hh_l0"],
        "head_user.weight": sd["head_user.weight"],
        "head_user.bias": sd["head_user.bias"],
        "head_assistant.weight": sd["head_assistant.weight"],
        "head_assistant.bias": sd["head_assistant.bias"],
    }


@dataclass
class TrainConfig:
    epochs: int = 8
    batch_size: int = 64
    lr: float = 5e-4
    weight_decay: float = 1e-4
    hidden: int = 128
    proj: int = 192
    dropout: float = 0.4
    prefix_weight: float = 0.5
    policy_drop_weight: float = 0.0
    policy_drop_sides: str = "both"
    """Which sides the policy-drop term applies to: "both", "user" or "assistant"."""
    family_balance: float = 0.0
    hard_negative_weight: float = 1.0
    """Each epoch draws `hard_negative` dialogues (benign look-alikes) this many times as often as the rest."""
    preference_weight: float = 0.0
    """Weight of the ranking term on preference pairs (`preference_loss`); 0 leaves it out."""
    preference_batch: int = 8
    """Pairs drawn beside every batch of dialogues (about one pass over 1,800 pairs per epoch)."""
    preference_head_only: bool = False
    """The preference term trains the assistant head only, not the layers both sides share."""
    heads_rank: int = 0
    """With attention heads' features: rank of their input projection while training (0: full)."""
    erase_family_rank: int = 0
    """Project this many directions of source-family style out of the text slots (`family_erasure`), fitted on the
    training dialogues; folded into the input projection afterwards, so the model reads raw features."""
    seed: int = 13


def _batch(examples: list[Example], torch):
    n = max(len(e.x) for e in examples)
    b = len(examples)
    x = np.zeros((b, n, examples[0].x.shape[1]), dtype=np.float32)
    roles = np.full((b, n), -1, dtype=np.int64)
    prefix = np.zeros((b, n), dtype=np.float32)
    for i, e in enumerate(examples):
        x[i, : len(e.x)] = e.x
        roles[i, : len(e.x)] = e.roles
        prefix[i, : len(e.x)] = e.prefix_safe
    target = np.stack([e.target for e in examples])
    mask = np.stack([e.mask for e in examples])
    return (torch.from_numpy(x), torch.from_numpy(roles), torch.from_numpy(prefix),
            torch.from_numpy(target), torch.from_numpy(mask))


def _role_turn_logits(model, hi, name: str):
    return getattr(model, f"head_{name}")(hi)  # (B, n, K+1)


def _pool(lt, m, torch):
    """Side logits: max over the side's turns for dimensions, min for safe (mirrors model.pool_logits)."""
    big = torch.tensor(1e4)
    mx = torch.where(m, lt, -big).max(dim=1).values
    mn = torch.where(m, lt, big).min(dim=1).values
    return torch.cat([mn[..., :1], mx[..., 1:]], dim=-1)


def _allowed(target, mask, torch):
    """Classes consistent with the label (B, 2, K+1): the violated dimension, or safe plus every
    dimension not in force (a Safe side under a policy may still violate a switched-off dimension)."""
    unsafe = target.sum(-1, keepdim=True) > 0
    safe_allowed = torch.cat([torch.ones_like(mask[..., :1]), 1.0 - mask], dim=-1)
    unsafe_allowed = torch.cat([torch.zeros_like(target[..., :1]), target], dim=-1)
    return torch.where(unsafe, unsafe_allowed, safe_allowed) > 0


def _partial_nll(logits, allowed, torch):
    """-log of the probability mass of the allowed classes."""
    neg = torch.tensor(-1e4)
    return torch.logsumexp(logits, -1) - torch.logsumexp(torch.where(allowed, logits, neg), -1)


def _dropped_allowed(target, mask, torch):
    """Classes consistent with an Unsafe side re-judged with its violated dimension switched off (B, 2, K+1):
    safe, the violated dimension, and every dimension already out of force."""
    return torch.cat([torch.ones_like(mask[..., :1]), target + (1.0 - mask)], dim=-1) > 0


POLICY_DROP_SIDES = {"both": SIDES, "user": ("user",), "assistant": ("assistant",)}


def context_loss(model, batch, prefix_weight: float, torch, policy_drop_weight: float = 0.0,
                 policy_drop_sides: str = "both"):
    """The partial-label side loss plus prefix supervision, on a batch (x, roles, prefix, target, mask).

    With `policy_drop_weight` > 0 every gold-Unsafe side (of the sides named by `policy_drop_sides`) also
    counts as Safe under its policy minus the violated dimension (the policy-adaptation probe, applied to all
    of them rather than the build's `remove_dimension` copies): mass on other dimensions is penalised beyond
    what the side loss does."""
    if policy_drop_sides not in POLICY_DROP_SIDES:
        raise ValueError(f"policy_drop_sides must be one of {sorted(POLICY_DROP_SIDES)}, not {policy_drop_sides!r}")
    drop_on = POLICY_DROP_SIDES[policy_drop_sides]
    x, roles, prefix, target, mask = batch
    hi = model(x)
    valid = roles >= 0
    allowed = _allowed(target, mask, torch)
    dropped = _dropped_allowed(target, mask, torch) if policy_drop_weight > 0 else None
    present = mask.sum(-1) > 0  # (B, 2)
    l_side = x.new_zeros(())
    l_pre = x.new_zeros(())
    l_drop = x.new_zeros(())
    for s, name in enumerate(SIDES):
        m = (roles == s).unsqueeze(-1)
        lt = _role_turn_logits(model, hi, name)
        side = _pool(lt, m, torch)
        pres = present[:, s] & m.squeeze(-1).any(1)
        if pres.any():
            l_side = l_side + _partial_nll(side[pres], allowed[pres, s], torch).mean()
        if dropped is not None and name in drop_on:
            unsafe = pres & (target[:, s].sum(-1) > 0)
            if unsafe.any():
                l_drop = l_drop + _partial_nll(side[unsafe], dropped[unsafe, s], torch).mean()
        # prefix turns: safe under the record's policy (safe or a switched-off dimension)
        pm = (prefix > 0) & (roles == s) & valid
        if pm.any():
            pre_allowed = torch.cat([torch.ones_like(mask[:, s, :1]), 1.0 - mask[:, s]], -1) > 0
            pa = pre_allowed.unsqueeze(1).expand(-1, lt.shape[1], -1)
            l_pre = l_pre + _partial_nll(lt[pm], pa[pm], torch).mean()
    return l_side + prefix_weight * l_pre + policy_drop_weight * l_drop


def _last_turn_unsafe_logit(model, batch, torch, head_only: bool = False):
    """Per dialogue of a batch, the assistant head's log-odds of unsafe (any dimension) against safe at its last
    turn (the reply a preference pair differs in); `head_only` keeps the gradient out of the shared layers."""
    x, roles = batch[0], batch[1]
    hi = model(x)
    lt = _role_turn_logits(model, hi.detach() if head_only else hi, "assistant")  # (B, n, K+1)
    last = (roles >= 0).sum(1) - 1
    logits = lt[torch.arange(lt.shape[0]), last]
    return torch.logsumexp(logits[:, 1:], -1) - logits[:, 0]


def preference_loss(model, chosen_batch, rejected_batch, torch, head_only: bool = False):
    """Bradley-Terry ranking loss: the rejected reply should score more unsafe than the chosen one. It ranks
    only; neither reply is taken to be Safe or Unsafe (both may be either). `head_only`: only the assistant head
    learns from it, so the shared layers (and the user side) see the labelled dialogues alone."""
    margin = (_last_turn_unsafe_logit(model, rejected_batch, torch, head_only)
              - _last_turn_unsafe_logit(model, chosen_batch, torch, head_only))
    return torch.nn.functional.softplus(-margin).mean()


def _pair_batches(pairs: list[PairExample], torch):
    return _batch([p.chosen for p in pairs], torch), _batch([p.rejected for p in pairs], torch)


def pair_accuracy(model_np, pairs: list[PairExample]) -> float | None:
    """Share of pairs whose rejected reply gets higher last-turn assistant log-odds of unsafe than the chosen one
    (log-odds, not the mass: a mass rounds to 0 for both replies of a plainly safe pair)."""
    if not pairs:
        return None

    def last_unsafe(e: Example) -> float:
        roles = ["user" if r == 0 else "assistant" for r in e.roles]
        z = np.atleast_2d(model_np.forward(e.x, roles)[-1].logits.astype(np.float64))  # (members, K+1)
        rest = z[:, 1:].max(-1)
        return float((rest + np.log(np.exp(z[:, 1:] - rest[:, None]).sum(-1)) - z[:, 0]).mean())

    wins = [last_unsafe(p.rejected) > last_unsafe(p.chosen) for p in pairs]
    return round(float(np.mean(wins)), 4)


def family_sampling_weights(examples: list[Example], alpha: float) -> list[float]:
    """Per example, (size of its source family) ** -alpha: 0 keeps the build's mix, 1 makes every family
    equally likely; an unseen family is more like any one family than like the build's largest ones."""
    counts: dict[str, int] = {}
    for e in examples:
        counts[e.family] = counts.get(e.family, 0) + 1
    return [counts[e.family] ** -alpha for e in examples]


def sampling_weights(examples: list[Example], family_balance: float, hard_negative_weight: float) -> list[float] | None:
    """Per-example draw weights of an epoch (family balance times the hard-negative weight); None keeps the
    plain shuffle (every dialogue once per epoch)."""
    if family_balance <= 0 and hard_negative_weight == 1.0:
        return None
    base = family_sampling_weights(examples, family_balance) if family_balance > 0 else [1.0] * len(examples)
    return [w * (hard_negative_weight if e.pattern == "hard_negative" else 1.0) for w, e in zip(base, examples)]


def attach_patterns(examples: list[Example], records_path: Path) -> int:
    """Fill `pattern` of examples loaded from a cache older than the field, from the build's records; returns
    how many were filled."""
    missing = {e.id: e for e in examples if not e.pattern}
    if not missing or not records_path.is_file():
        return 0
    filled = 0
    for rec in load_records(records_path):
        e = missing.get(str(rec.get("id")))
        if e is not None:
            e.pattern = str(rec.get("pattern", ""))
            filled += 1
    return filled


def train(train_ex: list[Example], dev_ex: list[Example], cfg: TrainConfig,
          log: Callable[[str], None] = print,
          pairs: tuple[list[PairExample], list[PairExample]] | None = None):
    """Train; returns the best model (by dev loss) and its dev loss. With `cfg.preference_weight` > 0, `pairs`
    (train, dev) adds the preference ranking term to the training and the dev loss."""
    import torch

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    basis = None
    if cfg.erase_family_rank > 0:
        from mmshield.shields.embedded import family_erasure

        basis = family_erasure.fit_basis(train_ex, cfg.erase_family_rank)
        log(f"erasing {basis.shape[1]} directions of family style from the text slots")
        train_ex, dev_ex = family_erasure.erase_examples(train_ex, basis), family_erasure.erase_examples(dev_ex, basis)
    allx = np.concatenate([e.x for e in train_ex])
    model = build_torch_model(cfg.hidden, cfg.proj, cfg.dropout, input_dim=allx.shape[1], heads_rank=cfg.heads_rank)
    model.norm_mean.copy_(torch.from_numpy(allx.mean(0)))
    model.norm_std.copy_(torch.from_numpy(allx.std(0) + 1e-2))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)

    def loss_on(batch):
        return context_loss(model, batch, cfg.prefix_weight, torch, cfg.policy_drop_weight, cfg.policy_drop_sides)

    use_pairs = cfg.preference_weight > 0 and pairs is not None and len(pairs[0]) > 0
    if cfg.preference_weight > 0 and not use_pairs:
        raise ValueError("preference_weight > 0 needs preference pairs (train, dev)")
    pair_rng = random.Random(cfg.seed + 1)  # its own draws: the dialogue batches are the same with or without pairs
    best = (float("inf"), None)
    order = list(range(len(train_ex)))
    draw = sampling_weights(train_ex, cfg.family_balance, cfg.hard_negative_weight)
    for epoch in range(cfg.epochs):
        model.train()
        if draw is None:
            rng.shuffle(order)
        else:  # an epoch of the same size, drawn with the families' shares flattened and look-alikes weighted
            order = rng.choices(range(len(train_ex)), weights=draw, k=len(train_ex))
        # bucket by length to limit padding
        chunks = [order[i : i + cfg.batch_size * 20] for i in range(0, len(order), cfg.batch_size * 20)]
        total, nb = 0.0, 0
        t0 = time.time()
        for ch in chunks:
            ch = sorted(ch, key=lambda i: len(train_ex[i].x))
            batches = [ch[i : i + cfg.batch_size] for i in range(0, len(ch), cfg.batch_size)]
            rng.shuffle(batches)
            for bi in batches:
                loss = loss_on(_batch([train_ex[i] for i in bi], torch))
                if use_pairs:
                    drawn = pair_rng.sample(pairs[0], min(cfg.preference_batch, len(pairs[0])))
                    loss = loss + cfg.preference_weight * preference_loss(model, *_pair_batches(drawn, torch), torch,
                                                                          cfg.preference_head_only)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                total += loss.item()
                nb += 1
        sched.step()
        model.eval()
        with torch.no_grad():
            dl, dn = 0.0, 0
            for i in range(0, len(dev_ex), 256):
                dl += float(loss_on(_batch(dev_ex[i : i + 256], torch))) * len(dev_ex[i : i + 256])
                dn += len(dev_ex[i : i + 256])
        dev_loss = dl / max(dn, 1)
        if use_pairs and pairs[1]:
            with torch.no_grad():
                dev_loss += cfg.preference_weight * float(preference_loss(model, *_pair_batches(pairs[1], torch), torch))
        log(f"epoch {epoch + 1}/{cfg.epochs} train loss {total / max(nb, 1):.4f} dev loss {dev_loss:.4f} ({time.time() - t0:.0f}s)")
        if dev_loss < best[0]:
            best = (dev_loss, {k: v.clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[1])
    model.eval()
    if basis is not None:
        from mmshield.shields.embedded import family_erasure

        with torch.no_grad():
            w = model.proj.weight.detach().cpu().numpy()
            folded = family_erasure.fold_into_projection(w, model.norm_std.cpu().numpy()[: w.shape[1]], basis)
            model.proj.weight.copy_(torch.from_numpy(folded))
    return model, best[0]


# --------------------------------------------------------------------------- calibration


def side_scores(model_np, examples: list[Example]) -> np.ndarray:
    """Numpy forward over examples: (N, 2, K+1) side-level class probabilities (nan where a side is absent)."""
    out = np.full((len(examples), 2, len(DIMENSION_NAMES) + 1), np.nan, dtype=np.float32)
    for i, e in enumerate(examples):
        roles = ["user" if r == 0 else "assistant" for r in e.roles]
        steps = model_np.forward(e.x, roles)
        for s, side in enumerate(SIDES):
            lt = [st.logits for st, r in zip(steps, roles) if r == side]
            if lt:
                out[i, s] = pooled_probs(pool_logits(np.stack(lt)), model_np.members)
    return out


def unsafe_mass(probs: np.ndarray, in_force: np.ndarray) -> float:
    """Probability that a side violates a dimension in force, as the shield decides it (`model.policy_score`)."""
    return float(policy_score(probs, np.asarray(in_force, dtype=bool)))


def side_labels_and_masses(scores: np.ndarray, rows: Sequence[Any], s: int) -> tuple[np.ndarray, np.ndarray]:
    """For side `s` of every row where it is present and scored: gold label (1 = Unsafe under the row's policy)
    and the in-force unsafe mass. Rows need `target` and `mask` (Examples or bundle label rows)."""
    ys, ps = [], []
    for sc, r in zip(scores, rows):
        m = r.mask[s] > 0
        if m.any() and not np.isnan(sc[s]).all():
            ys.append(float((r.target[s] * m).max()))
            ps.append(unsafe_mass(sc[s], m))
    return np.array(ys), np.array(ps)


def _gold_unsafe_masses(scores: np.ndarray, examples: list[Example],
                        policy: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> dict[str, np.ndarray]:
    """Per side, the unsafe mass of every gold-Unsafe side under `policy(in_force, violated)` (boolean masks
    over dimensions); sides whose derived policy is empty are skipped."""
    out: dict[str, np.ndarray] = {}
    for s, side in enumerate(SIDES):
        ps = []
        for i, e in enumerate(examples):
            m = e.mask[s] > 0
            if not m.any() or np.isnan(scores[i, s]).all() or (e.target[s] * m).max() <= 0:
                continue
            reduced = policy(m, e.target[s] > 0)
            if reduced.any():
                ps.append(unsafe_mass(scores[i, s], reduced))
        out[side] = np.array(ps)
    return out


def adaptation_masses(scores: np.ndarray, examples: list[Example]) -> dict[str, np.ndarray]:
    """Per side, the in-force unsafe mass of every gold-Unsafe side once its violated dimension is switched
    off (the policy-adaptation probe): all of these should come back Safe."""
    return _gold_unsafe_masses(scores, examples, lambda in_force, violated: in_force & ~violated)


def restricted_masses(scores: np.ndarray, examples: list[Example]) -> dict[str, np.ndarray]:
    """Per side, the unsafe mass of every gold-Unsafe side under a policy holding only its violated dimension
    (the other direction of policy adaptation): all of these should still come back Unsafe."""
    return _gold_unsafe_masses(scores, examples, lambda in_force, violated: in_force & violated)


def calibrate(scores: np.ndarray, examples: list[Example], adaptation_weight: float = 0.0,
              smooth: float = 0.0) -> dict[str, float]:
    """Per side, the threshold on the in-force unsafe mass that maximises dev F1.

    With `adaptation_weight` > 0 the policy-adaptation probes (a gold-Unsafe side with its violated dimension
    switched off) count as extra negatives with that weight: higher thresholds, fewer sides still flagged when
    their only violated dimension is out of the policy, and fewer false positives on look-alikes. Off by
    default: in leave-one-family-out runs it cost far more recall on unseen harmful families than it saved
    (README, "Measured results").

    With `smooth` > 0 the threshold maximises dev F1 averaged over a window of +-smooth around it: the
    middle of a flat optimum rather than wherever dev noise puts its peak."""
    th: dict[str, float] = {}
    probes = adaptation_masses(scores, examples) if adaptation_weight > 0 else {}
    for s, side in enumerate(SIDES):
        ys_a, ps_a = side_labels_and_masses(scores, examples, s)
        extra = probes.get(side, np.array([]))
        grid = np.linspace(0.05, 0.95, 91)
        f1s = np.empty(len(grid))
        for j, t in enumerate(grid):
            pred = ps_a >= t
            tp = float((pred & (ys_a == 1)).sum())
            fp = float((pred & (ys_a == 0)).sum()) + adaptation_weight * float((extra >= t).sum())
            fn = float((~pred & (ys_a == 1)).sum())
            f1s[j] = 2 * tp / max(2 * tp + fp + fn, 1)
        if smooth > 0:
            f1s = np.array([f1s[np.abs(grid - t) <= smooth + 1e-9].mean() for t in grid])
        th[side] = round(float(grid[int(np.argmax(f1s))]), 3)
    return th


def quick_metrics(scores: np.ndarray, examples: list[Example], thresholds: dict[str, float]) -> dict[str, dict]:
    """Per side P/R/F1/accuracy/FPR and dimension accuracy from cached scores (same rule as the shield)."""
    out: dict[str, dict] = {}
    for s, side in enumerate(SIDES):
        tp = fp = fn = tn = dim_ok = 0
        for i, e in enumerate(examples):
            m = e.mask[s] > 0
            if not m.any() or np.isnan(scores[i, s]).all():
                continue
            gold = bool((e.target[s] * m).max() > 0)
            pred = unsafe_mass(scores[i, s], m) >= thresholds[side]
            if gold and pred:
                tp += 1
                dims = np.where(m, scores[i, s, 1:], -1.0)
                dim_ok += int(np.argmax(dims) == int(np.argmax(e.target[s])))
            elif pred:
                fp += 1
            elif gold:
                fn += 1
            else:
                tn += 1
        n = tp + fp + fn + tn
        p = tp / max(tp + fp, 1)
        r = tp / max(tp + fn, 1)
        out[side] = {
            "n": n, "positives": tp + fn, "precision": round(p, 4), "recall": round(r, 4),
            "f1": round(2 * p * r / max(p + r, 1e-9), 4), "accuracy": round((tp + tn) / max(n, 1), 4),
            "fpr": round(fp / max(fp + tn, 1), 4), "dimension_accuracy_on_tp": round(dim_ok / max(tp, 1), 4),
        }
    for side, masses in adaptation_masses(scores, examples).items():
        out[side]["adaptation_still_flagged"] = round(float((masses >= thresholds[side]).mean()), 4) if len(masses) else None
    for side, masses in restricted_masses(scores, examples).items():
        out[side]["restricted_policy_recall"] = round(float((masses >= thresholds[side]).mean()), 4) if len(masses) else None
    return out


def rank_auroc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    """Probability that a positive scores above a negative (Mann-Whitney); None without both classes."""
    if len(pos) == 0 or len(neg) == 0:
        return None
    ranks = np.argsort(np.argsort(np.concatenate([pos, neg]))) + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def auroc(scores: np.ndarray, rows: Sequence[Any]) -> dict[str, float | None]:
    """Threshold-free ranking quality per side (None when a side has one class only in the test set)."""
    out: dict[str, float | None] = {}
    for s, side in enumerate(SIDES):
        y, p = side_labels_and_masses(scores, rows, s)
        a = rank_auroc(p[y == 1], p[y == 0])
        out[side] = None if a is None else round(a, 4)
    return out


__all__ = ["Example", "PairExample", "TrainConfig", "auroc", "calibrate", "export_weights", "featurize", "train"]
