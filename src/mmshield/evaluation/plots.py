"""PNG plots of an evaluation: precision-recall curves and confusion matrices (matplotlib, imported lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmshield.dialogue import SIDES


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("plots need matplotlib: pip install 'mmshield[report]'") from exc
    return plt


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_pr_curves(result: dict[str, Any], path: Path) -> Path | None:
    """Precision-recall curve per side (from `details.<side>.pr.points`); None when no side has scores."""
    curves = {s: (result.get("details", {}).get(s) or {}).get("pr") for s in SIDES}
    curves = {s: c for s, c in curves.items() if c}
    if not curves:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    for side, pr in curves.items():
        pts = [p for p in pr["points"] if p["precision"] is not None and p["recall"] is not None]
        rec = [0.0] + [p["recall"] for p in pts]
        prec = [pts[0]["precision"] if pts else 1.0] + [p["precision"] for p in pts]
        auprc = pr.get("auprc")
        ax.step(rec, prec, where="post", label=f"{side} (AUPRC {auprc:.3f})" if auprc is not None else side)
    ax.set_xlabel("recall (Unsafe)")
    ax.set_ylabel("precision (Unsafe)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title("Precision-recall by side")
    ax.legend(loc="lower left")
    return _save(plt, fig, path)


def plot_confusion(labels: list[str], matrix: list[list[int]], title: str, path: Path) -> Path:
    """A confusion matrix heat map with counts (rows gold, columns predicted)."""
    plt = _pyplot()
    size = max(3.5, 0.7 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.85), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    short = [lab if len(lab) <= 18 else lab[:17] + "." for lab in labels]
    ax.set_xticks(range(len(labels)), short, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), short)
    top = max((v for row in matrix for v in row), default=0)
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if top and v > top / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    return _save(plt, fig, path)


def write_plots(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """All plots of an evaluation result (`EvalResult.to_dict()`) into `out_dir`; returns the files."""
    out_dir = Path(out_dir)
    files: list[Path] = []
    pr = plot_pr_curves(result, out_dir / "pr_curve.png")
    if pr:
        files.append(pr)
    for side in SIDES:
        det = result.get("details", {}).get(side) or {}
        if det.get("confusion"):
            files.append(plot_confusion(["Safe", "Unsafe"], det["confusion"], f"{side}: Safe / Unsafe",
                                        out_dir / f"confusion_{side}.png"))
        dc = det.get("dimension_confusion")
        if dc and dc.get("labels"):
            files.append(plot_confusion(dc["labels"], dc["matrix"], f"{side}: dimensions",
                                        out_dir / f"confusion_{side}_dimensions.png"))
    return files
