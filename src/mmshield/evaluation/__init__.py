"""Evaluation: SPEC section 7 metrics, policy adaptation, Markdown/JSON reports and PNG plots."""

from mmshield.evaluation.adaptation import AdaptationCase, adaptation_cases, run_policy_adaptation
from mmshield.evaluation.files import evaluate_files, load_gold, load_predictions
from mmshield.evaluation.metrics import (
    AdaptationResult,
    Counts,
    EvalResult,
    Pair,
    binary_metrics,
    confusion_matrix,
    evaluate,
    make_pairs,
    per_dimension_f1,
    policy_adaptation_fpr,
    side_score,
    threshold_sweep,
)
from mmshield.evaluation.report import to_markdown, write_report

__all__ = [
    "AdaptationCase",
    "AdaptationResult",
    "Counts",
    "EvalResult",
    "Pair",
    "adaptation_cases",
    "binary_metrics",
    "confusion_matrix",
    "evaluate",
    "evaluate_files",
    "load_gold",
    "load_predictions",
    "make_pairs",
    "per_dimension_f1",
    "policy_adaptation_fpr",
    "run_policy_adaptation",
    "side_score",
    "threshold_sweep",
    "to_markdown",
    "write_report",
]
