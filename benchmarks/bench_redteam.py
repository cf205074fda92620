"""MCTS versus the linear baseline on the offline loop, at comparable target-call budgets.

Run: .venv/bin/python benchmarks/bench_redteam.py --tasks N [--judge shield] [--out build/bench_redteam]
Builds N tasks from ../shared/data (balanced over dimensions), runs the programmatic attacker against
the SmolLM2 target with the given judge, once with MCTS and once with the linear baseline, and prints
ASR, mean best score, mean target calls and seconds per task for each, plus role latencies.
Runs resume: rerunning with the same --out only finishes what is missing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from mmshield.redteam.report import compute
from mmshield.redteam.roles import RoleSpec, build_roles
from mmshield.redteam.runner import RunConfig, load_results, run_tasks
from mmshield.redteam.search import SearchParams
from mmshield.redteam.tasks import build_tasks, read_tasks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--judge", default="shield")
    ap.add_argument("--out", type=Path, default=Path("build/bench_redteam"))
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--max-rounds", type=int, default=6)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--trajectories", type=int, default=2)
    a = ap.parse_args()
    tfile = a.out / "tasks.jsonl"
    if not tfile.exists():
        build_tasks(tfile, limit=a.tasks, seed=7)
    tasks, _ = read_tasks(tfile)
    roles = build_roles(RoleSpec("programmatic"), RoleSpec("smollm2", max_tokens=a.max_new_tokens), RoleSpec(a.judge))
    out: dict[str, dict] = {}
    for method in ("mcts", "linear"):
        params = SearchParams(iterations=a.iterations, max_rounds=a.max_rounds, trajectories=a.trajectories)
        cfg = RunConfig(method=method, params=params, png=False,
                        roles={"judge": a.judge, "target_tokens": a.max_new_tokens})
        t0 = time.time()
        run_tasks(tasks, roles, cfg, a.out / method, progress=True)
        res = load_results(a.out / method)
        rep = next(iter(compute(res)["targets"].values()))
        out[method] = {"tasks": rep["n_tasks"], "asr": round(rep["asr"], 4), "mean_best_score": round(rep["mean_best_score"], 3),
                       "mean_target_calls": round(rep["mean_target_calls"], 2),
                       "mean_score_with_images": rep["mean_score_with_images"],
                       "mean_score_without_images": rep["mean_score_without_images"],
                       "seconds_per_task_this_run": round((time.time() - t0) / max(1, len(tasks)), 2),
                       "mean_elapsed_s_per_task": round(sum(r["elapsed_s"] for r in res) / max(1, len(res)), 2)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
