"""Fitting the attention heads (`features.heads`) and giving training examples their pooled vectors.

1. `TokenStore.build`: the word-piece states of every text a features cache uses (its slot index), read
   exactly as the shield reads them (`TextEncoder.token_states`), kept on disk as float16.
2. `turn_items`: each training turn's own text (and its text joined with its OCR text) labelled by what its
   side is known to be at that turn: safe, or the side's violated dimension from the first risky turn on.
3. `fit_heads` (torch): K attention heads with a small per-role classifier over {safe, dimensions}, early
   stopping on dev; only the heads are kept.
4. `heads_table` pools every stored text with the heads; `with_heads` appends the four slots' pooled vectors to
   each example's features, in the layout `featurize.assemble` gives at inference.
"""

from __future__ import annotations

import json
import random
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mmshield.shields.embedded.features.heads import EMB_DIM, MEAN_SCALE, AttentionHeads
from mmshield.shields.embedded.featurize import SLOTS
from mmshield.shields.embedded.training import Example, read_slot_texts

STORE_FILES = ("tokens.f16", "offsets.npy", "texts.json")


class TokenStore:
    """Word-piece states (float16) of a list of texts, one contiguous block per text."""

    def __init__(self, texts: list[str], tokens: np.ndarray, offsets: np.ndarray) -> None:
        self.texts = texts
        self.tokens = tokens  # (total, 384) float16
        self.offsets = offsets  # (n + 1,) int64

    def __len__(self) -> int:
        return len(self.texts)

    def states(self, i: int) -> np.ndarray:
        """The word-piece states (T, 384) float32 of text `i`."""
        return self.tokens[self.offsets[i] : self.offsets[i + 1]].astype(np.float32)

    def length(self, i: int) -> int:
        return int(self.offsets[i + 1] - self.offsets[i])

    @staticmethod
    def _stored_texts(folder: Path) -> list[str]:
        paths = [folder / f for f in STORE_FILES]
        return json.loads(paths[2].read_text("utf-8")) if all(p.is_file() for p in paths) else []

    @classmethod
    def load(cls, folder: Path, texts: list[str]) -> TokenStore | None:
        """The store in `folder` when it holds exactly `texts` (in that order), else None."""
        if not texts or cls._stored_texts(folder) != texts:
            return None
        offsets = np.load(folder / STORE_FILES[1])
        tokens = np.fromfile(folder / STORE_FILES[0], dtype=np.float16).reshape(-1, EMB_DIM)
        return cls(texts, tokens, offsets)

    @classmethod
    def build(cls, folder: Path, texts: list[str], encoder, batch: int = 256, commit_every: int = 5000,
              progress: Callable[[int, int], None] | None = None) -> TokenStore:
        """Read every text with `encoder.token_states` and write the store into `folder`. A store there whose texts
        begin `texts` (a features cache's slot index only grows) is kept and extended with the rest; any other is
        replaced. What is read is committed every `commit_every` texts, so an interrupted build resumes there."""
        folder.mkdir(parents=True, exist_ok=True)
        old = cls._stored_texts(folder)
        if old != texts[: len(old)]:
            old = []
        offsets = [int(x) for x in np.load(folder / STORE_FILES[1])][: len(old) + 1] if old else [0]
        data = folder / STORE_FILES[0]
        with open(data, "r+b" if old else "wb") as fh:
            fh.truncate(offsets[-1] * EMB_DIM * 2)  # drop anything written after the last commit
            fh.seek(0, 2)
            done = len(old)
            for start in range(done, len(texts), batch):
                _, states = encoder.token_states(texts[start : start + batch])
                for s in states:
                    offsets.append(offsets[-1] + len(s))
                    fh.write(np.asarray(s, dtype=np.float16).tobytes())
                done = min(start + batch, len(texts))
                if done % commit_every < batch or done == len(texts):
                    fh.flush()
                    cls._commit(folder, texts[:done], offsets)
                if progress:
                    progress(done, len(texts))
        cls._commit(folder, texts, offsets)
        return cls.load(folder, texts)  # type: ignore[return-value]

    @staticmethod
    def _commit(folder: Path, texts: list[str], offsets: list[int]) -> None:
        """Record which texts the data file holds (offsets first, then the texts, each replaced atomically)."""
        tmp = folder / (STORE_FILES[1] + ".tmp.npy")
        np.save(tmp, np.asarray(offsets[: len(texts) + 1], dtype=np.int64))
        tmp.replace(folder / STORE_FILES[1])
        tj = folder / (STORE_FILES[2] + ".tmp")
        tj.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        tj.replace(folder / STORE_FILES[2])


@dataclass(frozen=True)
class TurnItem:
    """One labelled text for fitting the heads: a store index, the role that said it, and 0 (safe) or 1 + the
    index of the side's violated dimension."""

    text: int
    role: int
    label: int


