"""Run many tasks: one result file per task (atomic), a run manifest, resume, concurrency, progress.

RUNDIR layout:
  manifest.json            configuration, roles, parameters, counts (rewritten atomically)
  results/<task>.json      one per finished task: the best path, the whole tree, events (the completion marker)
  errors/<task>.json       a task that failed after retries (retried on the next run)
  trees/<task>.txt|.png    the tree log as text and as a picture
  images/<task>/...        the best path's images (copied), generated/<task>/... generated images
  mmds.jsonl               the results as MMDS records (rewritten at the end of each run)

Resume: a task whose results file exists is never run again; a killed run loses at most the tasks
in flight. A resumed run must use the same search configuration (else an error says so).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mmshield.dialogue import file_sha256
from mmshield.redteam.chat import CallPolicy
from mmshield.redteam.roles import Roles
from mmshield.redteam.search import Env, SearchParams, SearchResult, run_search
from mmshield.redteam.tasks import Task
from mmshield.redteam.to_mmds import _safe, copy_images
from mmshield.redteam.tree_log import best_path_ids, render_png, render_text

MANIFEST = "manifest.json"


def write_json_atomic(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class RunConfig:
    """What defines a run (compared on resume)."""

    method: str = "mcts"
    params: SearchParams = field(default_factory=SearchParams)
    seed: int = 0
    concurrency: int = 1
    retries: int = 2
    call_timeout: float | None = 300.0
    png: bool = True
    roles: dict[str, Any] = field(default_factory=dict)
    """Descriptions of the role specs (recorded in the manifest)."""

    def fingerprint(self) -> dict[str, Any]:
        return {"method": self.method, "params": asdict(self.params), "seed": self.seed, "roles": self.roles}


@dataclass
class RunSummary:
    done: list[str]
    skipped: list[str]
    failed: dict[str, str]
    successes: int

    @property
    def asr(self) -> float:
        n = len(self.done) + len(self.skipped)
        return self.successes / n if n else 0.0


def result_path(rundir: Path, task_id: str) -> Path:
    return rundir / "results" / f"{_safe(task_id)}.json"


def load_results(rundir: Path) -> list[dict[str, Any]]:
    out = []
    for p in sorted((Path(rundir) / "results").glob("*.json")):
        out.append(json.loads(p.read_text("utf-8")))
    return out


def _sha256(path: Path | None) -> str:
    return file_sha256(path) if path and path.exists() else ""


def prepare_manifest(rundir: Path, tasks: list[Task], cfg: RunConfig, tasks_file: Path | None,
                     names: dict[str, str]) -> dict[str, Any]:
    """Create the manifest, or check that a resumed run uses the same configuration."""
    mpath = rundir / MANIFEST
    fp = cfg.fingerprint()
    if mpath.exists():
        old = json.loads(mpath.read_text("utf-8"))
        if old.get("config") != json.loads(json.dumps(fp)):
            raise ValueError(f"{rundir} holds a run with another configuration ({old.get('config')}); "
                             "resume with the same options or use a new RUNDIR")
        man = old
        man.setdefault("resumes", []).append(time.strftime("%Y-%m-%dT%H:%M:%S"))
    else:
        man = {"format": "mmshield-redteam-run/1", "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "config": fp}
    man.update({"tasks_file": str(tasks_file) if tasks_file else None, "tasks_sha256": _sha256(tasks_file),
                "task_ids": [t.id for t in tasks], "role_names": names, "command": " ".join(sys.argv)})
    write_json_atomic(mpath, man)
    return man


def serialise(task: Task, res: SearchResult, names: dict[str, str], cfg: RunConfig) -> dict[str, Any]:
    return {"task": task.to_dict(), "status": res.status, "success": res.success, "best_score": res.best_score,
            "best_path": [e.to_dict() for e in res.best_path], "iterations": res.iterations,
            "target_calls": res.target_calls, "elapsed_s": round(res.elapsed_s, 3), "tree": res.root.to_dict(),
            "events": res.events, "target": names["target"], "attacker": names["attacker"], "judge": names["judge"],
            "search": {"method": cfg.method, "params": asdict(cfg.params), "seed": cfg.seed},
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}


def run_task(task: Task, roles: Roles, cfg: RunConfig, rundir: Path, names: dict[str, str]) -> dict[str, Any]:
    """Search one task and write its tree logs and (last, atomically) its result file."""
    calls = CallPolicy(retries=cfg.retries, timeout=cfg.call_timeout)
    env = Env(roles.attacker, roles.target, roles.judge, roles.refusal, generator=roles.generator,
              workdir=rundir / "generated", calls=calls)
    try:
        res = run_search(task, env, cfg.params, cfg.method, seed=cfg.seed)
    finally:
        calls.close()
    result = copy_images(serialise(task, res, names, cfg), rundir)
    ids = best_path_ids(result["tree"], [e["attack"]["next_question"] for e in result["best_path"]])
    stem = _safe(task.id)
    (rundir / "trees").mkdir(parents=True, exist_ok=True)
    header = (f"task {task.id} [{task.dimension}] {task.malicious_intent}\n"
              f"status={res.status} best={res.best_score} iterations={res.iterations} target_calls={res.target_calls}\n")
    (rundir / "trees" / f"{stem}.txt").write_text(header + render_text(result["tree"], best_ids=ids), "utf-8")
    if cfg.png:
        render_png(result["tree"], rundir / "trees" / f"{stem}.png", best_ids=ids,
                   title=f"{task.id}: {res.status}, best score {res.best_score}")
    write_json_atomic(result_path(rundir, task.id), result)
    (rundir / "errors" / f"{stem}.json").unlink(missing_ok=True)
    return result


def run_tasks(tasks: list[Task], roles: Roles, cfg: RunConfig, rundir: Path, *, tasks_file: Path | None = None,
              progress: bool = True) -> RunSummary:
    """Run every task not yet finished in RUNDIR, `cfg.concurrency` at a time."""
    rundir = Path(rundir)
    rundir.mkdir(parents=True, exist_ok=True)
    names = {"attacker": roles.attacker.name, "target": roles.target.name, "judge": roles.judge.name}
    prepare_manifest(rundir, tasks, cfg, tasks_file, names)
    todo = [t for t in tasks if not result_path(rundir, t.id).exists()]
    skipped = [t.id for t in tasks if result_path(rundir, t.id).exists()]
    summary = RunSummary(done=[], skipped=skipped, failed={}, successes=0)
    for tid in skipped:
        summary.successes += bool(json.loads(result_path(rundir, tid).read_text("utf-8")).get("success"))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks), initial=len(skipped), desc="red teaming", unit="task", file=sys.stderr)
    lock = threading.Lock()

    def one(task: Task) -> tuple[str, dict[str, Any] | None, str | None]:
        try:
            return task.id, run_task(task, roles, cfg, rundir, names), None
        except Exception as exc:  # noqa: BLE001 - one failed task must not stop the run
            err = {"task": task.id, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
            write_json_atomic(rundir / "errors" / f"{_safe(task.id)}.json", err)
            return task.id, None, err["error"]

    with ThreadPoolExecutor(max_workers=max(1, cfg.concurrency), thread_name_prefix="mmrt-task") as pool:
        futures = [pool.submit(one, t) for t in todo]
        for fut in as_completed(futures):
            tid, res, err = fut.result()
            with lock:
                if err is not None:
                    summary.failed[tid] = err
                else:
                    summary.done.append(tid)
                    summary.successes += bool(res and res["success"])
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(asr=f"{summary.successes}/{len(summary.done) + len(summary.skipped)}",
                                    failed=len(summary.failed))
    if bar is not None:
        bar.close()
    man = json.loads((rundir / MANIFEST).read_text("utf-8"))
    man.update({"updated": time.strftime("%Y-%m-%dT%H:%M:%S"), "n_finished": len(load_results(rundir)),
                "n_failed": len(summary.failed), "failed": summary.failed})
    write_json_atomic(rundir / MANIFEST, man)
    export(rundir, rundir / "mmds.jsonl")
    return summary


def export(rundir: Path, out: Path, *, unsafe_from: int = 4) -> int:
    """Write every finished task of RUNDIR as an MMDS record to `out` (atomically); returns the count."""
    from mmshield.dialogue import write_jsonl_atomic
    from mmshield.redteam.to_mmds import to_record

    rundir = Path(rundir)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [to_record(r, rundir=rundir, out_dir=out.parent, unsafe_from=unsafe_from) for r in load_results(rundir)]
    return write_jsonl_atomic(out, rows)
