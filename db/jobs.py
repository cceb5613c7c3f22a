"""Background jobs as database rows: create, claim, report, finish, fail, chain, reap.

A job is one run of a ``python -m persona_core`` subcommand in its own process (see
:mod:`persona_core.service.jobs`, which launches them). Its row is the only shared state, so
every browser tab, the CLI and a restarted app see the same job. Status moves one way::

    queued -> running -> done
       |          '----> failed
       '---------------> failed   (cancelled, or the job it runs after failed)

Every function works in the caller's session (one transaction per
:func:`db.session.session_scope`; use ``write_lock=True`` for the ones that change rows, so
SQLite writers queue instead of failing). A running job whose process is gone is found by
:func:`reap_stale` (same host: the pid no longer runs the job; any host: no heartbeat for
``max_silence`` seconds) and ends as ``failed`` with an "interrupted" error.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import JOB_STATUSES, Job, utcnow
from db.session import lock_keys

ACTIVE = ("queued", "running")
LOG_TAIL_CHARS = 4000


class JobError(ValueError):
    """A job that does not exist, or a change its status does not allow."""


@dataclass(frozen=True)
class JobInfo:
    """One job as stored."""

    id: int
    kind: str
    args: list[str]
    label: str
    status: str
    stage: str
    progress: float | None
    eta_seconds: float | None
    log_tail: str
    log_path: str | None
    error: str | None
    result: dict[str, Any]
    after_id: int | None
    run_id: int | None
    dedupe_key: str | None
    pid: int | None
    host: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def seconds(self) -> float | None:
        """Seconds it ran (so far, while running)."""
        if self.started_at is None:
            return None
        end = self.finished_at or utcnow()
        return max(0.0, (aware(end) - aware(self.started_at)).total_seconds())


def aware(dt: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back: they were stored as UTC."""
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt


def _info(job: Job) -> JobInfo:
    return JobInfo(
        id=int(job.id), kind=job.kind, args=[str(a) for a in job.args or []], label=job.label or "", status=job.status,
        stage=job.stage or "", progress=job.progress, eta_seconds=job.eta_seconds, log_tail=job.log_tail or "",
        log_path=job.log_path, error=job.error, result=dict(job.result or {}), after_id=job.after_id,
        run_id=job.run_id, dedupe_key=job.dedupe_key, pid=job.pid, host=job.host,
        created_at=aware(job.created_at), started_at=aware(job.started_at), finished_at=aware(job.finished_at),
        heartbeat_at=aware(job.heartbeat_at),
    )


@dataclass(frozen=True)
class JobSpec:
    """What :func:`create_jobs` stores for one job. ``after``: index of an earlier spec of the same
    call whose job must be done first; ``after_job``: the id of a stored job instead."""

    kind: str
    args: Sequence[str] = ()
    label: str = ""
    run_id: int | None = None
    dedupe_key: str | None = None
    after: int | None = None
    after_job: int | None = None


def active_with_keys(session: Session, keys: Sequence[str]) -> list[JobInfo]:
    """Queued or running jobs whose ``dedupe_key`` is one of ``keys``."""
    keys = [k for k in keys if k]
    if not keys:
        return []
    rows = session.scalars(
        select(Job).where(Job.dedupe_key.in_(keys), Job.status.in_(ACTIVE)).order_by(Job.id)
    ).all()
    return [_info(j) for j in rows]


