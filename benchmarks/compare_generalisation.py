"""Compare two leave-one-family-out reports (benchmarks/generalisation.py JSON) family by family.

Run: .venv/bin/python benchmarks/compare_generalisation.py reports/generalisation-standard.json \
        reports/generalisation-large.json --names standard large --out reports/compare-standard-large
Prints a markdown table (user AUROC, user recall / FPR at the dev threshold, assistant AUROC / F1) and writes
a PNG with the user-side AUROC per family and the false-positive rate on benign look-alike families.
Both reports should test on the same records (`generalisation.py --test-cache`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(reports: list[dict], names: list[str]) -> str:
    lines = ["| held-out family | training set | user AUROC | user recall | user FPR | asst AUROC | asst F1 |",
             "|---|---|---|---|---|---|---|"]
    for fam in reports[0]:
        for name, rep in zip(names, reports):
            r = rep.get(fam)
            if r is None:
                continue
            u, a, auc = r["user"], r["assistant"], r.get("auroc", {})
            recall = cell(u["recall"]) if u["positives"] else "-"
            f1 = cell(a["f1"]) if a["positives"] else "-"
            lines.append(f"| {fam} | {name} | {cell(auc.get('user'))} | {recall} | {cell(u['fpr'])} | "
                         f"{cell(auc.get('assistant'))} | {f1} |")
    return "\n".join(lines)


def plot(reports: list[dict], names: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fams = list(reports[0])
    ranked = [f for f in fams if reports[0][f].get("auroc", {}).get("user") is not None]
    benign = [f for f in fams if reports[0][f]["user"]["positives"] == 0]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [max(len(ranked), 1), max(len(benign), 1)]})
    width = 0.8 / len(reports)
    for k, (name, rep) in enumerate(zip(names, reports)):
        xs = np.arange(len(ranked)) + k * width
        axes[0].bar(xs, [rep[f]["auroc"]["user"] for f in ranked], width, label=name)
        xb = np.arange(len(benign)) + k * width
        axes[1].bar(xb, [rep[f]["user"]["fpr"] for f in benign], width, label=name)
    axes[0].set_xticks(np.arange(len(ranked)) + width * (len(reports) - 1) / 2, ranked, rotation=20)
    axes[0].set_ylim(0.5, 1.0)
    axes[0].set_title("user AUROC, held-out family (higher is better)")
    axes[1].set_xticks(np.arange(len(benign)) + width * (len(reports) - 1) / 2, benign)
    axes[1].set_title("user FPR, look-alikes\n(lower is better)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reports", type=Path, nargs="+")
    ap.add_argument("--names", nargs="*", default=None)
    ap.add_argument("--out", type=Path, default=Path("reports/compare-generalisation"))
    args = ap.parse_args()
    reports = [json.loads(p.read_text()) for p in args.reports]
    names = args.names or [p.stem for p in args.reports]
    md = table(reports, names)
    print(md)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(md + "\n")
    plot(reports, names, args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
