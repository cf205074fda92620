"""End-to-end training: the MiniLM text encoder fine-tuned together with the context model (torch).

Frozen sentence embeddings say what a turn is about, not whether it asks for or hands over harm
(LESSONS 2, 3). Here every training step re-encodes the texts of its batch, so the encoder learns
intent and compliance from the dialogue-level loss of the context model (the same partial-label loss
as `training.train`). Word-piece embeddings stay frozen (unseen words keep their pretrained meaning);
everything else is trained. A GPU makes this take minutes (CPU works, slowly).

Outputs: the context model (.npz, numpy inference as before) and the encoder's trained tensors
(safetensors, float16, split into parts); `encoder_export.py` turns them into the shipped int8 ONNX.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from mmshield.shields.embedded.bundle import Bundle
from mmshield.shields.embedded.featurize import EMB_DIM
from mmshield.shields.embedded.training import (
    SIDES,
    TrainConfig,
    _pool,
    auroc,
    build_torch_model,
    calibrate,
    context_loss,
    quick_metrics,
)

FROZEN = ("embeddings.word_embeddings.weight",)


@dataclass
class FinetuneConfig(TrainConfig):
    """TrainConfig (its lr and weight_decay apply to the context model) plus the encoder's settings."""

    epochs: int = 2
    batch_size: int = 32
    encoder_lr: float = 1.5e-5
    encoder_weight_decay: float = 0.01
    warmup: float = 0.06
    max_tokens: int = 256


@dataclass
class LabelRow:
    """What calibrate/quick_metrics read from an example."""

    target: np.ndarray
    mask: np.ndarray


def load_encoder(model_dir: Path, torch):
    """BertModel (no pooler) from a sentence-transformers MiniLM folder (config.json, model.safetensors)."""
    from safetensors.torch import load_file
    from transformers import BertConfig, BertModel

    cfg = BertConfig.from_json_file(str(model_dir / "config.json"))
    bert = BertModel(cfg, add_pooling_layer=False)
    state = {k: v.float() for k, v in load_file(str(model_dir / "model.safetensors")).items() if not k.startswith("pooler.")}
    missing, unexpected = bert.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or [u for u in unexpected if not u.endswith("position_ids")]:
        raise RuntimeError(f"encoder weights do not match: missing {missing}, unexpected {unexpected}")
    return bert


def mean_pool(bert, ids, mask, torch):
    """all-MiniLM-L6-v2's sentence embedding: mean over tokens, L2-normalised."""
    h = bert(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
    m = mask.unsqueeze(-1).to(h.dtype)
    pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled.float(), dim=-1)


