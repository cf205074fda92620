"""Leave-one-source-family-out evaluation of the embedded shield's context model.

For each family F: train on train+dev records of every other family (dev used for early stopping and
threshold calibration), then test on ALL records of F (every split). Benign look-alike families
report their false-positive rate. Uses the features cached by `mmshield train`.

Run: .venv/bin/python benchmarks/generalisation.py --data build/mmds-open [--families a,b] [--epochs 8]
Writes reports/generalisation.json and .md (and a PNG bar chart).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from mmshield.shields.embedded import heads_training as ht
from mmshield.shields.embedded import training as tr
from mmshield.shields.embedded.family_calibration import out_of_family_thresholds
from mmshield.shields.embedded.model import ContextModel
from mmshield.taxonomy import DIMENSION_NAMES


def heads_store(features_cache: Path) -> ht.TokenStore:
    """The word-piece store of a features cache (`mmshield train --heads` builds it)."""
    store = ht.TokenStore.load(features_cache / "tokens", tr.read_slot_texts(features_cache))
    if store is None:
        sys.exit(f"no word-piece store for the texts of {features_cache}: run `mmshield train --heads K` on it first")
    return store


def strategies_of(data: Path) -> dict[str, str]:
    """Each record's `strategy` (card, benign_split, plain, ...) by id, from a build's three splits."""
    out: dict[str, str] = {}
    for s in ("train", "dev", "test"):
        for rec in tr.load_records(data / f"{s}.jsonl"):
            out[str(rec.get("id"))] = str(rec.get("strategy") or "")
    return out


def by_strategy(scores, examples: list[tr.Example], thresholds: dict[str, float], strategy_of: dict[str, str],
                min_n: int = 20) -> dict[str, dict]:
    """The held-out family's metrics per record strategy (at the fold's thresholds), for strategies with at least
    `min_n` records: how a look-alike typed compares with the same carried by an image."""
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        groups.setdefault(strategy_of.get(e.id, ""), []).append(i)
    return {name: {"n": len(idx), **tr.quick_metrics(scores[idx], [examples[i] for i in idx], thresholds)}
            for name, idx in sorted(groups.items()) if len(idx) >= min_n}


def encoder_member(plain_splits: dict[str, list[tr.Example]], fam: str, args: argparse.Namespace,
                   splits_equal: tuple[list[tr.Example], list[tr.Example]]
                   ) -> tuple[list[tr.Example], list[tr.Example], ContextModel]:
    """The fold's dev and test records on the plain (MiniLM) features, and a context model trained on them without
    `fam` (the first seed): the second member of an ensemble across encoders."""
    plain_dev = [e for e in plain_splits["dev"] if e.family != fam]
    plain_test = [e for s in ("train", "dev", "test") for e in plain_splits[s] if e.family == fam]
    if [e.id for e in plain_dev] != [e.id for e in splits_equal[0]] or \
            [e.id for e in plain_test] != [e.id for e in splits_equal[1]]:
        raise ValueError("the plain and table features do not hold the same records in the same order")
    model = tr.train([e for e in plain_splits["train"] if e.family != fam], plain_dev,
                     tr.TrainConfig(epochs=args.epochs, seed=args.seed),
                     log=lambda m: print(f"[{fam} plain member] {m}", file=sys.stderr))[0]
    return plain_dev, plain_test, tr.numpy_model(model)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("build/mmds-open"))
    ap.add_argument("--features-cache", type=Path, default=Path("build/features"))
    ap.add_argument("--families", default="", help="comma list (default: all with >= 100 records)")
    ap.add_argument("--test-cache", type=Path, default=None,
                    help="take each held-out family's test records from this features cache instead (compare two "
                         "training sets on the same test records)")
    ap.add_argument("--member-cache", type=Path, action="append", default=[],
                    help="also train a member on this features cache (without the family) and score the average")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=tr.TrainConfig.hidden, help="GRU width of every fold's model")
    ap.add_argument("--proj", type=int, default=tr.TrainConfig.proj, help="input projection width of every fold's model")
    ap.add_argument("--dropout", type=float, default=tr.TrainConfig.dropout)
    ap.add_argument("--weight-decay", type=float, default=tr.TrainConfig.weight_decay)
    ap.add_argument("--out", type=Path, default=Path("reports/generalisation"))
    ap.add_argument("--smoothing", type=float, nargs="*", default=[0.05, 0.1],
                    help="also report each fold with thresholds from dev F1 smoothed over +-these windows")
    ap.add_argument("--ensemble", type=int, default=1, help="context models (seeds) per fold, averaged")
    ap.add_argument("--seed", type=int, default=13, help="seed of the first context model (the k-th has seed + k)")
    ap.add_argument("--out-of-family-groups", type=int, default=0, metavar="K",
                    help="also report each fold with thresholds from out-of-family scores of its training families "
                         "(K groups, K extra trainings per fold; `mmshield train --calibration out-of-family`)")
    ap.add_argument("--adaptation-weights", type=float, nargs="*", default=[0.0, 0.25, 0.5, 1.0],
                    help="also report each fold under these calibration weights of the policy-adaptation probes")
    ap.add_argument("--policy-drop-weight", type=float, default=0.0, metavar="W",
                    help="train every fold with this policy-drop weight (`mmshield train --policy-drop-weight`)")
    ap.add_argument("--policy-drop-sides", choices=("both", "user", "assistant"), default="both",
                    help="the sides the policy-drop term applies to (`mmshield train --policy-drop-sides`)")
    ap.add_argument("--family-balance", type=float, default=0.0, metavar="ALPHA",
                    help="train every fold drawing dialogues with weight (family size) ** -ALPHA")
    ap.add_argument("--hard-negative-weight", type=float, default=1.0, metavar="W",
                    help="train every fold drawing hard negatives W times as often (`mmshield train --hard-negative-weight`)")
    ap.add_argument("--preference-weight", type=float, default=0.0, metavar="W",
                    help="train every fold with the preference-pair term (`mmshield train --preference-weight`; "
                         "the pairs cached in --features-cache)")
    ap.add_argument("--preference-head-only", action="store_true",
                    help="the preference term trains the assistant head only (`mmshield train --preference-head-only`)")
    ap.add_argument("--heads", type=int, default=0, metavar="K",
                    help="give the context model K attention heads, fitted per fold without the held-out family "
                         "(`mmshield train --heads`; the word-piece store `mmshield train` kept in --features-cache)")
    ap.add_argument("--heads-output", choices=("pooled", "scores"), default="pooled",
                    help="with --heads: what the context model reads of them (`mmshield train --heads-output`)")
    ap.add_argument("--heads-rank", type=int, default=0, metavar="R",
                    help="with --heads: the rank of the heads' input projection while training (`mmshield train --heads-rank`)")
    ap.add_argument("--text-table", type=Path, default=None, metavar="NPY",
                    help="a vector per text of --features-cache's slot texts (rows in their order; "
                         "`encoder_probe.py table` makes one with another encoder), read by the context model beside "
                         "the mean embeddings, in every slot, as it reads heads")
    ap.add_argument("--erase-family-rank", type=int, default=0, metavar="K",
                    help="project K directions of family style (within a label, fitted per fold without the held-out "
                         "family: `family_erasure`) out of every text slot")
    ap.add_argument("--text-table-member", action="store_true",
                    help="with --text-table: average each fold's table-fed model with a model on the plain features "
                         "(an ensemble across encoders: their softmaxes averaged, thresholds from the averaged dev scores)")
    ap.add_argument("--text-table-instead", action="store_true",
                    help="with --text-table: the table's vectors replace the MiniLM means (the context model reads "
                         "only the other encoder)")
    args = ap.parse_args()
    if args.text_table_member and args.text_table is None:
        ap.error("--text-table-member needs --text-table")
    if (args.heads or args.text_table) and (args.test_cache or args.member_cache or args.preference_weight):
        ap.error("--heads and --text-table work on --features-cache alone (no --test-cache, --member-cache or --preference-weight)")

    splits = {s: tr.load_examples(args.features_cache / f"{s}.npz") for s in ("train", "dev", "test")}
    pairs = tr.load_cached_pairs(args.features_cache) if args.preference_weight > 0 else None
    for s, ex in splits.items():  # caches older than the pattern field: read it from the build
        tr.attach_patterns(ex, args.data / f"{s}.jsonl")
    everything = [e for s in splits.values() for e in s]
    test_pool = everything if args.test_cache is None else [
        e for s in ("train", "dev", "test") for e in tr.load_examples(args.test_cache / f"{s}.npz")]
    member_splits = {cache: {s: tr.load_examples(cache / f"{s}.npz") for s in ("train", "dev")}
                     for cache in args.member_cache}
    counts: dict[str, int] = {}
    for e in everything:
        counts[e.family] = counts.get(e.family, 0) + 1
    fams = [f for f in args.families.split(",") if f] or sorted(f for f, c in counts.items() if c >= 100)
    results = {}
    strategy_of = strategies_of(args.data)
    store = heads_store(args.features_cache) if args.heads else None
    plain_splits = splits
    if args.text_table is not None:
        splits = ht.with_text_table(splits, args.text_table, args.features_cache, instead=args.text_table_instead)
        everything = test_pool = [e for s in splits.values() for e in s]
    for fam in fams:
        fold = splits
        if store is not None:  # heads fitted without the family, as `mmshield train --holdout-family` fits them
            _, table = ht.prepare_heads(splits, store, ht.HeadsConfig(count=args.heads, output=args.heads_output,
                                                                               seed=args.seed),
                                        len(DIMENSION_NAMES) + 1, exclude_families={fam})
            fold = {s: ht.with_heads(ex, table) for s, ex in splits.items()}
            test_pool = [e for s in fold.values() for e in s]
        train_ex = [e for e in fold["train"] if e.family != fam]
        dev_ex = [e for e in fold["dev"] if e.family != fam]
        test_ex = [e for e in test_pool if e.family == fam]
        models = [tr.train(train_ex, dev_ex, tr.TrainConfig(epochs=args.epochs, seed=args.seed + k,
                                                                 hidden=args.hidden, proj=args.proj,
                                                                 dropout=args.dropout, weight_decay=args.weight_decay,
                                                                 policy_drop_weight=args.policy_drop_weight,
                                                                 policy_drop_sides=args.policy_drop_sides,
                                                                 family_balance=args.family_balance,
                                                                 hard_negative_weight=args.hard_negative_weight,
                                                                 preference_weight=args.preference_weight,
                                                                 preference_head_only=args.preference_head_only,
                                                                 heads_rank=args.heads_rank,
                                                                 erase_family_rank=args.erase_family_rank),
                           log=lambda m, fam=fam, k=k: print(f"[{fam} seed {args.seed + k}] {m}", file=sys.stderr),
                           pairs=None if pairs is None else (pairs["train"], pairs["dev"]))[0]
                  for k in range(args.ensemble)]
        for cache, cached in member_splits.items():  # a member trained on another build (its train and dev, minus the family)
            other = {s: [e for e in ex if e.family != fam] for s, ex in cached.items()}
            models.append(tr.train(other["train"], other["dev"], tr.TrainConfig(epochs=args.epochs, seed=args.seed),
                                   log=lambda m, fam=fam, c=cache.name: print(f"[{fam} member {c}] {m}", file=sys.stderr))[0])
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "w.npz"
            tr.export_weights(models if len(models) > 1 else models[0], p, {})
            npm = ContextModel.load(p)
            if len(models) > 1:  # the first member alone: the single-model baseline of the same fold
                tr.export_weights(models[0], Path(tmp) / "m0.npz", {})
                m0 = ContextModel.load(Path(tmp) / "m0.npz")
                d0, t0 = tr.side_scores(m0, dev_ex), tr.side_scores(m0, test_ex)
                single = {"thresholds": (th0 := tr.calibrate(d0, dev_ex)), **tr.quick_metrics(t0, test_ex, th0)}
        dev_scores, test_scores = tr.side_scores(npm, dev_ex), tr.side_scores(npm, test_ex)
        if args.text_table_member:  # same records in the same order, read by a model on the plain features
            plain_dev, plain_test, plain_model = encoder_member(plain_splits, fam, args, splits_equal=(dev_ex, test_ex))
            dev_scores = (dev_scores + tr.side_scores(plain_model, plain_dev)) / 2
            test_scores = (test_scores + tr.side_scores(plain_model, plain_test)) / 2
        th = tr.calibrate(dev_scores, dev_ex)
        results[fam] = {"n": len(test_ex), "thresholds": th, **tr.quick_metrics(test_scores, test_ex, th),
                        "auroc": tr.auroc(test_scores, test_ex),
                        "at_0.5": tr.quick_metrics(test_scores, test_ex, {"user": 0.5, "assistant": 0.5}),
                        "pair_accuracy": tr.pair_accuracy(npm, pairs["test"]) if pairs else None}
        results[fam]["by_strategy"] = by_strategy(test_scores, test_ex, th, strategy_of)
        # the same fold under other calibration rules (weight of the policy-adaptation probes on dev)
        results[fam]["by_adaptation_weight"] = {
            str(w): {"thresholds": (t := tr.calibrate(dev_scores, dev_ex, adaptation_weight=w)),
                     **tr.quick_metrics(test_scores, test_ex, t)}
            for w in args.adaptation_weights}
        results[fam]["by_smoothing"] = {
            str(w): {"thresholds": (t := tr.calibrate(dev_scores, dev_ex, smooth=w)), **tr.quick_metrics(test_scores, test_ex, t)}
            for w in args.smoothing}
        if args.out_of_family_groups:
            th_oof = out_of_family_thresholds(train_ex, dev_ex, tr.TrainConfig(epochs=args.epochs, seed=args.seed),
                                              args.out_of_family_groups,
                                              log=lambda m, fam=fam: print(f"[{fam} calibration] {m}", file=sys.stderr))
            results[fam]["out_of_family"] = {"thresholds": th_oof, **tr.quick_metrics(test_scores, test_ex, th_oof)}
        if len(models) > 1:
            results[fam]["single_model"] = single
        print(json.dumps({fam: results[fam]}), file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| held-out family | n | user n+ | user P | user R | user F1 | user FPR | asst n+ | asst F1 | asst FPR |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for fam, r in results.items():
        u, a = r["user"], r["assistant"]
        lines.append(f"| {fam} | {r['n']} | {u['positives']} | {u['precision']} | {u['recall']} | {u['f1']} | {u['fpr']} | "
                     f"{a['positives']} | {a['f1']} | {a['fpr']} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(max(6, len(results) * 0.8), 4))
        names = list(results)
        ax.bar([i - 0.2 for i in range(len(names))], [results[n]["user"]["recall"] for n in names], 0.4, label="user recall")
        ax.bar([i + 0.2 for i in range(len(names))], [results[n]["user"]["fpr"] for n in names], 0.4, label="user FPR")
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_ylim(0, 1)
        ax.legend()
        ax.set_title("Leave-one-family-out (user side)")
        fig.tight_layout()
        fig.savefig(args.out.with_suffix(".png"), dpi=120)
    except ImportError:
        pass


if __name__ == "__main__":
    main()
