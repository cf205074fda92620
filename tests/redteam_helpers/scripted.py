"""Scripted roles with a delay, used through the CLI (`--target py:redteam_helpers.scripted:slow_target`)."""

from __future__ import annotations

import hashlib
import os
import time

from mmshield.redteam.types import JudgeResult


class SlowEchoTarget:
    """Echoes the question after a delay (MMRT_TEST_DELAY seconds); logs every call to MMRT_TEST_LOG."""

    name = "slow-echo"

    def respond(self, messages):
        time.sleep(float(os.environ.get("MMRT_TEST_DELAY", "0.2")))
        q = messages[-1].content
        log = os.environ.get("MMRT_TEST_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(os.environ.get("MMRT_TEST_TASKTAG", "") + q.replace("\n", " ") + "\n")
        return f"Here is some general information about it. You asked: {q}"


class HashJudge:
    """Score 2-4 from a hash of the last question (never 5, so every task runs all iterations)."""

    name = "hash-judge"

    def score(self, task, messages):
        h = int(hashlib.sha256((task.id + messages[-2].content).encode()).hexdigest(), 16)
        return JudgeResult(2 + h % 3, "hash")


def slow_target():
    return SlowEchoTarget()


def hash_judge():
    return HashJudge()
