"""The search tree as a log: rendered as indented text and as a PNG picture (matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _short(s: str, n: int) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "\u2026"


def render_text(tree: dict[str, Any], *, width: int = 90, best_ids: set[int] | None = None) -> str:
    """One line per node: id, score, visits, mean reward, best, strategy, images, question; then reply,
    backtracked (refused) attempts and rollout turns indented below it. `*` marks the best path."""
    best_ids = best_ids or set()
    lines: list[str] = []

    def walk(node: dict[str, Any], indent: str) -> None:
        ex = node.get("exchange")
        q = node["w"] / node["n"] if node["n"] else 0.0
        mark = "*" if node["id"] in best_ids else " "
        if ex is None:
            lines.append(f"{mark}[root] n={node['n']} Q={q:.2f} best={node['best']}")
        else:
            imgs = ",".join(i["id"] for i in ex["images"]) or "-"
            lines.append(f"{indent}{mark}#{node['id']} score={node['score']} n={node['n']} Q={q:.2f} best={node['best']} "
                         f"[{ex['attack']['strategy']}] img={imgs} Q: {_short(ex['attack']['next_question'], width)}")
            lines.append(f"{indent}    A: {_short(ex['reply'], width)}")
            for b in node.get("backtracked", []):
                lines.append(f"{indent}    x refused, backtracked: {_short(b['attack']['next_question'], width - 10)}")
            for r in node.get("rollout", []):
                lines.append(f"{indent}    ~ rollout score={r['score']}: {_short(r['attack']['next_question'], width - 10)}")
        for c in node.get("children", []):
            walk(c, indent + "  ")

    walk(tree, "")
    return "\n".join(lines) + "\n"


_COLORS = {1: "#4575b4", 2: "#91bfdb", 3: "#fee090", 4: "#fc8d59", 5: "#d73027"}


def render_png(tree: dict[str, Any], path: Path, *, title: str = "", best_ids: set[int] | None = None) -> Path:
    """Draw the tree (nodes coloured by judge score, best path outlined) to a PNG file, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    best_ids = best_ids or set()
    pos: dict[int, tuple[float, float]] = {}
    edges: list[tuple[int, int]] = []
    info: dict[int, dict[str, Any]] = {}
    counter = [0]

    def layout(node: dict[str, Any]) -> float:
        info[node["id"]] = node
        kids = node.get("children", [])
        if not kids:
            x = float(counter[0])
            counter[0] += 1
        else:
            xs = [layout(c) for c in kids]
            for c in kids:
                edges.append((node["id"], c["id"]))
            x = sum(xs) / len(xs)
        pos[node["id"]] = (x, -float(node["depth"]))
        return x

    layout(tree)
    n_leaves = max(counter[0], 1)
    depth = max(-y for _, y in pos.values()) if pos else 0
    fig, ax = plt.subplots(figsize=(min(2 + 1.1 * n_leaves, 30), 1.8 + 1.2 * depth))
    for a, b in edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        on_best = a in best_ids | {tree["id"]} and b in best_ids
        ax.plot([x1, x2], [y1, y2], color="#d73027" if on_best else "#999999", lw=2.5 if on_best else 1, zorder=1)
    for nid, (x, y) in pos.items():
        node = info[nid]
        ex = node.get("exchange")
        color = "#dddddd" if ex is None else _COLORS.get(node["score"], "#cccccc")
        ax.scatter([x], [y], s=520, c=color, edgecolors="black" if nid in best_ids else "#666666",
                   linewidths=2.5 if nid in best_ids else 0.8, zorder=2)
        label = "root" if ex is None else str(node["score"])
        ax.text(x, y, label, ha="center", va="center", fontsize=9, zorder=3)
        if ex is not None:
            extra = f"n={node['n']}" + (f" x{len(node['backtracked'])}" if node.get("backtracked") else "")
            extra += " img" if ex["images"] else ""
            ax.text(x, y - 0.32, extra, ha="center", va="top", fontsize=7, color="#333333")
    ax.set_title(title or "MMRT search tree (colour = judge score 1-5; x = refusals backtracked)", fontsize=10)
    ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)
    return path


def best_path_ids(tree: dict[str, Any], best_questions: list[str]) -> set[int]:
    """Ids of the tree nodes whose questions form the best path (rollout turns are not tree nodes)."""
    ids: set[int] = set()
    node = tree
    for q in best_questions:
        nxt = next((c for c in node.get("children", []) if c["exchange"]["attack"]["next_question"] == q), None)
        if nxt is None:
            break
        ids.add(nxt["id"])
        node = nxt
    return ids
