"""The job store: status moves one way, chains fail together, dedupe keys, stale jobs reaped."""
from __future__ import annotations

from datetime import timedelta

import pytest

from db.jobs import (
    JobError, JobSpec, claim, create_jobs, fail, finish, get_job, list_jobs, ready, reap_stale, report, set_process,
)
from db.models import utcnow
from db.session import session_scope

HOST = "here"


def _create(url, *specs):
    with session_scope(url, write_lock=True) as s:
        return create_jobs(s, list(specs), log_path=lambda i: f"/tmp/job-{i}.log")


def _claim(url, job_id):
    with session_scope(url, write_lock=True) as s:
        return claim(s, job_id, HOST)


def test_a_job_runs_reports_and_finishes(db_url):
    (job,), created = _create(db_url, JobSpec("train", ["--tiny"], label="train it", dedupe_key="k"))
    assert created and job.status == "queued" and job.args == ["--tiny"] and job.log_path == f"/tmp/job-{job.id}.log"
    assert _claim(db_url, job.id).status == "running"
    assert _claim(db_url, job.id) is None  # claimed once only
    with session_scope(db_url, write_lock=True) as s:
        set_process(s, job.id, 4242, HOST)
        assert report(s, job.id, stage="training", progress=1.7, eta_seconds=-3, log_tail="x" * 9000)
    with session_scope(db_url) as s:
        j = get_job(s, job.id)
    assert (j.pid, j.stage, j.progress, j.eta_seconds, len(j.log_tail)) == (4242, "training", 1.0, 0.0, 4000)
    with session_scope(db_url, write_lock=True) as s:
        done = finish(s, job.id, {"steps": 3})
        assert not report(s, job.id, stage="late")  # a finished job takes no more progress
    assert done.status == "done" and done.result == {"steps": 3} and done.finished_at is not None
    with session_scope(db_url, write_lock=True) as s, pytest.raises(JobError, match="only a queued or running"):
        fail(s, job.id, "too late")
    with session_scope(db_url, write_lock=True) as s, pytest.raises(JobError, match="not running"):
        finish(s, job.id)


def test_a_chain_waits_and_fails_together(db_url):
    jobs, _ = _create(db_url, JobSpec("train"), JobSpec("eval", after=0), JobSpec("pairs generate", after=1))
    first, second, third = jobs
    assert (second.after_id, third.after_id) == (first.id, second.id)
    assert _claim(db_url, second.id) is None  # waits for the first
    with session_scope(db_url) as s:
        assert ready(s) == []
    _claim(db_url, first.id)
    with session_scope(db_url, write_lock=True) as s:
        finish(s, first.id)
    with session_scope(db_url) as s:
        assert [j.id for j in ready(s)] == [second.id]
    _claim(db_url, second.id)
    with session_scope(db_url, write_lock=True) as s:
        fail(s, second.id, "boom")
    with session_scope(db_url) as s:
        got = {j.id: j for j in list_jobs(s)}
    assert got[second.id].error == "boom"
    assert got[third.id].status == "failed" and f"job {second.id}" in got[third.id].error
    with pytest.raises(JobError, match="failed"):
        _create(db_url, JobSpec("simulate", after_job=second.id))


def test_an_active_dedupe_key_returns_the_running_job(db_url):
    (job,), _ = _create(db_url, JobSpec("train", dedupe_key="train:run:default"))
    again, created = _create(db_url, JobSpec("train", dedupe_key="other"), JobSpec("eval", dedupe_key="train:run:default"))
    assert not created and [j.id for j in again] == [job.id]
    _claim(db_url, job.id)
    with session_scope(db_url, write_lock=True) as s:
        finish(s, job.id)
    (new,), created = _create(db_url, JobSpec("train", dedupe_key="train:run:default"))
    assert created and new.id != job.id


def test_stale_jobs_are_reaped_as_interrupted(db_url):
    (dead, quiet, alive, queued, waiting), _ = _create(
        db_url, JobSpec("a"), JobSpec("b"), JobSpec("c"), JobSpec("d"), JobSpec("e", after=0))
    for job in (dead, quiet, alive):
        _claim(db_url, job.id)
    with session_scope(db_url, write_lock=True) as s:
        set_process(s, dead.id, 111, HOST)
        set_process(s, quiet.id, 222, "elsewhere")
        set_process(s, alive.id, 333, HOST)
    later = utcnow() + timedelta(seconds=30)
    with session_scope(db_url, write_lock=True) as s:
        reaped = reap_stale(s, HOST, lambda j: j.pid != 111, max_silence=60, now=later)
    assert [j.id for j in reaped] == [dead.id]
    much_later = utcnow() + timedelta(seconds=120)
    with session_scope(db_url, write_lock=True) as s:
        reaped = reap_stale(s, HOST, lambda j: True, max_silence=60, now=much_later)
    assert {j.id for j in reaped} == {quiet.id, alive.id, queued.id}
    with session_scope(db_url) as s:
        got = {j.id: j for j in list_jobs(s)}
    assert "pid 111" in got[dead.id].error and got[dead.id].status == "failed"
    assert "no heartbeat" in got[quiet.id].error
    assert "no process started it" in got[queued.id].error
    assert got[waiting.id].status == "failed" and f"job {dead.id}" in got[waiting.id].error
