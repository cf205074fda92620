"""Reading evaluation inputs: gold labels from an MMDS file, predictions from a `moderate` output file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmshield.dialogue import LABEL_KEYS, read_input
from mmshield.evaluation.metrics import EvalResult, evaluate
from mmshield.policy import Policy


def load_gold(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, list[str] | None], list[str]]:
    """Gold labels by id, the dimension names in force per id, and the problems met reading the file."""
    gold: dict[str, dict[str, Any]] = {}
    policies: dict[str, list[str] | None] = {}
    problems: list[str] = []
    for pr in read_input(path):
        if pr.error is not None or pr.dialogue is None:
            problems.append(str(pr.error))
            continue
        d = pr.dialogue
        if d.id in gold:
            problems.append(f"record {d.id}: duplicate id; the later record is ignored")
            continue
        missing = [k for k in LABEL_KEYS if k not in d.record]
        if missing:
            problems.append(f"record {d.id}: no gold labels ({', '.join(missing)} missing); skipped")
            continue
        gold[d.id] = d.labels()
        try:
            policies[d.id] = list(Policy.from_list(d.usage_policy).names) if d.usage_policy else None
        except (KeyError, ValueError) as exc:
            problems.append(f"record {d.id}: field 'usage_policy': {exc}")
            policies[d.id] = None
    return gold, policies, problems


def load_predictions(path: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Prediction lines by id (error lines included), and the problems met reading the file."""
    preds: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    with open(path, "rb") as fh:
        for no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                problems.append(f"{path}:{no}: not a valid JSON line ({exc}); ignored")
                continue
            if not isinstance(obj, dict) or obj.get("id") in (None, ""):
                problems.append(f"{path}:{no}: a prediction must be an object with an 'id'; ignored")
                continue
            rid = str(obj["id"])
            if rid in preds:
                problems.append(f"{path}:{no}: duplicate prediction for id {rid}; the later line is used")
            preds[rid] = obj
    return preds, problems


def evaluate_files(gold_path: Path, pred_path: Path, *, failures: str = "wrong") -> tuple[EvalResult, list[str]]:
    """Evaluate a predictions file against a gold MMDS file; returns the result and the problems met reading them."""
    gold, policies, gproblems = load_gold(Path(gold_path))
    preds, pproblems = load_predictions(Path(pred_path))
    return evaluate(gold, preds, policies=policies, failures=failures), gproblems + pproblems
