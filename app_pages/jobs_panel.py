"""Background jobs in the app: the sidebar's live panel, the job cards of the Jobs page, and the
note Compare shows while the steering model trains. Layout only; jobs are started and read
through :mod:`persona_core.service.jobs` (rows in the database, so every tab sees the same)."""
from __future__ import annotations

import streamlit as st

from app_pages import common
from persona_core.service import first_run, jobs
from persona_core.service.jobs import format_seconds

REFRESH_SECONDS = 2.0
SEEN_ACTIVE = "jobs_seen_active"  # ids of the jobs this session last saw queued or running
STATUS_ICONS = {"queued": ":material/schedule:", "running": ":material/progress_activity:",
                "done": ":material/check_circle:", "failed": ":material/error:"}


def progress_text(job) -> str:
    """``42% · 6 min 10 s left · stage`` (as plain text)."""
    parts = []
    if job.progress is not None:
        parts.append(f"{job.progress:.0%}")
    if job.status == "running":
        parts.append(f"{format_seconds(job.eta_seconds)} left" if job.progress is not None else "working")
    if job.status == "queued":
        parts.append("waiting for the job before it" if job.after_id else "starting")
    if job.stage and job.status in ("queued", "running"):
        parts.append(job.stage)
    return " · ".join(parts)


def _list(url: str | None, **kw) -> list:
    try:
        return jobs.list_jobs(url, **kw)
    except Exception as exc:  # noqa: BLE001 - a busy or unreadable database is a caption, not a traceback
        st.caption(f"Jobs cannot be read right now ({type(exc).__name__}).")
        return []


def _notice_endings(active_ids: set[int]) -> None:
    """A job this session saw running has ended: rerun the whole app once, so the sidebar picks up
    a new checkpoint and pages read the new evaluation or pairs."""
    seen = st.session_state.get(SEEN_ACTIVE)
    st.session_state[SEEN_ACTIVE] = active_ids
    if seen and seen - active_ids:
        common.checkpoints_by_run.clear()
        st.rerun(scope="app")


def job_card(job, *, compact: bool = False, cancel: bool = False) -> None:
    """One job: status, label, progress bar with % and time left, error, log tail."""
    st.markdown(f"{STATUS_ICONS.get(job.status, '')} **Job {job.id}** · {job.status} · {common.literal(job.label)}")
    if job.status in ("queued", "running"):
        st.progress(float(job.progress or 0.0), text=common.literal(progress_text(job)))
    if job.status == "failed" and job.error:
        st.error(common.literal(job.error))
    if job.status == "done" and job.seconds is not None:
        st.caption(f"Done in {format_seconds(job.seconds)}")
    if compact:
        return
    if job.log_tail:
        with st.expander("Log (last lines)"):
            st.code(job.log_tail, language=None)
    if cancel and job.status in ("queued", "running"):
        if st.button("Cancel", key=f"job_cancel_{job.id}", icon=":material/cancel:"):
            try:
                jobs.cancel(common.db_url(), job.id)
            except jobs.JobSubmitError as exc:
                st.warning(common.literal(str(exc)))


@st.fragment(run_every=REFRESH_SECONDS)
def sidebar_panel() -> None:
    """Queued and running jobs, live; nothing when there are none."""
    active = _list(common.db_url(), active=True)
    _notice_endings({j.id for j in active})
    if not active:
        return
    st.subheader("Background jobs")
    for job in reversed(active):  # in the order they run
        job_card(job, compact=True)
    st.page_link("app_pages/jobs.py", label="All jobs, logs and buttons", icon=":material/work_history:")


def training_jobs(run_id: int) -> list:
    """Queued and running training jobs of embedding run ``run_id`` (none when jobs cannot be read)."""
    try:
        return first_run.training_in_progress(common.db_url(), run_id)
    except Exception:  # noqa: BLE001 - a busy database only loses the notice
        return []


def training_notice(run_id: int) -> bool:
    """On Compare: say so when this run's steering model is being trained (and Compare steers by
    text meanwhile). Returns whether one is."""
    training = training_jobs(run_id)
    if not training:
        return False
    job = training[-1]
    st.info("The steering model (SPM) for this persona space is being trained in the background "
            f"(job {job.id}: {common.literal(progress_text(job))}). Until it is done, the steered side is "
            "steered by describing the persona in words; Compare switches to the steering model by itself "
            "when training finishes.", icon=":material/model_training:")
    return True