class Batcher:
    """Turns a list of dialogue indices into padded torch tensors (texts re-encoded per batch)."""

    def __init__(self, bundle: Bundle, token_ids: list[np.ndarray], torch, device) -> None:
        self.b = bundle
        self.tok = token_ids
        self.off = bundle.offsets
        self.torch = torch
        self.device = device
        self.frozen_table = None  # every text's embedding, when the encoder is frozen (`precompute`)

    def precompute(self, bert, chunk: int = 4096) -> None:
        """Encode every text once (frozen encoder): batches then look embeddings up instead of re-encoding."""
        with self.torch.no_grad():
            n = len(self.b.texts)
            self.frozen_table = self.torch.cat([self.encode(bert, np.arange(s, min(s + chunk, n)))
                                                for s in range(0, n, chunk)]).float()

    def texts_of(self, dlg: list[int]) -> tuple[np.ndarray, list[np.ndarray]]:
        slots = [self.b.slots[self.off[i] : self.off[i + 1]] for i in dlg]
        uniq = np.unique(np.concatenate([s.reshape(-1) for s in slots]))
        return uniq[uniq >= 0], slots

    def encode(self, bert, uniq: np.ndarray, chunk: int = 512):
        torch = self.torch
        out = []
        order = np.argsort([len(self.tok[t]) for t in uniq])
        for s in range(0, len(order), chunk):
            sel = uniq[order[s : s + chunk]]
            width = max(len(self.tok[t]) for t in sel)
            ids = np.zeros((len(sel), width), dtype=np.int64)
            mask = np.zeros((len(sel), width), dtype=np.int64)
            for r, t in enumerate(sel):
                ids[r, : len(self.tok[t])] = self.tok[t]
                mask[r, : len(self.tok[t])] = 1
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
                out.append(mean_pool(bert, torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device), torch))
        return torch.cat(out)[torch.from_numpy(np.argsort(order)).to(self.device)]  # back to `uniq` order

    def batch(self, bert, dlg: list[int]):
        torch = self.torch
        uniq, slots = self.texts_of(dlg)
        emb = self.frozen_table[self.torch.from_numpy(uniq).to(self.device)] if self.frozen_table is not None \
            else self.encode(bert, uniq)
        table = torch.cat([emb, torch.zeros(1, EMB_DIM, device=self.device)])  # last row: absent slot
        zero_row = len(uniq)
        lookup = np.full(len(self.b.texts) + 1, zero_row, dtype=np.int64)  # text index -> table row; -1 -> zeros
        lookup[uniq] = np.arange(len(uniq))
        n = max(len(s) for s in slots)
        b = len(dlg)
        idx = np.full((b, n, 4), zero_row, dtype=np.int64)
        scal = np.zeros((b, n, self.b.scalars.shape[1]), dtype=np.float32)
        roles = np.full((b, n), -1, dtype=np.int64)
        prefix = np.zeros((b, n), dtype=np.float32)
        for r, (i, s) in enumerate(zip(dlg, slots)):
            k = len(s)
            look = lookup[s]
            look[:, 2] = np.where(s[:, 2] >= 0, look[:, 2], look[:, 0])  # no OCR: joint = text
            idx[r, :k] = look
            scal[r, :k] = self.b.scalars[self.off[i] : self.off[i + 1]]
            roles[r, :k] = self.b.roles[self.off[i] : self.off[i + 1]]
            prefix[r, :k] = self.b.prefix[self.off[i] : self.off[i + 1]]
        t_idx = torch.from_numpy(idx).to(self.device)
        x = torch.cat([table[t_idx[..., j]] for j in range(4)] + [torch.from_numpy(scal).to(self.device)], dim=-1)
        dev = self.device
        return (x, torch.from_numpy(roles).to(dev), torch.from_numpy(prefix).to(dev),
                torch.from_numpy(self.b.target[dlg]).to(dev), torch.from_numpy(self.b.mask[dlg]).to(dev))


def side_probs(model, batch, torch) -> np.ndarray:
    """(B, 2, K+1) side class probabilities (softmax of pooled logits); nan where a side is absent."""
    x, roles, *_ = batch
    hi = model(x)
    out = []
    for s, name in enumerate(SIDES):
        m = (roles == s).unsqueeze(-1)
        p = torch.softmax(_pool(getattr(model, f"head_{name}")(hi), m, torch), -1)
        p = torch.where(m.squeeze(-1).any(1, keepdim=True), p, torch.full_like(p, float("nan")))
        out.append(p)
    return torch.stack(out, 1).float().cpu().numpy()


def tokenize_all(texts: list[str], tokenizer_path: Path, max_tokens: int) -> list[np.ndarray]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_path))
    tok.no_padding()
    tok.enable_truncation(max_length=max_tokens)
    return [np.asarray(e.ids, dtype=np.int64) for e in tok.encode_batch(texts)]


