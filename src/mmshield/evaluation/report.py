"""Evaluation reports: Markdown for people, JSON for machines, plus PNG plots."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from mmshield.dialogue import SIDES

BINARY_KEYS = ("n", "precision", "recall", "f1", "accuracy", "fpr")


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def to_markdown(result: dict[str, Any], *, title: str = "mmshield evaluation", sources: dict[str, str] | None = None) -> str:
    """Render an evaluation result (`EvalResult.to_dict()`) as a Markdown report."""
    lines = [f"# {title}", ""]
    for k, v in (sources or {}).items():
        lines.append(f"- {k}: `{v}`")
    lines.append(f"- records: {result.get('n_records')}; failures counted as: {result.get('failures')}")
    if result.get("missing"):
        lines.append(f"- missing predictions ({len(result['missing'])}): {', '.join(result['missing'])}")
    if result.get("errors"):
        lines.append(f"- predictions with an error ({len(result['errors'])}): "
                     + "; ".join(f"{k}: {v.get('message', '')}" for k, v in result["errors"].items()))
    if result.get("extra_predictions"):
        lines.append(f"- predictions without gold ({len(result['extra_predictions'])}) ignored")
    lines += ["", "## Binary (Unsafe = positive)", "",
              "| side | " + " | ".join(BINARY_KEYS) + " | TP | FP | FN | TN | failed | predicted null |",
              "|---" * (len(BINARY_KEYS) + 7) + "|"]
    details = result.get("details", {})
    for s in SIDES:
        b = result[s]
        d = details.get(s, {})
        lines.append(f"| {s} | " + " | ".join(_fmt(b.get(k)) for k in BINARY_KEYS)
                     + f" | {b.get('tp')} | {b.get('fp')} | {b.get('fn')} | {b.get('tn')} | {d.get('failed', 0)} | {d.get('pred_null', 0)} |")
    lines += ["", "## Per-dimension F1", ""]
    for s in SIDES:
        per = result["per_dimension"][s]
        counts = details.get(s, {}).get("per_dimension_counts", {})
        lines += [f"### {s}", ""]
        if not per:
            lines += ["(no Unsafe gold or prediction)", ""]
            continue
        lines += ["| dimension | F1 | TP | FP | FN |", "|---|---|---|---|---|"]
        for dim, f1 in per.items():
            c = counts.get(dim, {})
            lines.append(f"| {dim} | {_fmt(f1)} | {c.get('tp', '')} | {c.get('fp', '')} | {c.get('fn', '')} |")
        lines.append("")
    lines += ["## Confusion matrices", ""]
    for s in SIDES:
        cm = details.get(s, {}).get("confusion")
        if cm:
            lines += [f"{s}: rows gold, columns predicted", "", "| | pred Safe | pred Unsafe |", "|---|---|---|",
                      f"| gold Safe | {cm[0][0]} | {cm[0][1]} |", f"| gold Unsafe | {cm[1][0]} | {cm[1][1]} |", ""]
    pr_lines = []
    for s in SIDES:
        pr = details.get(s, {}).get("pr")
        if pr:
            pr_lines.append(f"| {s} | {_fmt(pr['auprc'])} | {_fmt(pr['best_f1'])} | {_fmt(pr['best_threshold'])} | {pr['n_scored']} |")
    if pr_lines:
        lines += ["## Scores: AUPRC and best threshold", "", "| side | AUPRC | best F1 | at threshold | scored |",
                  "|---|---|---|---|---|", *pr_lines, ""]
    if "policy_adaptation" in result:
        lines += ["## Policy adaptation (violated dimension removed; share still flagged)", "",
                  "| side | n | still flagged | FPR |", "|---|---|---|---|"]
        for s, r in result["policy_adaptation"].items():
            lines.append(f"| {s} | {r['n']} | {r['still_flagged']} | {_fmt(r['fpr'])} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(result: dict[str, Any], out_dir: Path, *, plots: bool = True, title: str = "mmshield evaluation",
                 sources: dict[str, str] | None = None) -> list[Path]:
    """Write `report.md`, `metrics.json` and (when matplotlib is installed) PNG plots into `out_dir`."""
    out_dir = Path(out_dir)
    files = [out_dir / "report.md", out_dir / "metrics.json"]
    md = to_markdown(result, title=title, sources=sources)
    pngs: list[Path] = []
    if plots:
        try:
            from mmshield.evaluation.plots import write_plots

            pngs = write_plots(result, out_dir)
        except ImportError as exc:
            md += f"\n(plots skipped: {exc})\n"
    if pngs:
        md += "\n## Plots\n\n" + "\n".join(f"![{p.stem}]({p.name})" for p in pngs) + "\n"
    _write_atomic(files[0], md)
    _write_atomic(files[1], json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return files + pngs
