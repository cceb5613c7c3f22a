"""Background jobs: run any ``python -m persona_core`` subcommand in its own process, tracked in
the database (table ``job``, see :mod:`db.jobs`).

Usage (from a page, a notebook or another service)::

    from persona_core.service import jobs

    job_id = jobs.submit(url, "simulate", ["--dataset", "gss_2016", "--personas", "cohorts"],
                         label="Ask everyone: all questions", run_id=3)
    info = jobs.get(url, job_id)        # .status queued/running/done/failed, .stage, .progress
                                        # (0..1 or None), .eta_seconds, .log_tail, .error, .result
    jobs.list_jobs(url, active=True)    # newest first; also reaps dead processes
    jobs.cancel(url, job_id)

``kind`` is the subcommand as typed (``"train"``, ``"eval"``, ``"pairs generate"``,
``"simulate"``), ``args`` its command-line arguments; ``result`` is the command's JSON
summary (what ``--json`` prints). Bad arguments fail the job with the CLI's own message in
``error``. ``url`` ``None`` is the configured database; the job's process gets it as ``PERSONA_DB_URL``.
``dedupe_key``: if a queued or running job has the same key, nothing new starts and that job's
id comes back (two tabs clicking "Train" start one training). ``after``: start only once that
job is done (it fails, naming it, if that one fails). The process starts detached (its own
session), so it outlives the page, the app and a reload; its log is
``<artifacts>/jobs/job-<id>.log``.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from db.jobs import JobError, JobInfo, JobSpec
from persona_core.data.paths import REPO_ROOT, artifacts_dir

HOST = socket.gethostname()
#: a running job that has not written a heartbeat for this long is counted as dead
MAX_SILENCE_SECONDS = 90.0

__all__ = ["JobInfo", "JobSubmitError", "JobStep", "cancel", "format_seconds", "get", "list_jobs", "refresh", "submit",
           "submit_chain", "wait"]


class JobSubmitError(ValueError):
    """A job that cannot be started as asked (unknown subcommand, bad arguments)."""


@dataclass(frozen=True)
class JobStep:
    """One job of :func:`submit_chain`; each runs after the one before it."""

    kind: str
    args: Sequence[str] = ()
    label: str = ""
    dedupe_key: str | None = None


#: niceness a job's process adds to itself (``PERSONA_JOB_NICE`` overrides): training or an
#: evaluation in the background must not take the CPU from the app's own generation. Measured
#: (bench/first_hour.py, default config): with the evaluation job running at the same priority,
#: the first steered token on Compare came 16.8 s after the click.
JOB_NICENESS = 10


def lower_priority() -> int:
    """Make this process (a job's) yield the CPU to interactive work; returns the new niceness."""
    try:
        step = int(os.environ.get("PERSONA_JOB_NICE", JOB_NICENESS))
    except ValueError:
        step = JOB_NICENESS
    try:
        return os.nice(max(step, 0))
    except OSError:  # not allowed here: run at the priority we have
        return os.nice(0)


def format_seconds(s: float | None) -> str:
    """``"42 s"``, ``"6 min 10 s"``, ``"1 h 05 min"`` (``"estimating…"`` for ``None``)."""
    if s is None:
        return "estimating…"
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _url(url: str | None) -> str:
    from db.settings import get_database_url

    return get_database_url(url)


def _migrated(url: str | None) -> str:
    from db.session import upgrade_database

    return upgrade_database(_url(url))


def log_path(job_id: int) -> Path:
    return artifacts_dir() / "jobs" / f"job-{job_id}.log"


def command_args(kind: str, args: Sequence[str]) -> list[str]:
    """The subcommand words and arguments of a job (``"pairs generate"`` -> two words). The CLI
    parses them in the job's process: bad arguments fail the job with argparse's message."""
    words = kind.split()
    if not words or not all(w.replace("-", "").isalnum() for w in words):
        raise JobSubmitError(f"a job needs a kind: a persona_core subcommand such as train or 'pairs generate', "
                             f"not {kind!r}")
    return [*words, *[str(a) for a in args]]


def submit(url: str | None, kind: str, args: Sequence[str] = (), *, label: str = "", run_id: int | None = None,
           dedupe_key: str | None = None, after: int | None = None) -> int:
    """Store a job and start its process (or queue it ``after`` another job); returns its id,
    or the id of the active job holding ``dedupe_key``."""
    return submit_chain(url, [JobStep(kind, args, label, dedupe_key)], run_id=run_id, after=after)[0]


def submit_chain(url: str | None, steps: Sequence[JobStep], *, run_id: int | None = None,
                 after: int | None = None) -> list[int]:
    """Store jobs that run one after the other, start the first; returns their ids. If any step's
    ``dedupe_key`` is held by an active job, nothing is stored and that job's id comes back alone."""
    from db.jobs import create_jobs
    from db.session import session_scope

    url = _migrated(url)
    specs = []
    for i, step in enumerate(steps):
        argv = command_args(step.kind, step.args)
        n_kind = len(step.kind.split())
        specs.append(JobSpec(kind=" ".join(argv[:n_kind]), args=argv[n_kind:], label=step.label or " ".join(argv),
                             run_id=run_id, dedupe_key=step.dedupe_key,
                             after=i - 1 if i > 0 else None, after_job=after if i == 0 else None))
    try:
        with session_scope(url, write_lock=True) as session:
            infos, created = create_jobs(session, specs, log_path=lambda i: str(log_path(i)))
    except JobError as exc:
        raise JobSubmitError(str(exc)) from None
    if not created:
        return [infos[0].id]
    if infos[0].after_id is None:
        launch(url, infos[0].id)
    else:
        start_ready(url)  # the job it runs after may be done already
    return [i.id for i in infos]


def launch(url: str, job_id: int) -> bool:
    """Claim a queued job and start its process, detached; ``False`` if it was not claimable."""
    from db.jobs import claim, fail, set_process
    from db.session import session_scope

    with session_scope(url, write_lock=True) as session:
        info = claim(session, job_id, HOST)
    if info is None:
        return False
    path = Path(info.log_path) if info.log_path else log_path(info.id)
    cmd = [sys.executable, "-m", "persona_core", "--job", str(info.id), *info.kind.split(), *info.args]
    env = {**os.environ, "PERSONA_DB_URL": url, "PYTHONUNBUFFERED": "1"}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as out:
            proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        with session_scope(url, write_lock=True) as session:
            fail(session, info.id, f"could not start the process: {exc}")
        return False
    with session_scope(url, write_lock=True) as session:
        set_process(session, info.id, proc.pid, HOST)
    # reap the child when it ends, so it never lingers as a zombie of a long-lived app
    threading.Thread(target=proc.wait, name=f"job-{info.id}-wait", daemon=True).start()
    return True


def start_ready(url: str | None) -> list[int]:
    """Start the queued jobs whose ``after`` job is done; returns the ids started."""
    from db.jobs import ready
    from db.session import session_scope

    url = _url(url)
    with session_scope(url) as session:
        waiting = ready(session)
    return [j.id for j in waiting if launch(url, j.id)]


def process_alive(job: JobInfo) -> bool:
    """Whether ``job``'s pid still runs this job on this host (not another program that got the
    pid, not a zombie)."""
    if job.pid is None:
        return True
    proc = Path(f"/proc/{job.pid}")
    if Path("/proc/self").exists():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X") and b"--job" in argv and str(job.id).encode() in argv
    try:
        os.kill(job.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def refresh(url: str | None) -> None:
    """Start jobs that can start now, then fail the ones whose process is gone."""
    from db.jobs import reap_stale
    from db.session import session_scope

    url = _url(url)
    start_ready(url)
    with session_scope(url, write_lock=True) as session:
        reap_stale(session, HOST, process_alive, MAX_SILENCE_SECONDS)


def _has_job_table(url: str) -> bool:
    from sqlalchemy import inspect

    from db.session import get_engine

    return inspect(get_engine(url)).has_table("job")


def get(url: str | None, job_id: int) -> JobInfo:
    """One job (after :func:`refresh`)."""
    from db.jobs import get_job
    from db.session import session_scope

    url = _url(url)
    refresh(url)
    with session_scope(url) as session:
        return get_job(session, job_id)


def wait(url: str | None, job_id: int, timeout: float | None = None, every: float = 1.0,
         on_poll: Callable[[JobInfo], None] | None = None) -> JobInfo:
    """Job ``job_id`` once it has ended (done or failed), read every ``every`` seconds;
    ``on_poll`` sees each reading. ``TimeoutError`` naming the job if it is still queued or
    running after ``timeout`` seconds (``None``: no limit)."""
    start = time.monotonic()
    while True:
        job = get(url, job_id)
        if on_poll is not None:
            on_poll(job)
        if not job.active:
            return job
        if timeout is not None and time.monotonic() - start > timeout:
            raise TimeoutError(f"job {job_id} still {job.status} after {timeout:.0f} s")
        time.sleep(every)


def list_jobs(url: str | None, *, active: bool = False, run_id: int | None = None, kind: str | None = None,
              limit: int = 30) -> list[JobInfo]:
    """Jobs, newest first (after :func:`refresh`); ``active``: only queued and running ones. An
    unmigrated database has none."""
    from db.jobs import ACTIVE, list_jobs as _list
    from db.session import session_scope

    url = _url(url)
    if not _has_job_table(url):
        return []
    refresh(url)
    with session_scope(url) as session:
        return _list(session, status=ACTIVE if active else None, run_id=run_id, kind=kind, limit=limit)


def cancel(url: str | None, job_id: int) -> JobInfo:
    """Stop a job: a queued one fails at once, a running one on this host gets SIGTERM (its
    process records "cancelled"). Jobs waiting on it fail too."""
    from db.jobs import fail, get_job
    from db.session import session_scope

    url = _url(url)
    with session_scope(url, write_lock=True) as session:
        info = get_job(session, job_id)
        if info.status == "queued":
            return fail(session, job_id, "cancelled before it started")
    if info.status != "running":
        raise JobSubmitError(f"job {job_id} is {info.status}; there is nothing to cancel")
    if info.host != HOST or info.pid is None or not process_alive(info):
        with session_scope(url, write_lock=True) as session:
            return fail(session, job_id, "cancelled (its process was not found on this host)")
    try:
        os.killpg(info.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    return info


# ------------------------------------------------------------------ in the job's own process
class JobRun:
    """The job side of ``python -m persona_core --job ID``: reports progress (via
    :mod:`persona_core.progress`), turns SIGTERM into a clean "cancelled", and records the end."""

    def __init__(self, url: str, job_id: int) -> None:
        self.url, self.job_id = url, int(job_id)

    @classmethod
    def attach(cls, url: str | None, job_id: int) -> "JobRun":
        from db.jobs import get_job, set_process
        from db.session import session_scope
        from persona_core import progress

        run = cls(_url(url), job_id)
        with session_scope(run.url, write_lock=True) as session:
            info = get_job(session, job_id)
            if info.status != "running":
                raise SystemExit(f"error: job {job_id} is {info.status}, not running: start jobs with "
                                 "persona_core.service.jobs.submit")
            set_process(session, job_id, os.getpid(), HOST)
        run.log_path = info.log_path
        progress.attach(run.url, job_id, info.log_path)
        progress.stage("starting")
        signal.signal(signal.SIGTERM, _cancelled)
        return run

    def _end(self, write) -> None:
        from db.jobs import JobError
        from db.session import session_scope
        from persona_core import progress

        progress.detach()
        try:
            with session_scope(self.url, write_lock=True) as session:
                write(session)
        except JobError:
            pass  # already ended (cancelled while finishing)
        start_ready(self.url)

    def finish(self, result: dict | None) -> None:
        """The command returned ``result`` (JSON-safe: what ``--json`` prints)."""
        from db.jobs import finish
        from persona_core import progress

        self._end(lambda s: finish(s, self.job_id, result or {}, log_tail=progress.log_tail(self.log_path)))

    def fail(self, error: str) -> None:
        from db.jobs import fail
        from persona_core import progress

        self._end(lambda s: fail(s, self.job_id, error, log_tail=progress.log_tail(self.log_path)))


class JobCancelled(SystemExit):
    """SIGTERM in a job's process."""


def _cancelled(signum, frame) -> None:
    raise JobCancelled("cancelled")


def describe_exit(exc: BaseException) -> str:
    """The ``error`` text of a job that raised ``exc``."""
    if isinstance(exc, JobCancelled):
        return "cancelled"
    if isinstance(exc, SystemExit):
        code = exc.code
        return str(code) if isinstance(code, str) else f"exited with status {code}"
    if isinstance(exc, KeyboardInterrupt):
        return "cancelled (interrupted)"
    text = f"{type(exc).__name__}: {exc}"
    return text.splitlines()[0] if text.strip() else type(exc).__name__