def finetune(bundle: Bundle, encoder_dir: Path, train_idx: list[int], dev_idx: list[int], cfg: FinetuneConfig,
             log: Callable[[str], None] = print, device: str | None = None):
    """Train encoder + context model; returns (bert, model, dev_loss, batcher) with the best dev-loss state."""
    import torch

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    t0 = time.time()
    token_ids = tokenize_all(bundle.texts, encoder_dir / "tokenizer.json", cfg.max_tokens)
    log(f"tokenised {len(token_ids)} texts ({time.time() - t0:.0f}s)")
    bert = load_encoder(encoder_dir, torch).to(dev)
    for name, p in bert.named_parameters():
        p.requires_grad = name not in FROZEN
    model = build_torch_model(cfg.hidden, cfg.proj, cfg.dropout).to(dev)
    batcher = Batcher(bundle, token_ids, torch, dev)

    # input normalisation from the pretrained encoder's features on a sample of training dialogues
    bert.eval()
    if cfg.encoder_lr <= 0:
        batcher.precompute(bert)
        log(f"frozen encoder: {len(bundle.texts)} texts encoded once ({time.time() - t0:.0f}s)")
    with torch.no_grad():
        sample = rng.sample(train_idx, min(2000, len(train_idx)))
        xs = []
        for s in range(0, len(sample), 256):
            x, roles, *_ = batcher.batch(bert, sample[s : s + 256])
            xs.append(x[roles >= 0])
        allx = torch.cat(xs)
        model.norm_mean.copy_(allx.mean(0))
        model.norm_std.copy_(allx.std(0) + 1e-2)

    enc_params = [p for p in bert.parameters() if p.requires_grad]
    groups = [{"params": list(model.parameters()), "lr": cfg.lr, "weight_decay": cfg.weight_decay}]
    if cfg.encoder_lr > 0:
        groups.append({"params": enc_params, "lr": cfg.encoder_lr, "weight_decay": cfg.encoder_weight_decay})
    else:
        for p in enc_params:
            p.requires_grad = False
    opt = torch.optim.AdamW(groups)
    steps_per_epoch = math.ceil(len(train_idx) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    warm = max(1, int(cfg.warmup * total_steps))
    base_lrs = [g["lr"] for g in opt.param_groups]

    def set_lr(step: int) -> None:
        f = step / warm if step < warm else 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total_steps - warm)))
        for g, lr in zip(opt.param_groups, base_lrs):
            g["lr"] = lr * f

    def dev_loss() -> float:
        bert.eval()
        model.eval()
        tot, n = 0.0, 0
        with torch.no_grad():
            for s in range(0, len(dev_idx), 128):
                chunk = dev_idx[s : s + 128]
                tot += float(context_loss(model, batcher.batch(bert, chunk), cfg.prefix_weight, torch)) * len(chunk)
                n += len(chunk)
        return tot / max(n, 1)

    best = (float("inf"), None, None)
    step = 0
    lengths = bundle.lengths
    for epoch in range(cfg.epochs):
        bert.train(cfg.encoder_lr > 0)
        model.train()
        order = list(train_idx)
        rng.shuffle(order)
        chunks = [order[i : i + cfg.batch_size * 20] for i in range(0, len(order), cfg.batch_size * 20)]
        batches = []
        for ch in chunks:
            ch = sorted(ch, key=lambda i: lengths[i])
            batches.extend(ch[i : i + cfg.batch_size] for i in range(0, len(ch), cfg.batch_size))
        rng.shuffle(batches)
        te = time.time()
        total = 0.0
        for bi, dlg in enumerate(batches):
            set_lr(step)
            loss = context_loss(model, batcher.batch(bert, dlg), cfg.prefix_weight, torch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], 1.0)
            opt.step()
            step += 1
            total += loss.item()
            if (bi + 1) % 100 == 0:
                log(f"epoch {epoch + 1} step {bi + 1}/{len(batches)} loss {total / (bi + 1):.4f} ({time.time() - te:.0f}s)")
        dl = dev_loss()
        log(f"epoch {epoch + 1}/{cfg.epochs} train loss {total / max(len(batches), 1):.4f} dev loss {dl:.4f} "
            f"({time.time() - te:.0f}s)")
        if dl < best[0]:
            best = (dl, {k: v.detach().clone() for k, v in bert.state_dict().items()},
                    {k: v.detach().clone() for k, v in model.state_dict().items()})
    bert.load_state_dict(best[1])
    model.load_state_dict(best[2])
    bert.eval()
    model.eval()
    return bert, model, best[0], batcher


