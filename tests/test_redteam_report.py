"""Report figures computed by hand on a small synthetic set of results."""

from __future__ import annotations

import pytest

from mmshield.redteam.report import compute, markdown


def ex(score, img=False, refused=False):
    return {"attack": {"strategy": "role play", "next_question": "q", "image_ids": [], "new_image_prompt": "", "think": ""},
            "images": [{"id": "kw0", "path": "p", "caption": ""}] if img else [], "reply": "r", "score": score,
            "refused": refused, "judge_rationale": "", "judge_details": {}}


def node(i, depth, e, children=(), backtracked=(), rollout=()):
    return {"id": i, "depth": depth, "score": e["score"] if e else 1, "n": 1, "w": 0.0, "best": 1, "exchange": e,
            "backtracked": list(backtracked), "rollout": list(rollout), "children": list(children)}


def result(target, success, best, tree, dim="Illegal Activities"):
    return {"target": target, "success": success, "best_score": best, "tree": tree, "task": {"dimension": dim},
            "status": "success" if success else "iterations", "target_calls": 3}


def test_compute_by_hand():
    # task A: turn1 score 2 (image) with a backtracked refusal (1, no image); turn2 score 5 (no image)
    a = node(0, 0, None, [node(1, 1, ex(2, img=True), [node(2, 2, ex(5))], backtracked=[ex(1, refused=True)])])
    # task B: turn1 score 3 (no image) with rollout turn2 score 4 (image)
    b = node(0, 0, None, [node(1, 1, ex(3), rollout=[ex(4, img=True)])])
    c = node(0, 0, None, [node(1, 1, ex(1, refused=True))])
    rep = compute([result("m1", True, 5, a), result("m1", False, 4, b), result("m2", False, 1, c, "Privacy Violation")])
    m1, m2 = rep["targets"]["m1"], rep["targets"]["m2"]
    assert m1["asr"] == 0.5 and m1["successes"] == 1 and m2["asr"] == 0.0
    assert m1["best_score_distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
    # turn 1: 2, 1 (backtracked), 3 -> 2.0 ; turn 2: 5, 4 (rollout) -> 4.5
    assert m1["mean_score_per_turn"] == {"1": pytest.approx(2.0), "2": pytest.approx(4.5)}
    # with images: 2, 4 -> 3.0 ; without: 1, 5, 3 -> 3.0
    assert m1["mean_score_with_images"] == pytest.approx(3.0) and m1["mean_score_without_images"] == pytest.approx(3.0)
    assert m1["n_with_images"] == 2 and m1["n_without_images"] == 3
    assert m2["mean_score_with_images"] is None and m2["asr_per_dimension"] == {"Privacy Violation": 0.0}
    md = markdown(rep)
    assert "| m1 | 2 | 1 | 50.0% |" in md and "| 2 | 4.50 | 2 |" in md