def turn_items(examples: list[Example]) -> list[TurnItem]:
    """The labelled texts of `examples` (each turn's own text and its text joined with OCR), de-duplicated.

    A turn of a Safe side is safe; on an Unsafe side with a known dimension, the turns before its first risky turn
    are safe and the others carry the dimension; a side without a usable label gives nothing."""
    items: set[TurnItem] = set()
    for e in examples:
        if e.slots is None:
            raise ValueError(f"example {e.id} has no text slots: rebuild the features cache")
        for t, role in enumerate(e.roles):
            role = int(role)
            known = e.mask[role] > 0
            if not known.any():
                continue
            hit = np.flatnonzero(e.target[role] > 0)
            label = 0 if len(hit) == 0 or e.prefix_safe[t] > 0 else int(hit[0]) + 1
            for slot in (0, 2):  # the turn's text; its text joined with its OCR text
                if e.slots[t, slot] >= 0:
                    items.add(TurnItem(int(e.slots[t, slot]), role, label))
    return sorted(items, key=lambda it: (it.text, it.role, it.label))


@dataclass
class HeadsConfig:
    count: int = 2
    epochs: int = 8
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-2
    dropout: float = 0.25
    max_tokens: int = 512
    """Word pieces of a text that one fitting step reads (its first and last ones); inference reads them all."""
    output: str = "pooled"
    """What the context model reads: "pooled" (the heads' vectors) or "scores" (the fitted classifier's
    probabilities per role; train texts get out-of-fold ones, see `prepare_heads`)."""
    crossfit: int = 2
    """With "scores": folds over the train split's texts, each scored by a classifier fitted without it."""
    seed: int = 13


def _clipped(states: np.ndarray, limit: int) -> np.ndarray:
    if len(states) <= limit:
        return states
    half = limit // 2
    return np.concatenate([states[:half], states[-(limit - half):]])


