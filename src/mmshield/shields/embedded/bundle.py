"""A training bundle: every split of an MMDS build reduced to de-duplicated texts and per-turn slot indices.

Fine-tuning the text encoder needs the texts, not their embeddings: each turn keeps the indices of its
four text slots (text, OCR, text+OCR, previous turn of the other role; -1 when absent) and its scalars,
so a training step can re-encode exactly the texts of its batch. Image reading (OCR, safety) happens once,
here; the bundle is small enough to travel to a GPU machine (texts gzip-compressed).
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmshield.dialogue import from_mmds
from mmshield.shields.embedded.featurize import EMB_DIM, N_SCALARS, DialogueEncoder, turn_inputs
from mmshield.shields.embedded.training import (
    Example,
    NotCached,
    load_records,
    prefix_safe_turns,
    side_targets,
)
from mmshield.taxonomy import DIMENSION_NAMES

SPLITS = ("train", "dev", "test")
SLOTS = ("text", "ocr", "joint", "prev")


@dataclass
class Bundle:
    """Per-turn arrays (concatenated over dialogues) and per-dialogue labels."""

    texts: list[str]
    slots: np.ndarray  # (T, 4) int32 text indices, -1 = absent
    scalars: np.ndarray  # (T, N_SCALARS) float32
    roles: np.ndarray  # (T,) int8, 0 user 1 assistant
    prefix: np.ndarray  # (T,) float32
    lengths: np.ndarray  # (N,) int32
    target: np.ndarray  # (N, 2, K) float32
    mask: np.ndarray  # (N, 2, K) float32
    ids: np.ndarray  # (N,) str
    families: np.ndarray  # (N,) str
    splits: np.ndarray  # (N,) str

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)

    def save(self, path: Path) -> None:
        """Write `path` (.npz) and `path`.texts.json.gz."""
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, slots=self.slots, scalars=self.scalars.astype(np.float16), roles=self.roles,
                            prefix=self.prefix, lengths=self.lengths, target=self.target, mask=self.mask,
                            ids=self.ids, families=self.families, splits=self.splits)
        with gzip.open(texts_path(path), "wt", encoding="utf-8") as fh:
            json.dump(self.texts, fh, ensure_ascii=False)

    @classmethod
    def load(cls, path: Path) -> Bundle:
        with np.load(path, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
        with gzip.open(texts_path(path), "rt", encoding="utf-8") as fh:
            texts = json.load(fh)
        return cls(texts=texts, slots=a["slots"], scalars=a["scalars"].astype(np.float32), roles=a["roles"],
                   prefix=a["prefix"], lengths=a["lengths"], target=a["target"], mask=a["mask"], ids=a["ids"],
                   families=a["families"], splits=a["splits"])


def texts_path(path: Path) -> Path:
    return path.with_name(path.stem + ".texts.json.gz")


def build_bundle(data_dir: Path, encoder: DialogueEncoder, splits: tuple[str, ...] = SPLITS) -> Bundle:
    """Read every split of `data_dir`, images once (through `encoder`'s analyzer), into a Bundle.

    Dialogues whose images cannot be read from a cache-only analyzer are skipped and counted on stderr."""
    index: dict[str, int] = {}

    def tid(text: str | None) -> int:
        if text is None or text == "":
            return -1
        if text not in index:
            index[text] = len(index)
        return index[text]

    slots, scalars, roles, prefix, lengths = [], [], [], [], []
    target, mask, ids, fams, spl = [], [], [], [], []
    t0 = time.time()
    for split in splits:
        records = load_records(data_dir / f"{split}.jsonl")
        skipped = 0
        for n, rec in enumerate(records, 1):
            d = from_mmds(rec, data_dir)
            try:
                images = [encoder.read_turn_images(t) for t in d.turns]
            except NotCached:
                skipped += 1
                continue
            inputs = turn_inputs(d.turns, images)
            turn_roles = [t.role for t in d.turns]
            for ti in inputs:
                slots.append([tid(ti.text), tid(ti.ocr), tid(ti.joint), tid(ti.prev)])
                scalars.append(ti.scalars)
            roles.extend(0 if r == "user" else 1 for r in turn_roles)
            prefix.extend(prefix_safe_turns(rec, turn_roles).tolist())
            lengths.append(len(inputs))
            tg, mk = side_targets(rec)
            target.append(tg)
            mask.append(mk)
            ids.append(str(rec.get("id")))
            fams.append(str(rec.get("source_family", "")))
            spl.append(split)
            if n % 1000 == 0 or n == len(records):
                print(f"\r[bundle] {split} {n}/{len(records)} ({time.time() - t0:.0f}s)", end="", file=sys.stderr)
        print(f"\n[bundle] {split}: skipped {skipped} dialogues with unreadable/uncached images", file=sys.stderr)
    k = len(DIMENSION_NAMES)
    return Bundle(
        texts=list(index), slots=np.asarray(slots, dtype=np.int32).reshape(-1, 4),
        scalars=np.asarray(scalars, dtype=np.float32).reshape(-1, N_SCALARS), roles=np.asarray(roles, dtype=np.int8),
        prefix=np.asarray(prefix, dtype=np.float32), lengths=np.asarray(lengths, dtype=np.int32),
        target=np.asarray(target, dtype=np.float32).reshape(-1, 2, k), mask=np.asarray(mask, dtype=np.float32).reshape(-1, 2, k),
        ids=np.asarray(ids), families=np.asarray(fams), splits=np.asarray(spl),
    )


def assemble_vectors(bundle: Bundle, emb: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Feature vectors (stop-start, INPUT_DIM) of turns [start, stop) from text embeddings `emb` (numpy).

    Mirrors DialogueEncoder: missing OCR and previous-turn slots are zeros, a missing joint slot is the text."""
    s = bundle.slots[start:stop]
    zero = np.zeros((1, emb.shape[1]), dtype=np.float32)
    table = np.concatenate([emb.astype(np.float32), zero])
    last = len(table) - 1
    text = table[s[:, 0]]
    ocr = table[np.where(s[:, 1] >= 0, s[:, 1], last)]
    joint = table[np.where(s[:, 2] >= 0, s[:, 2], s[:, 0])]
    prev = table[np.where(s[:, 3] >= 0, s[:, 3], last)]
    return np.concatenate([text, ocr, joint, prev, bundle.scalars[start:stop]], axis=1).astype(np.float32)


def bundle_examples(bundle: Bundle, idx: list[int], encode) -> list[Example]:
    """Examples (feature vectors, as the shield computes them) of dialogues `idx`, embedding only their texts
    with `encode(texts) -> (n, 384)`; no image or record is read again."""
    off = bundle.offsets
    used = np.unique(np.concatenate([bundle.slots[off[i] : off[i + 1]].reshape(-1) for i in idx]))
    used = used[used >= 0]
    emb = np.zeros((len(bundle.texts), EMB_DIM), dtype=np.float32)
    if len(used):
        emb[used] = encode([bundle.texts[t] for t in used])
    return [Example(id=str(bundle.ids[i]), x=assemble_vectors(bundle, emb, int(off[i]), int(off[i + 1])),
                    roles=bundle.roles[off[i] : off[i + 1]].astype(np.int64), target=bundle.target[i],
                    mask=bundle.mask[i], prefix_safe=bundle.prefix[off[i] : off[i + 1]],
                    family=str(bundle.families[i])) for i in idx]
