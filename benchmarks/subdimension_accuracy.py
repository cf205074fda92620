"""How often the shield names the right subdimension: taxonomy descriptions against centroids of training turns.

For every Unsafe side of the test split that has a subdimension (the side's last turn, as `subdimensions`
reads it), the gold dimension is given and the subdimension is chosen among its subdimensions three ways:
by the description's embedding alone (the shield without centroids), by centroids of the train split, and by
centroids fitted without the record's own source family (leave-family-out: the turns of an unseen source).
Gold subdimensions come from the build (sources and the lexicon), so they are noisy; the comparison is what
counts. Reads the features cache (`mmshield train` makes it), no encoder pass but the descriptions.

Run: .venv/bin/python benchmarks/subdimension_accuracy.py --data build/mmds-open --features-cache build/features
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from mmshield import get_shield
from mmshield.shields.embedded import training as tr
from mmshield.shields.embedded.subdimensions import best_subdimension, fit_centroids, labelled_turns
from mmshield.taxonomy import load_taxonomy


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("build/mmds-open"))
    ap.add_argument("--features-cache", type=Path, default=Path("build/features"))
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    train = labelled_turns(tr.load_examples(args.features_cache / "train.npz"), args.data / "train.jsonl")
    test = labelled_turns(tr.load_examples(args.features_cache / "test.npz"), args.data / "test.jsonl")
    shield = get_shield("embedded", read_images=False)
    taxonomy = {d.name: [s.name for s in d.subdimensions] for d in load_taxonomy()}
    descriptions = {d.name: shield.semantic_encode([f"{s.name}: {s.description}" for s in d.subdimensions])
                    for d in load_taxonomy()}
    everything = fit_centroids(train)
    by_family: dict[str, list] = defaultdict(list)
    for row in train:
        by_family[row[3]].append(row)
    without: dict[str, dict] = {}

    def grouped(centroids: dict, dim: str) -> tuple[list[str], np.ndarray] | None:
        keys = [k for k in centroids if k[0] == dim]
        return ([k[1] for k in keys], np.stack([centroids[k] for k in keys])) if keys else None

    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for dim, gold, v, family in test:
        if dim not in taxonomy or gold not in taxonomy[dim]:
            continue
        if family not in without:
            without[family] = fit_centroids(r for r in train if r[3] != family)
        names, desc = taxonomy[dim], descriptions[dim]
        picks = (best_subdimension(names, desc, v, None), best_subdimension(names, desc, v, grouped(everything, dim)),
                 best_subdimension(names, desc, v, grouped(without[family], dim)))
        for key in ("all", dim):
            t = tally[key]
            t[0] += 1
            for i, p in enumerate(picks):
                t[i + 1] += p == gold
    results = {k: {"n": n, "description": round(a / n, 3), "centroids": round(b / n, 3),
                   "centroids_without_family": round(c / n, 3)} for k, (n, a, b, c) in tally.items()}
    print("| dimension | n | description | centroids | centroids, own family left out |\n|---|---|---|---|---|")
    for k, r in sorted(results.items(), key=lambda kv: (kv[0] != "all", kv[0])):
        print(f"| {k} | {r['n']} | {r['description']:.3f} | {r['centroids']:.3f} | {r['centroids_without_family']:.3f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
