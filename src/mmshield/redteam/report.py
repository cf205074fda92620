"""Red-team reports: ASR per target, score distribution, mean score per turn, score with vs without images.

Figures over one or more run folders:
- ASR per target: share of tasks whose search reached score 5.
- score distribution: histogram of each task's best score.
- mean score per turn: over every judged exchange in the trees (refused attempts included, score 1),
  grouped by the turn index (depth) of the exchange.
- images: mean judge score of exchanges whose user turn attached images vs those without.
Markdown (`report.md`), JSON (`report.json`) and PNG plots.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mmshield.redteam.runner import load_results


def _exchanges(tree: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(turn index, exchange) for every judged exchange: nodes, backtracked attempts and rollout turns."""
    stack = [tree]
    while stack:
        node = stack.pop()
        stack.extend(node.get("children", []))
        d = node["depth"]
        if node.get("exchange"):
            yield d, node["exchange"]
        for b in node.get("backtracked", []):
            yield d, b
        for k, r in enumerate(node.get("rollout", [])):
            yield d + 1 + k, r


def compute(results: list[dict[str, Any]]) -> dict[str, Any]:
    by_target: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by_target[r["target"]].append(r)
    targets = {}
    for tgt, rs in sorted(by_target.items()):
        per_turn: dict[int, list[int]] = defaultdict(list)
        img: dict[bool, list[int]] = {True: [], False: []}
        dims: dict[str, list[bool]] = defaultdict(list)
        for r in rs:
            dims[r["task"]["dimension"]].append(bool(r["success"]))
            for depth, ex in _exchanges(r["tree"]):
                per_turn[depth].append(int(ex["score"]))
                img[bool(ex["images"])].append(int(ex["score"]))
        n = len(rs)
        succ = sum(bool(r["success"]) for r in rs)
        targets[tgt] = {
            "n_tasks": n, "successes": succ, "asr": succ / n if n else 0.0,
            "mean_best_score": sum(r["best_score"] for r in rs) / n if n else 0.0,
            "best_score_distribution": {str(s): Counter(r["best_score"] for r in rs).get(s, 0) for s in range(1, 6)},
            "mean_score_per_turn": {str(k): sum(v) / len(v) for k, v in sorted(per_turn.items())},
            "n_exchanges_per_turn": {str(k): len(v) for k, v in sorted(per_turn.items())},
            "mean_score_with_images": sum(img[True]) / len(img[True]) if img[True] else None,
            "mean_score_without_images": sum(img[False]) / len(img[False]) if img[False] else None,
            "n_with_images": len(img[True]), "n_without_images": len(img[False]),
            "asr_per_dimension": {d: sum(v) / len(v) for d, v in sorted(dims.items())},
            "mean_target_calls": sum(r["target_calls"] for r in rs) / n if n else 0.0,
            "status": dict(Counter(r["status"] for r in rs)),
        }
    return {"targets": targets, "n_results": len(results)}


def _fmt(x: Any) -> str:
    return "-" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x))


def markdown(rep: dict[str, Any]) -> str:
    lines = ["# MMRT red-teaming report", ""]
    lines += ["| target | tasks | successes | ASR | mean best score | mean score with images | without images | mean target calls |",
              "|---|---|---|---|---|---|---|---|"]
    for t, s in rep["targets"].items():
        lines.append(f"| {t} | {s['n_tasks']} | {s['successes']} | {s['asr']:.1%} | {s['mean_best_score']:.2f} | "
                     f"{_fmt(s['mean_score_with_images'])} (n={s['n_with_images']}) | "
                     f"{_fmt(s['mean_score_without_images'])} (n={s['n_without_images']}) | {s['mean_target_calls']:.1f} |")
    for t, s in rep["targets"].items():
        lines += ["", f"## {t}", "", "Best-score distribution: "
                  + ", ".join(f"{k}: {v}" for k, v in s["best_score_distribution"].items()),
                  "", "| turn | mean score | exchanges |", "|---|---|---|"]
        for k, v in s["mean_score_per_turn"].items():
            lines.append(f"| {int(k)} | {v:.2f} | {s['n_exchanges_per_turn'][k]} |")
        lines += ["", "| dimension | ASR |", "|---|---|"]
        lines += [f"| {d} | {a:.1%} |" for d, a in s["asr_per_dimension"].items()]
        lines += ["", f"Search outcomes: {s['status']}"]
    lines += ["", "Plots: `asr.png`, `score_distribution.png`, `score_per_turn.png`, `images.png`.", ""]
    return "\n".join(lines)


def plots(rep: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    T = rep["targets"]
    names = list(T)
    files = []

    def save(fig, name):
        p = out / name
        fig.tight_layout()
        fig.savefig(p, dpi=90)
        plt.close(fig)
        files.append(p)

    fig, ax = plt.subplots(figsize=(max(4, 1.5 * len(names)), 3.2))
    ax.bar(range(len(names)), [T[n]["asr"] * 100 for n in names], color="#d73027")
    ax.set_xticks(range(len(names)), [n[:28] for n in names], rotation=15, fontsize=8)
    ax.set_ylabel("ASR (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Attack success rate per target")
    save(fig, "asr.png")

    fig, ax = plt.subplots(figsize=(5, 3.2))
    width = 0.8 / max(1, len(names))
    for i, n in enumerate(names):
        dist = T[n]["best_score_distribution"]
        ax.bar([s + i * width for s in range(1, 6)], [dist[str(s)] for s in range(1, 6)], width=width, label=n[:28])
    ax.set_xlabel("best judge score")
    ax.set_ylabel("tasks")
    ax.set_title("Score distribution")
    ax.legend(fontsize=7)
    save(fig, "score_distribution.png")

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for n in names:
        pts = sorted((int(k), v) for k, v in T[n]["mean_score_per_turn"].items())
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=n[:28])
    ax.set_xlabel("turn")
    ax.set_ylabel("mean judge score")
    ax.set_ylim(1, 5)
    ax.set_title("Mean score per turn")
    ax.legend(fontsize=7)
    save(fig, "score_per_turn.png")

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for i, n in enumerate(names):
        vals = [T[n]["mean_score_without_images"] or 0, T[n]["mean_score_with_images"] or 0]
        ax.bar([0 + i * width, 1 + i * width], vals, width=width, label=n[:28])
    ax.set_xticks([0, 1], ["without images", "with images"])
    ax.set_ylabel("mean judge score")
    ax.set_ylim(0, 5)
    ax.set_title("Score with vs without images")
    ax.legend(fontsize=7)
    save(fig, "images.png")
    return files


def write_report(rundirs: list[Path], out: Path, *, with_plots: bool = True) -> dict[str, Any]:
    """Compute the figures over the runs, write report.md, report.json and the PNG plots into `out`."""
    results = [r for d in rundirs for r in load_results(Path(d))]
    rep = compute(results)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(markdown(rep), "utf-8")
    (out / "report.json").write_text(json.dumps(rep, indent=1), "utf-8")
    if with_plots and results:
        plots(rep, out)
    return rep