def scores_for(bert, model, batcher: Batcher, idx: list[int], torch) -> np.ndarray:
    out = []
    with torch.no_grad():
        for s in range(0, len(idx), 128):
            out.append(side_probs(model, batcher.batch(bert, idx[s : s + 128]), torch))
    return np.concatenate(out) if out else np.zeros((0, 2, 9), dtype=np.float32)


def label_rows(bundle: Bundle, idx: list[int]) -> list[LabelRow]:
    return [LabelRow(bundle.target[i], bundle.mask[i]) for i in idx]


def metrics_from_scores(dev_scores: np.ndarray, test_scores: np.ndarray, bundle: Bundle, dev_idx: list[int],
                        test_idx: list[int]) -> dict:
    """Thresholds calibrated on dev; test metrics at them, at 0.5, and AUROC."""
    test_rows = label_rows(bundle, test_idx)
    th = calibrate(dev_scores, label_rows(bundle, dev_idx))
    res = {"n": len(test_idx), "thresholds": th, **quick_metrics(test_scores, test_rows, th)}
    res["at_0.5"] = quick_metrics(test_scores, test_rows, {"user": 0.5, "assistant": 0.5})
    res["auroc"] = auroc(test_scores, test_rows)
    return res


def evaluate(bert, model, batcher: Batcher, bundle: Bundle, dev_idx: list[int], test_idx: list[int], torch,
             keep: dict | None = None) -> dict:
    """Thresholds calibrated on dev, metrics on test (torch forward, bf16 encoder); scores kept in `keep`."""
    dev_scores = scores_for(bert, model, batcher, dev_idx, torch)
    test_scores = scores_for(bert, model, batcher, test_idx, torch)
    if keep is not None:
        keep.update(dev=dev_scores, test=test_scores)
    return metrics_from_scores(dev_scores, test_scores, bundle, dev_idx, test_idx)


def save_encoder_parts(bert, folder: Path, max_bytes: int = 15 * 2**20) -> list[Path]:
    """Trained encoder tensors (frozen word pieces left out) as float16 safetensors parts under max_bytes each."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    parts: list[dict] = [{}]
    size = 0
    for k, v in bert.state_dict().items():
        if k in FROZEN or k.endswith("position_ids"):
            continue
        t = v.detach().to("cpu", dtype=torch.float16 if v.is_floating_point() else v.dtype).contiguous()
        nbytes = t.numel() * t.element_size()
        if size + nbytes > max_bytes and parts[-1]:
            parts.append({})
            size = 0
        parts[-1][k] = t
        size += nbytes
    paths = []
    for i, p in enumerate(parts):
        path = folder / f"encoder_part{i}.safetensors"
        save_file(p, str(path))
        paths.append(path)
    return paths


def split_indices(bundle: Bundle, holdout: set[str]) -> tuple[list[int], list[int], list[int]]:
    """train / dev / test dialogue indices; with `holdout`, its families leave train+dev and form the test set."""
    fam = bundle.families
    spl = bundle.splits
    n = len(bundle.lengths)
    if holdout:
        train = [i for i in range(n) if spl[i] == "train" and fam[i] not in holdout]
        dev = [i for i in range(n) if spl[i] == "dev" and fam[i] not in holdout]
        test = [i for i in range(n) if fam[i] in holdout]
    else:
        train = [i for i in range(n) if spl[i] == "train"]
        dev = [i for i in range(n) if spl[i] == "dev"]
        test = [i for i in range(n) if spl[i] == "test"]
    return train, dev, test


def run_fold(bundle: Bundle, args, cfg: FinetuneConfig, fold: list[str], name: str, keep: set[str] | None,
             results: dict, torch) -> None:
    """Train (and optionally the frozen baseline), evaluate on the fold's test set, export unless --no-export."""
    t0 = time.time()
    tr_i, dv_i, te_i = split_indices(bundle, set(fold))
    if keep is not None:
        te_i = [i for i in te_i if str(bundle.ids[i]) in keep]

    def log(msg: str) -> None:
        print(f"[{name}] {msg}", file=sys.stderr, flush=True)

    log(f"train {len(tr_i)} dev {len(dv_i)} test {len(te_i)}")
    if args.compare_frozen:
        fcfg = replace(cfg, encoder_lr=0.0, epochs=args.compare_frozen)
        fb, fm, fdl, fbat = finetune(bundle, args.encoder, tr_i, dv_i, fcfg, lambda m: log("frozen " + m))
        frozen_scores: dict = {}
        results[f"{name}/frozen"] = evaluate(fb, fm, fbat, bundle, dv_i, te_i, torch, frozen_scores)
        log("frozen " + json.dumps(results[f"{name}/frozen"]))
        del fb, fm, fbat
    bert, model, dl, batcher = finetune(bundle, args.encoder, tr_i, dv_i, cfg, log)
    tuned_scores: dict = {}
    res = evaluate(bert, model, batcher, bundle, dv_i, te_i, torch, tuned_scores)
    res.update(dev_loss=round(dl, 5), seconds=round(time.time() - t0, 1), config=asdict(cfg))
    results[name] = res
    log(json.dumps(res))
    if args.compare_frozen:
        results[f"{name}/average"] = metrics_from_scores(
            (frozen_scores["dev"] + tuned_scores["dev"]) / 2, (frozen_scores["test"] + tuned_scores["test"]) / 2,
            bundle, dv_i, te_i)
        log("average " + json.dumps(results[f"{name}/average"]))
    if not args.no_export:
        from mmshield.shields.embedded.training import export_weights

        tuned = cfg.encoder_lr > 0
        meta = {"dev_loss": round(dl, 5), "config": asdict(cfg), "thresholds_torch": res["thresholds"],
                "n_train": len(tr_i), "n_dev": len(dv_i), **({"encoder": "finetuned"} if tuned else {})}
        export_weights(model.to("cpu").float(), args.out / "context_model.npz", meta)
        if tuned:
            save_encoder_parts(bert, args.out)