def fit_heads(store: TokenStore, train: list[TurnItem], dev: list[TurnItem], cfg: HeadsConfig,
              n_labels: int, log: Callable[[str], None] = print) -> AttentionHeads:
    """Fit `cfg.count` attention heads with a throwaway per-role classifier over `n_labels` labels (torch)."""
    import torch
    from torch import nn

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    k = cfg.count

    class Fitter(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(EMB_DIM)
            self.query = nn.Linear(EMB_DIM, k)
            d = EMB_DIM * (k + 1)
            self.classify = nn.ModuleList([
                nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(d, 192), nn.ReLU(), nn.Dropout(cfg.dropout),
                              nn.Linear(192, n_labels)) for _ in range(2)])

        def forward(self, h, m, roles):  # h (B, T, 384), m (B, T)
            mean = (h * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1)
            mean = mean / mean.norm(dim=1, keepdim=True).clamp(min=1e-6) * MEAN_SCALE
            hn = self.norm(h)
            a = self.query(hn).masked_fill(m[..., None] == 0, -1e9).softmax(1)
            x = torch.cat([torch.einsum("btk,btd->bkd", a, hn).flatten(1), mean], 1)
            out = torch.zeros(len(x), n_labels)
            for r in (0, 1):
                sel = roles == r
                if sel.any():
                    out[sel] = self.classify[r](x[sel])
            return out

    def batch(items: list[TurnItem]):
        states = [_clipped(store.states(it.text), cfg.max_tokens) for it in items]
        width = max(max(len(s) for s in states), 1)
        h = np.zeros((len(items), width, EMB_DIM), dtype=np.float32)
        m = np.zeros((len(items), width), dtype=np.float32)
        for i, s in enumerate(states):
            h[i, : len(s)] = s
            m[i, : len(s)] = 1.0
        return (torch.from_numpy(h), torch.from_numpy(m), torch.tensor([it.role for it in items]),
                torch.tensor([it.label for it in items]))

    def batches(items: list[TurnItem], shuffle: bool):
        order = sorted(items, key=lambda it: store.length(it.text))  # similar lengths together: little padding
        groups = [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
        if shuffle:
            rng.shuffle(groups)
        return groups

    train = [it for it in train if store.length(it.text) > 0]
    dev = [it for it in dev if store.length(it.text) > 0]
    model = Fitter()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    best: tuple[float, dict | None] = (float("inf"), None)
    for epoch in range(cfg.epochs):
        t0 = time.time()
        model.train()
        for group in batches(train, shuffle=True):
            h, m, roles, y = batch(group)
            loss = loss_fn(model(h, m, roles), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        total, n = 0.0, 0
        with torch.no_grad():
            for group in batches(dev, shuffle=False):
                h, m, roles, y = batch(group)
                total += float(loss_fn(model(h, m, roles), y)) * len(group)
                n += len(group)
        dev_loss = total / max(n, 1)
        log(f"[heads] epoch {epoch + 1}/{cfg.epochs} dev loss {dev_loss:.4f} ({time.time() - t0:.0f}s)")
        if dev_loss < best[0]:
            best = (dev_loss, {key: v.clone() for key, v in model.state_dict().items()})
    assert best[1] is not None
    sd = {key: v.numpy().astype(np.float32) for key, v in best[1].items()}
    classifier = None
    if cfg.output == "scores":  # layers 1 and 4 of each role's Sequential (dropout, linear, relu, dropout, linear)
        classifier = tuple(np.stack([sd[f"classify.{r}.{layer}.{kind}"] for r in (0, 1)])
                           for layer, kind in ((1, "weight"), (1, "bias"), (4, "weight"), (4, "bias")))
    return AttentionHeads(ln_weight=sd["norm.weight"], ln_bias=sd["norm.bias"], query_weight=sd["query.weight"],
                          query_bias=sd["query.bias"], classifier=classifier)


def heads_table(store: TokenStore, heads: AttentionHeads, rows: Iterable[int] | None = None,
                out: np.ndarray | None = None) -> np.ndarray:
    """What the heads give (`AttentionHeads.read`) for every stored text, or for `rows` of `out`; float32."""
    if out is None:
        out = np.zeros((len(store), heads.width), dtype=np.float32)
    for i in range(len(store)) if rows is None else rows:
        out[i] = heads.read(store.states(i))
    return out


def with_heads(examples: list[Example], table: np.ndarray) -> list[Example]:
    """Copies of `examples` whose features gain the pooled vectors of their four slots (text, OCR, joint, previous
    turn), as `featurize.assemble` lays them out: absent OCR and previous turns are zeros, an absent joint text is
    the turn's text."""
    zero = np.zeros((1, table.shape[1]), dtype=np.float32)
    padded = np.concatenate([table, zero])
    last = len(padded) - 1
    out = []
    for e in examples:
        s = e.slots
        if s is None:
            raise ValueError(f"example {e.id} has no text slots: rebuild the features cache")
        parts = [padded[s[:, 0]], padded[np.where(s[:, 1] >= 0, s[:, 1], last)],
                 padded[np.where(s[:, 2] >= 0, s[:, 2], s[:, 0])], padded[np.where(s[:, 3] >= 0, s[:, 3], last)]]
        out.append(replace(e, x=np.concatenate([e.x, *parts], axis=1).astype(np.float32)))
    return out


def with_text_table(splits: dict[str, list[Example]], table_path: Path, features_cache: Path,
                    instead: bool = False) -> dict[str, list[Example]]:
    """`splits` whose features gain, in every slot, the row of a per-text table (`.npy`, one row per slot text of
    `features_cache`, in their order: another encoder's vectors, say) as `with_heads` lays heads out. `instead`:
    the table's vectors replace the MiniLM means (the scalars stay, first), so the context model reads only them."""
    table = np.load(table_path)
    texts = read_slot_texts(features_cache)
    if table.ndim != 2 or len(table) != len(texts):
        raise ValueError(f"{table_path}: {table.shape} rows, but {features_cache} has {len(texts)} slot texts")
    out = {name: with_heads(examples, table.astype(np.float32)) for name, examples in splits.items()}
    if instead:
        means = SLOTS * EMB_DIM
        out = {name: [replace(e, x=np.ascontiguousarray(e.x[:, means:])) for e in examples]
               for name, examples in out.items()}
    return out


def prepare_heads(splits: dict[str, list[Example]], store: TokenStore, cfg: HeadsConfig, n_labels: int,
                  exclude_families: set[str] | frozenset[str] = frozenset(),
                  log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> tuple[AttentionHeads, np.ndarray]:
    """Fit heads on the train split's turns (dev for early stopping), leaving out `exclude_families`, and pool every
    stored text with them; returns the heads and the table for `with_heads`."""
    train = turn_items([e for e in splits["train"] if e.family not in exclude_families])
    dev = turn_items([e for e in splits["dev"] if e.family not in exclude_families])
    log(f"[heads] fitting {cfg.count} heads on {len(train)} labelled texts (dev {len(dev)})")
    heads = fit_heads(store, train, dev, cfg, n_labels, log=log)
    t0 = time.time()
    table = heads_table(store, heads)
    if cfg.output == "scores" and cfg.crossfit > 1:
        # a classifier's probabilities on texts it was fitted on are better than on any new text: the context model
        # would learn to trust them too much. Each train text gets those of a classifier fitted without its fold.
        fold = {it.text: zlib.crc32(store.texts[it.text].encode("utf-8")) % cfg.crossfit for it in train}
        for f in range(cfg.crossfit):
            log(f"[heads] fold {f + 1}/{cfg.crossfit}: scoring train texts out of fold")
            other = fit_heads(store, [it for it in train if fold[it.text] != f], dev, cfg, n_labels, log=log)
            heads_table(store, other, rows=[i for i, g in fold.items() if g == f], out=table)
    log(f"[heads] read {len(store)} texts ({time.time() - t0:.0f}s)")
    return heads, table