def create_jobs(session: Session, specs: Sequence[JobSpec], log_path: Callable[[int], str] | None = None
                ) -> tuple[list[JobInfo], bool]:
    """Store ``specs`` as queued jobs (a chain when they name ``after``). If a queued or running job
    already holds one of their ``dedupe_key``\\ s, nothing is stored and that job comes back with
    ``False``; else the new jobs and ``True``. ``log_path(id)``: where each job's log goes."""
    if not specs:
        raise JobError("no job to create")
    keys = [s.dedupe_key for s in specs if s.dedupe_key]
    lock_keys(session, keys)
    existing = active_with_keys(session, keys)
    if existing:
        return existing, False
    rows: list[Job] = []
    for i, spec in enumerate(specs):
        if not spec.kind.strip():
            raise JobError("a job needs a kind (a persona_core subcommand)")
        if spec.after is not None and not 0 <= spec.after < i:
            raise JobError(f"job {i} can only run after an earlier job of the same call, not {spec.after}")
        after_id = rows[spec.after].id if spec.after is not None else spec.after_job
        if spec.after_job is not None:
            after = session.get(Job, int(spec.after_job))
            if after is None:
                raise JobError(f"no job {spec.after_job} to run after")
            if after.status == "failed":
                raise JobError(f"job {spec.after_job} failed; nothing can run after it")
        job = Job(kind=spec.kind.strip(), args=[str(a) for a in spec.args], label=spec.label, status="queued",
                  stage="waiting" if after_id is not None else "starting", log_tail="", result={},
                  run_id=spec.run_id, dedupe_key=spec.dedupe_key, after_id=after_id)
        session.add(job)
        session.flush()
        if log_path is not None:
            job.log_path = str(log_path(int(job.id)))
        rows.append(job)
    session.flush()
    return [_info(j) for j in rows], True


def get_job(session: Session, job_id: int) -> JobInfo:
    job = session.get(Job, int(job_id))
    if job is None:
        raise JobError(f"no job {job_id}")
    return _info(job)


def list_jobs(session: Session, *, status: str | Sequence[str] | None = None, run_id: int | None = None,
              kind: str | None = None, limit: int | None = 50) -> list[JobInfo]:
    """Jobs, newest first; optionally of some statuses, one embedding run or one kind."""
    q = select(Job).order_by(Job.id.desc())
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        bad = set(statuses) - set(JOB_STATUSES)
        if bad:
            raise JobError(f"unknown job status(es) {sorted(bad)}; use {JOB_STATUSES}")
        q = q.where(Job.status.in_(statuses))
    if run_id is not None:
        q = q.where(Job.run_id == run_id)
    if kind is not None:
        q = q.where(Job.kind == kind)
    if limit is not None:
        q = q.limit(limit)
    return [_info(j) for j in session.scalars(q).all()]


def claim(session: Session, job_id: int, host: str) -> JobInfo | None:
    """Move a queued job to ``running`` for a process about to start on ``host``; ``None`` if it
    is no longer queued (someone else claimed it) or waits on an unfinished job."""
    job = session.get(Job, int(job_id))
    if job is None:
        raise JobError(f"no job {job_id}")
    if job.after_id is not None:
        after = session.get(Job, job.after_id)
        if after is not None and after.status != "done":
            return None
    now = utcnow()
    res = session.execute(
        update(Job).where(Job.id == job.id, Job.status == "queued")
        .values(status="running", stage="starting", host=host, started_at=now, heartbeat_at=now)
    )
    if res.rowcount != 1:
        return None
    session.refresh(job)
    return _info(job)


def set_process(session: Session, job_id: int, pid: int, host: str) -> None:
    """Record the job's process (after it was started)."""
    session.execute(update(Job).where(Job.id == int(job_id), Job.status == "running")
                    .values(pid=int(pid), host=host, heartbeat_at=utcnow()))


def report(session: Session, job_id: int, *, stage: str | None = None, progress: float | None = None,
           eta_seconds: float | None = None, log_tail: str | None = None, clear_progress: bool = False) -> bool:
    """Progress of a running job (and its heartbeat). ``progress`` is clipped to 0..1;
    ``clear_progress``: a new stage with no known fraction or time left. Returns whether the
    job was still running (a cancelled job's process can stop on ``False``)."""
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if stage is not None:
        values["stage"] = stage[:500]
    if clear_progress:
        values["progress"] = values["eta_seconds"] = None
    if progress is not None:
        values["progress"] = min(1.0, max(0.0, float(progress)))
    if eta_seconds is not None:
        values["eta_seconds"] = max(0.0, float(eta_seconds))
    if log_tail is not None:
        values["log_tail"] = log_tail[-LOG_TAIL_CHARS:]
    res = session.execute(update(Job).where(Job.id == int(job_id), Job.status == "running").values(**values))
    return res.rowcount == 1


