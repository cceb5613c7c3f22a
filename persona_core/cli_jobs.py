"""Background jobs on the command line (registered by :mod:`persona_core.cli`)::

    python -m persona_core first-run --if-needed      # train -> eval -> starter pairs, in the background
    python -m persona_core jobs list [--active]
    python -m persona_core jobs show ID
    python -m persona_core jobs wait ID [--timeout S]  # progress on stderr until it ends
    python -m persona_core jobs cancel ID
    python -m persona_core jobs tick --steps 5         # a bar of N steps: checks the job machinery
"""
from __future__ import annotations

import argparse
import sys
import time

from persona_core.cli import add_db_argument
from persona_core.data.errors import DataError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    add_db_argument(p)


def add_first_run_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("first-run", help="in the background: train the default SPM, evaluate it, make starter pairs")
    p.add_argument("--dataset", default=None, help="the newest persona space of this dataset (default: newest of any)")
    p.add_argument("--tiny", action="store_true", help="the tiny CI configuration (seconds, not minutes)")
    p.add_argument("--if-needed", action="store_true", help="do nothing if the space already has a steering model")
    p.add_argument("--max-new-tokens", type=int, default=48, help="length of each starter answer")
    p.add_argument("--wait", action="store_true", help="wait for the jobs, showing their progress")
    _common(p)
    p.set_defaults(func=run_first_run)


def add_jobs_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jobs", help="background jobs: list, show, wait, cancel")
    jsub = p.add_subparsers(dest="jobs_command", required=True)
    ls = jsub.add_parser("list", help="jobs, newest first")
    ls.add_argument("--active", action="store_true", help="only queued and running jobs")
    ls.add_argument("--limit", type=int, default=20)
    _common(ls)
    ls.set_defaults(func=run_list)
    for name, func, text in (("show", run_show, "one job"), ("cancel", run_cancel, "stop a queued or running job"),
                             ("wait", run_wait, "show a job's progress until it ends")):
        s = jsub.add_parser(name, help=text)
        s.add_argument("id", type=int)
        if name == "wait":
            s.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
        _common(s)
        s.set_defaults(func=func)
    t = jsub.add_parser("tick", help="a progress bar of --steps steps, --interval seconds each (a job that checks jobs)")
    t.add_argument("--steps", type=int, default=5)
    t.add_argument("--interval", type=float, default=0.2)
    t.add_argument("--fail-at", type=int, default=None, help="raise an error at this step")
    _common(t)
    t.set_defaults(func=run_tick)


def _row(job) -> dict:
    return {
        "id": job.id, "kind": job.kind, "label": job.label, "status": job.status, "stage": job.stage,
        "progress": job.progress, "eta_seconds": job.eta_seconds, "error": job.error, "after": job.after_id,
        "run_id": job.run_id, "created_at": job.created_at.isoformat(),
        "seconds": None if job.seconds is None else round(job.seconds, 1), "log": job.log_path,
    }


def format_job(job) -> str:
    """One line: id, status, percentage, time left, stage or error."""
    from persona_core.service.jobs import format_seconds

    pct = "" if job.progress is None else f" {job.progress:.0%}"
    eta = "" if job.eta_seconds is None or job.status != "running" else f", {format_seconds(job.eta_seconds)} left"
    what = job.error if job.status == "failed" else job.stage
    return f"job {job.id} [{job.status}{pct}{eta}] {job.label}: {what}"


def run_first_run(args: argparse.Namespace) -> dict:
    from persona_core.service.first_run import start_first_run

    done = start_first_run(args.db, args.dataset, tiny=args.tiny, if_needed=args.if_needed,
                           max_new_tokens=args.max_new_tokens)
    if done.started:
        print(f"first run in the background: jobs {', '.join(map(str, done.job_ids))} (train -> eval -> starter "
              f"pairs); follow them in the app or with `python -m persona_core jobs wait {done.job_ids[-1]}`",
              file=sys.stderr)
    else:
        print(f"first run: nothing to start ({done.reason})", file=sys.stderr)
    summary = {"started": done.started, "job_ids": done.job_ids, "reason": done.reason,
               "embedding_run": done.space.run_id if done.space else None}
    if args.wait and done.job_ids:
        summary["jobs"] = [_wait(args.db, i, None) for i in done.job_ids]
    return summary


def run_list(args: argparse.Namespace) -> dict:
    from persona_core.service.jobs import list_jobs

    jobs = list_jobs(args.db, active=args.active, limit=args.limit)
    if not args.json:
        for job in jobs:
            print(format_job(job))
        if not jobs:
            print("no jobs", file=sys.stderr)
    return {"jobs": [_row(j) for j in jobs]}


def _get(url, job_id):
    from db.jobs import JobError
    from persona_core.service.jobs import get

    try:
        return get(url, job_id)
    except JobError as exc:
        raise DataError(str(exc)) from None


def run_show(args: argparse.Namespace) -> dict:
    job = _get(args.db, args.id)
    if not args.json:
        print(format_job(job))
        if job.log_tail:
            print(job.log_tail)
    return {**_row(job), "log_tail": job.log_tail, "result": job.result}


def run_cancel(args: argparse.Namespace) -> dict:
    from persona_core.service.jobs import JobSubmitError, cancel

    try:
        job = cancel(args.db, args.id)
    except JobSubmitError as exc:
        raise DataError(str(exc)) from None
    print(f"cancelling job {job.id} ({job.label})", file=sys.stderr)
    return {"id": job.id}


def _wait(url, job_id: int, timeout: float | None) -> dict:
    from db.jobs import JobError
    from persona_core.service import jobs

    last = [""]

    def show(job) -> None:
        line = format_job(job)
        if line != last[0]:
            print(line, file=sys.stderr, flush=True)
            last[0] = line

    try:
        return _row(jobs.wait(url, job_id, timeout, on_poll=show))
    except JobError as exc:
        raise DataError(str(exc)) from None
    except TimeoutError as exc:
        raise DataError(str(exc)) from exc


def run_wait(args: argparse.Namespace) -> dict:
    row = _wait(args.db, args.id, args.timeout)
    if row["status"] == "failed":
        raise DataError(f"job {args.id} failed: {row['error']}")
    return row


def run_tick(args: argparse.Namespace) -> dict:
    from persona_core import progress
    from persona_core.progress import tqdm

    progress.stage("ticking")
    for i in tqdm(range(args.steps), desc="tick", unit="step", file=sys.stderr):
        if args.fail_at is not None and i == args.fail_at:
            raise RuntimeError(f"failed at step {i}, as asked")
        time.sleep(args.interval)
    return {"steps": args.steps}
