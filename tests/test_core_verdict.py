"""Verdict: JSON round trip and the OpenAI-moderation-shaped view."""

from __future__ import annotations

import json

from mmshield.taxonomy import NONE_APPLYING
from mmshield.verdict import Evidence, RoleVerdict, Verdict


def _verdict() -> Verdict:
    user = RoleVerdict("Unsafe", "Illegal Activities", "turn 0 asks to pick a lock",
                       scores={"Illegal Activities": 0.91, "Privacy Violation": 0.2},
                       evidence=[Evidence(turn=0, role="user", weight=0.9, image=0, text="PIPE BOMB", kind="ocr")],
                       subdimension="Burglary")
    assistant = RoleVerdict.safe("refuses", {"Illegal Activities": 0.05, "Privacy Violation": 0.01})
    return Verdict(user=user, assistant=assistant, backend="test", latency_ms=12.3456, id="r1",
                   policy=["Illegal Activities", "Privacy Violation"], usage={"tokens": 10}, notes=["n"])


def test_verdict_json_round_trip() -> None:
    v = _verdict()
    d = json.loads(json.dumps(v.to_dict()))
    assert list(d)[:7] == ["id", "user_rating", "assistant_rating", "user_dimension", "assistant_dimension",
                           "user_rationale", "assistant_rationale"]
    back = Verdict.from_dict(d)
    assert back.to_dict() == v.to_dict()
    assert back.user.evidence[0].kind == "ocr" and back.user.subdimension == "Burglary"


def test_absent_side_serialises_as_null_and_string_null_is_read_as_none() -> None:
    v = Verdict(user=RoleVerdict.absent(), assistant=RoleVerdict.safe("ok"))
    d = v.to_dict()
    assert d["user_rating"] is None and d["assistant_dimension"] == NONE_APPLYING
    bare = Verdict.from_dict({"user_rating": "null", "assistant_rating": "Safe", "user_dimension": "null",
                              "assistant_dimension": NONE_APPLYING, "user_rationale": "null", "assistant_rationale": "x"})
    assert bare.user.rating is None and bare.assistant.rating == "Safe"


def test_moderation_view() -> None:
    m = _verdict().moderation()
    assert m["flagged"] is True
    assert m["categories"] == {"Illegal Activities": True, "Privacy Violation": False}
    assert m["category_scores"] == {"Illegal Activities": 0.91, "Privacy Violation": 0.2}
    assert m["sides"] == {"user": "Unsafe", "assistant": "Safe"}
    safe = Verdict(user=RoleVerdict.safe("ok"), assistant=RoleVerdict.absent(), policy=["Sexual Content"]).moderation()
    assert safe["flagged"] is False and safe["categories"] == {"Sexual Content": False}


def test_moderation_view_names_custom_dimensions_once() -> None:
    v = Verdict(user=RoleVerdict("Unsafe", "Cheating", "r", scores={"Cheating": 0.8, "Illegal Activities": 0.1}),
                assistant=RoleVerdict.absent(), policy=["Illegal Activities", "Cheating: helping students cheat on exams"])
    m = v.moderation()
    assert m["categories"] == {"Cheating": True, "Illegal Activities": False}
    assert m["category_scores"] == {"Cheating": 0.8, "Illegal Activities": 0.1}
