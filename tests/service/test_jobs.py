"""A real background job: ``submit`` starts ``python -m persona_core --job ID jobs tick`` as its own
process, which runs at a lower priority than the app, reports its progress and finishes."""
from __future__ import annotations

import os
import time

import pytest

from persona_core.service import jobs


def _until(condition, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
    return value


def _niceness(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])  # field 19 of stat: nice


def test_a_job_process_yields_the_cpu_reports_and_finishes(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONA_ARTIFACTS_DIR", str(tmp_path))
    job_id = jobs.submit(db_url, "jobs", ["tick", "--steps", "60", "--interval", "0.1"], label="tick")
    running = _until(lambda: (j := jobs.get(db_url, job_id)).status == "running" and j.pid and j.progress and j)
    mine = os.nice(0)
    assert _niceness(running.pid) == min(mine + jobs.JOB_NICENESS, 19)
    done = jobs.wait(db_url, job_id, timeout=120, every=0.05)
    assert done.status == "done", (done.error, done.log_tail)
    assert done.progress == 1.0 and done.seconds > 0


def test_niceness_can_be_set_by_environment(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONA_ARTIFACTS_DIR", str(tmp_path))
    monkeypatch.setenv("PERSONA_JOB_NICE", "3")
    job_id = jobs.submit(db_url, "jobs", ["tick", "--steps", "60", "--interval", "0.1"], label="tick")
    running = _until(lambda: (j := jobs.get(db_url, job_id)).status == "running" and j.pid and j.progress and j)
    assert _niceness(running.pid) == min(os.nice(0) + 3, 19)
    assert jobs.wait(db_url, job_id, timeout=120, every=0.05).status == "done"


def test_wait_names_a_job_still_running_at_its_timeout(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONA_ARTIFACTS_DIR", str(tmp_path))
    job_id = jobs.submit(db_url, "jobs", ["tick", "--steps", "600", "--interval", "0.1"], label="tick")
    seen = []
    try:
        with pytest.raises(TimeoutError, match=f"job {job_id} still (queued|running)"):
            jobs.wait(db_url, job_id, timeout=0.5, every=0.05, on_poll=seen.append)
        assert seen and all(j.id == job_id for j in seen)
    finally:
        jobs.cancel(db_url, job_id)