__all__ = ["FinetuneConfig", "finetune", "main", "run_fold", "save_encoder_parts", "split_indices"]


def main(argv: list[str] | None = None) -> int:
    """python -m mmshield.shields.embedded.finetune --bundle B --encoder DIR --out DIR [--holdout FAM ...]"""
    import argparse

    import torch

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--encoder", type=Path, required=True, help="MiniLM folder (config.json, model.safetensors, tokenizer.json)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--holdout", action="append", default=[], help="leave-one-family-out: run one fold per value")
    ap.add_argument("--no-export", action="store_true", help="metrics only (leave-one-out folds)")
    ap.add_argument("--test-ids", type=Path, default=None,
                    help="JSON list of dialogue ids: score only these test dialogues (compare bundles on the same records)")
    ap.add_argument("--seeds", type=int, nargs="*", default=None, help="one run per seed (default: --seed)")
    ap.add_argument("--compare-frozen", type=int, default=0, metavar="EPOCHS",
                    help="also train with the encoder frozen for EPOCHS epochs, and score the average of both")
    for f, v in asdict(FinetuneConfig()).items():
        ap.add_argument(f"--{f.replace('_', '-')}", type=type(v), default=v)
    args = ap.parse_args(argv)
    cfg = FinetuneConfig(**{f: getattr(args, f) for f in asdict(FinetuneConfig())})
    bundle = Bundle.load(args.bundle)
    args.out.mkdir(parents=True, exist_ok=True)
    folds = [[h] for h in args.holdout] or [[]]
    results = {}
    keep = set(json.loads(args.test_ids.read_text())) if args.test_ids else None
    seeds = args.seeds or [cfg.seed]
    for fold in folds:
        for seed in seeds:
            name = (fold[0] if fold else "all") + (f"/seed{seed}" if len(seeds) > 1 else "")
            run_fold(bundle, args, replace(cfg, seed=seed), fold, name, keep, results, torch)
            (args.out / "finetune_results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
