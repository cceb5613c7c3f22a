"""Persona Explorer: ``streamlit run app.py``. Navigation and the sidebar (database, embedding
run, model, steering checkpoint); each page lives in ``app_pages/`` (not ``pages/``: Streamlit
would also serve a ``pages/`` folder as old-style pages that bypass this file)."""
from __future__ import annotations

import streamlit as st

from app_pages import common, jobs_panel, preload
from persona_core.service.catalog import redact_url

# The tab's icon is a file of this app: a ":material/...:" icon would be fetched from fonts.gstatic.com by
# every visitor's browser (and fail offline); an SVG file goes to the page inline as a data URL.
FAVICON = common.STATIC / "favicon.svg"
st.set_page_config(page_title="Persona Explorer", page_icon=str(FAVICON), layout="wide")

PAGES = [
    st.Page("app_pages/map.py", title="Opinion map", icon=":material/map:", default=True),
    st.Page("app_pages/cohorts.py", title="Cohorts", icon=":material/groups:", url_path="cohorts"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare:", url_path="compare"),
    st.Page("app_pages/ask.py", title="Ask everyone", icon=":material/forum:", url_path="ask"),
    st.Page("app_pages/evaluation.py", title="Evaluation", icon=":material/analytics:", url_path="evaluation"),
    st.Page("app_pages/annotate.py", title="Annotate", icon=":material/rate_review:", url_path="annotate"),
    st.Page("app_pages/jobs.py", title="Jobs", icon=":material/work_history:", url_path="jobs"),
]


def sidebar() -> common.RunSummary | None:
    """The sidebar's choices; returns the embedding run in use (``None``: none stored)."""
    with st.sidebar:
        st.header("Persona Explorer")
        if common.db_url_field_enabled():
            st.text_input("Database URL", key=common.DB_URL, placeholder="empty = PERSONA_DB_URL or var/persona.db",
                          help="Any SQLAlchemy URL, e.g. sqlite:///var/persona.db or postgresql+psycopg://user@host/db")
        status = common.db_status(common.db_url())
        st.caption(f"Using {redact_url(status.url)}")
        if status.ok and status.runs:
            ids = [r.id for r in status.runs]
            labels = {r.id: r.label for r in status.runs}
            if st.session_state.get(common.RUN_ID) not in ids:
                st.session_state[common.RUN_ID] = ids[0]
            st.selectbox("Dataset and embedding run", ids, format_func=labels.get, key=common.RUN_ID)
        st.text_input("Model", key=common.MODEL, placeholder="empty = PERSONA_MODEL or SmolLM2-135M-Instruct",
                      help="A local Hugging Face model directory, a .gguf file or a hub id (remote code is never run)")
        run = common.current_run(status) if status.ok else None
        if run is not None and run.run_key:
            found = common.checkpoints(run.run_key)
            options = [common.NO_SPM] + [c.path for c in found]
            labels = {c.path: c.label for c in found}
            # "no SPM" chosen for want of one gives way to the first checkpoint that appears
            auto = st.session_state.get(common.SPM_AUTO) and st.session_state.get(common.SPM_PATH) == common.NO_SPM
            if st.session_state.get(common.SPM_PATH) not in options or (auto and len(options) > 1):
                st.session_state[common.SPM_PATH] = options[1] if len(options) > 1 else common.NO_SPM
                st.session_state[common.SPM_AUTO] = len(options) == 1
            st.selectbox("Steering model (SPM checkpoint)", options, key=common.SPM_PATH,
                         on_change=lambda: st.session_state.update({common.SPM_AUTO: False}),
                         format_func=lambda p: labels.get(p, p),
                         help="SPM checkpoints trained on this embedding run (python -m persona_core train)")
            if not found:
                st.caption(common.no_steering_model_note(run, status.runs, bool(jobs_panel.training_jobs(run.id))))
        persona = st.session_state.get(common.PERSONA)
        if persona is not None:
            st.info(f"Steering toward: **{common.literal(persona.title)}**")
        jobs_panel.sidebar_panel()
        preload.mount()
    return run


page = st.navigation(PAGES)
warm_up = common.comparer_warm_up(sidebar())
try:
    page.run()
finally:  # after the page is sent, also when it stopped early
    warm_up()