def finish(session: Session, job_id: int, result: dict[str, Any] | None = None, log_tail: str | None = None) -> JobInfo:
    """A running job ended well; ``result`` is its JSON summary."""
    job = _running(session, job_id, "finish")
    job.status, job.stage, job.progress, job.eta_seconds = "done", "done", 1.0, 0.0
    job.result = dict(result or {})
    job.finished_at = job.heartbeat_at = utcnow()
    if log_tail is not None:
        job.log_tail = log_tail[-LOG_TAIL_CHARS:]
    session.flush()
    return _info(job)


def fail(session: Session, job_id: int, error: str, log_tail: str | None = None) -> JobInfo:
    """A queued or running job ended badly (``error`` says why); the queued jobs that wait on it
    fail too, each naming it. Failing a finished job is an error."""
    job = session.get(Job, int(job_id))
    if job is None:
        raise JobError(f"no job {job_id}")
    if job.status not in ACTIVE:
        raise JobError(f"job {job_id} is {job.status}; only a queued or running job can fail")
    _fail_row(job, error, log_tail)
    _fail_waiting(session, job)
    session.flush()
    return _info(job)


def _fail_row(job: Job, error: str, log_tail: str | None = None) -> None:
    job.status, job.error = "failed", str(error)[:4000] or "failed"
    job.eta_seconds = None
    job.finished_at = utcnow()
    if log_tail is not None:
        job.log_tail = log_tail[-LOG_TAIL_CHARS:]


def _fail_waiting(session: Session, job: Job) -> None:
    for waiting in session.scalars(select(Job).where(Job.after_id == job.id, Job.status == "queued")).all():
        _fail_row(waiting, f"not run: job {job.id} ({job.kind}), which it runs after, failed")
        _fail_waiting(session, waiting)


def _running(session: Session, job_id: int, what: str) -> Job:
    job = session.get(Job, int(job_id))
    if job is None:
        raise JobError(f"no job {job_id}")
    if job.status != "running":
        raise JobError(f"cannot {what} job {job_id}: it is {job.status}, not running")
    return job


def ready(session: Session) -> list[JobInfo]:
    """Queued jobs whose ``after`` job is done (they can start now)."""
    rows = session.scalars(select(Job).where(Job.status == "queued", Job.after_id.is_not(None)).order_by(Job.id)).all()
    out = []
    for job in rows:
        after = session.get(Job, job.after_id)
        if after is not None and after.status == "done":
            out.append(_info(job))
    return out


def reap_stale(session: Session, host: str, alive: Callable[[JobInfo], bool], max_silence: float = 90.0,
               now: datetime | None = None) -> list[JobInfo]:
    """Fail the running jobs whose process is gone: on ``host`` when ``alive(job)`` is false,
    anywhere when the heartbeat is older than ``max_silence`` seconds; and the queued jobs with
    nothing to wait for that no process claimed within ``max_silence``. Returns them, failed."""
    now = now or utcnow()
    reaped = []
    for job in session.scalars(select(Job).where(Job.status.in_(ACTIVE)).order_by(Job.id)).all():
        info = _info(job)
        if job.status == "running":
            beat = info.heartbeat_at or info.started_at or info.created_at
            silence = (now - beat).total_seconds()
            if job.host == host and job.pid is not None and not alive(info):
                why = f"interrupted: its process (pid {job.pid}) ended without reporting"
            elif silence > max_silence:
                why = f"interrupted: no heartbeat for {silence:.0f} s (process on {job.host or 'an unknown host'})"
            else:
                continue
        else:
            if job.after_id is not None:
                after = session.get(Job, job.after_id)
                if after is None or after.status != "done":
                    continue  # waits (a failed "after" already failed it)
                waited = (now - (aware(after.finished_at) or info.created_at)).total_seconds()
            else:
                waited = (now - info.created_at).total_seconds()
            if waited <= max_silence:
                continue
            why = f"interrupted: no process started it within {max_silence:.0f} s"
        _fail_row(job, why)
        _fail_waiting(session, job)
        reaped.append(job)
    session.flush()
    return [_info(j) for j in reaped]
