"""Jobs page: start training, evaluation or starter pairs for any stored persona space, and follow
every background job live (stage, percentage, time left, log, error)."""
from __future__ import annotations

import streamlit as st

from app_pages import common, jobs_panel
from persona_core.service import jobs
from persona_core.service.first_run import (
    eval_step, has_trained_model, starter_pairs_step, stored_spaces, train_step,
)

st.title("Background jobs")
url = common.db_url()
try:
    spaces = stored_spaces(url)
except Exception as exc:  # noqa: BLE001 - shown, never a traceback
    st.error(f"Cannot read the stored persona spaces: {common.literal(exc)}")
    spaces = []

if spaces:
    st.subheader("Start a job")
    labels = {s.run_id: f"{s.dataset} · run {s.run_id}" for s in spaces}
    ids = list(labels)
    chosen = st.session_state.get(common.RUN_ID)
    run_id = st.selectbox("Persona space", ids, index=ids.index(chosen) if chosen in ids else 0,
                          format_func=labels.get, key="jobs_space")
    space = next(s for s in spaces if s.run_id == run_id)
    tiny = st.toggle("Tiny configuration (seconds: checks the pipeline, does not steer well)", key="jobs_tiny")
    trained = has_trained_model(space)
    c1, c2, c3 = st.columns(3)
    clicked = None
    if c1.button("Train the steering model", key="jobs_train", icon=":material/model_training:"):
        clicked = train_step(space, tiny)
    if c2.button("Evaluate it", key="jobs_eval", icon=":material/analytics:", disabled=not trained,
                 help=None if trained else "Train a steering model for this space first"):
        clicked = eval_step(space, tiny)
    if c3.button("Starter pairs for Annotate", key="jobs_pairs", icon=":material/rate_review:", disabled=not trained,
                 help=None if trained else "The starter pairs are steered by the steering model: train it first"):
        clicked = starter_pairs_step(space)
    if clicked is not None:
        before = {j.id for j in jobs.list_jobs(url, active=True)}
        try:
            job_id = jobs.submit(url, clicked.kind, clicked.args, label=clicked.label, run_id=space.run_id,
                                 dedupe_key=clicked.dedupe_key)
        except jobs.JobSubmitError as exc:
            st.error(common.literal(str(exc)))
        else:
            if job_id in before:
                st.info(f"Job {job_id} already does this; following it below.")
            else:
                st.success(f"Started job {job_id}: {common.literal(clicked.label)}")
else:
    st.info("No persona space is stored yet: build one on the Opinion map page.")


@st.fragment(run_every=jobs_panel.REFRESH_SECONDS)
def job_list() -> None:
    found = jobs_panel._list(url, limit=30)
    if not found:
        st.caption("No jobs yet.")
        return
    for job in found:
        with st.container(border=True):
            jobs_panel.job_card(job, cancel=True)


st.subheader("Jobs, newest first")
job_list()
