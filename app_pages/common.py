"""Streamlit glue shared by the pages: cached loaders, the sidebar's choices, the empty-database
state with its build button. Layout only; the work happens in :mod:`persona_core.service`."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import streamlit as st

from persona_core.env import env_flag
from persona_core.service import models
from persona_core.service.catalog import DatabaseStatus, RunSummary, SpaceView, database_status, load_space_view, redact_url

STATIC = Path(__file__).resolve().parents[1] / "static"  # the files Streamlit serves beside app.py

# session_state keys (per user)
DB_URL = "db_url"
RUN_ID = "run_id"
MODEL = "model_name"
SPM_PATH = "spm_path"
SELECTION = "selection_ids"  # respondent ids selected on the map
PERSONA = "persona"  # the steering target (persona_core.service.Persona)
HIGHLIGHT = "highlight_id"
NO_SPM = "(none: steer by text)"
SPM_AUTO = "spm_auto"  # True while "no SPM" was chosen for want of a checkpoint, not by the user


# ------------------------------------------------------------------- cached loaders
@st.cache_data(ttl=10, show_spinner=False)
def db_status(url: str | None) -> DatabaseStatus:
    return database_status(url or None)


@st.cache_resource(show_spinner="Loading the persona space…", max_entries=4)
def space_view(url: str | None, run_id: int) -> SpaceView:
    return load_space_view(url or None, run_id)


def language_model(model: str | None):
    """The language model, shared by every session (:mod:`persona_core.service.models`)."""
    if models.model_loaded(model):
        return models.language_model(model)
    with st.spinner("Loading the language model…"):
        return models.language_model(model)


def comparer(model: str | None, spm_path: str | None, run_key: str):
    """The comparer of ``model`` and the SPM at ``spm_path``, shared by every session."""
    if models.comparer_loaded(model, spm_path, run_key):
        return models.comparer(model, spm_path, run_key)
    what = "steering model" if models.model_loaded(model) else "language model"
    with st.spinner(f"Loading the {what}…"):
        return models.comparer(model, spm_path, run_key)


def comparer_warm_up(run: RunSummary | None) -> Callable[[], object]:
    """A call that starts loading the sidebar's model and SPM for ``run`` in the background (once
    per process), so that the first visit to Compare does not wait for them. ``app.py`` makes it
    after the page is sent; the choices are read now, as after ``st.stop()`` the session state
    can no longer be read."""
    if run is None or not run.run_key:
        return lambda: None
    choice = (st.session_state.get(MODEL) or None, selected_spm_path(), run.run_key)
    return lambda: models.warm_up(*choice)


def selected_spm_path() -> str | None:
    """The SPM checkpoint picked in the sidebar (``None``: none)."""
    path = st.session_state.get(SPM_PATH)
    return None if path in (None, NO_SPM) else path


def selected_comparer(run_key: str):
    """The comparer of the sidebar's model and SPM checkpoint; ``None``, with a message saying what
    to do, when the model cannot be loaded."""
    try:
        return comparer(st.session_state.get(MODEL) or None, selected_spm_path(), run_key)
    except Exception as exc:  # noqa: BLE001 - a missing or refused model is a message, not a traceback
        st.error(f"The language model could not be loaded: {exc}")
        st.info("Set the model in the sidebar (a local Hugging Face directory, a .gguf file or a hub id), "
                "or install the embedded one with `make setup`.")
        return None


@st.cache_data(ttl=10, show_spinner=False)
def checkpoints_by_run() -> dict[str, list]:
    from persona_core.service.checkpoints import checkpoints_by_run as grouped

    return grouped()


def checkpoints(run_key: str) -> list:
    """The SPM checkpoints trained on the embedding run ``run_key``, newest first."""
    return checkpoints_by_run().get(run_key, [])


def no_steering_model_note(run: RunSummary, runs: list[RunSummary], training: bool) -> str:
    """Why the sidebar offers no steering model for ``run``, and where one is: a checkpoint fits
    only the embedding run it was trained on, and every build makes a new run. ``training``: a
    training job of ``run`` is queued or running."""
    if training:
        return "A steering model for this run is being trained: follow it under Jobs."
    note = ("No steering model is trained on this run: a steering model fits only the embedding run "
            "it was trained on, and every build makes a new run.")
    trained = [r for r in runs if r.id != run.id and r.run_key and checkpoints(r.run_key)]
    if len(trained) == 1:
        note += f" Run {trained[0].id} has one: choose it above."
    elif trained:
        note += f" Runs {', '.join(str(r.id) for r in trained[:3])} have one: choose one above."
    return note + " Or train one for this run on the Jobs page."


# -------------------------------------------------------------------------- context
@dataclass
class Context:
    """The current user's database, embedding run and loaded space."""

    url: str | None
    status: DatabaseStatus
    run: RunSummary
    view: SpaceView


def db_url_field_enabled() -> bool:
    """The sidebar's database URL field is off unless ``PERSONA_ALLOW_DB_URL_FIELD=1``: a URL typed
    there decides which files the app reads, so only a deployment that wants it turns it on."""
    return env_flag("PERSONA_ALLOW_DB_URL_FIELD", default=False)


def db_url() -> str | None:
    """The database URL typed in the sidebar (when that field is enabled), else ``None`` (the
    configured ``PERSONA_DB_URL`` / default file)."""
    if not db_url_field_enabled():
        return None
    return (st.session_state.get(DB_URL) or "").strip() or None


def current_run(status: DatabaseStatus) -> RunSummary | None:
    """The run chosen in the sidebar (the newest if none or an unknown one is chosen)."""
    if not status.runs:
        return None
    chosen = st.session_state.get(RUN_ID)
    for run in status.runs:
        if run.id == chosen:
            return run
    return status.runs[0]


def require_space() -> Context:
    """The current context; renders the database error or the empty state and stops the page
    when there is no persona space to show."""
    url = db_url()
    status = db_status(url)
    if not status.ok:
        st.error(f"Cannot read the database {redact_url(status.url)}: {status.error}")
        st.info("Check the database URL in the sidebar (any SQLAlchemy URL, e.g. sqlite:///var/persona.db).")
        st.stop()
    run = current_run(status)
    if run is None:
        empty_state(url)
        st.stop()
    try:
        view = space_view(url, run.id)
    except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
        st.error(f"Cannot load embedding run {run.id}: {exc}")
        st.stop()
    # a persona of another run lives in another space: drop it
    persona = st.session_state.get(PERSONA)
    if persona is not None and persona.run_key != view.run_key:
        st.session_state.pop(PERSONA, None)
        st.session_state.pop(SELECTION, None)
    return Context(url=url, status=status, run=run, view=view)


def empty_state(url: str | None) -> None:
    """No persona space yet: say so and offer to build one."""
    from persona_core.data.gss import default_gss_path

    st.warning(f"No persona space is built in the database {redact_url(db_status(url).url)} yet.")
    st.write(
        "Build one here (or on the command line: `python -m persona_core build --dataset gss --wave 2016`). "
        "Loading, embedding, mapping and clustering the GSS 2016 wave takes a few minutes on 2 CPU cores."
    )
    gss = default_gss_path()
    kinds = {"gss": "GSS panel (wave 2016, 2018 or 2020)", "csv": "CSV folder (long format)", "opinionqa": "OpinionQA wave folder"}
    with st.form("build_form"):
        kind = st.radio("Survey", list(kinds), format_func=kinds.get, horizontal=True, key="build_kind")
        path = st.text_input("Path (empty = the shared GSS file)", value="", key="build_path",
                             help=f"GSS default: {gss}" + ("" if gss.exists() else " (not found)"))
        wave = st.text_input("Wave (GSS: 2016/2018/2020; OpinionQA: e.g. W26)", value="2016", key="build_wave")
        submitted = st.form_submit_button("Build persona space", type="primary")
    if submitted:
        build_space(url, kind, path.strip() or None, wave.strip() or None)


def build_space(url: str | None, kind: str, path: str | None, wave: str | None) -> None:
    """Load, build and store a persona space, showing progress; reruns the app when done."""
    from persona_core.data.errors import DataError
    from persona_core.data.loaders import load_survey
    from persona_core.pipeline import PIPELINE_STAGES, build_and_store

    names = {"store": "storing the survey", "embed": "embedding respondents (factorization)",
             "project": "drawing the map (UMAP)", "cluster": "finding cohorts (HDBSCAN)",
             "profile": "profiling cohorts", "save": "saving"}
    with st.status("Building the persona space…", expanded=True) as status:
        try:
            status.write("Loading the survey…")
            survey = load_survey(kind, path=path, wave=wave if kind != "csv" else None)
            status.write(f"{survey.n_respondents} respondents, {survey.n_questions} questions, {survey.n_answers} answers")
            bar = st.progress(0.0)

            def on_stage(name: str) -> None:
                i = PIPELINE_STAGES.index(name)
                status.update(label=f"Building: {names.get(name, name)}…")
                status.write(f"{names.get(name, name).capitalize()}…")
                bar.progress(i / len(PIPELINE_STAGES))

            result = build_and_store(survey, db_url=url, kind=kind, on_stage=on_stage)
            bar.progress(1.0)
        except (DataError, ValueError, OSError) as exc:
            status.update(label="The build failed", state="error")
            st.error(str(exc))
            return
        m = result.space.metrics
        status.update(label=f"Built run {result.run_id}: {m['cohorts']} cohorts, held-out accuracy "
                            f"{m['heldout_accuracy']:.1%}", state="complete")
    db_status.clear()
    st.session_state[RUN_ID] = result.run_id
    st.rerun()


def set_persona(persona) -> None:
    """Make ``persona`` the steering target (shown on the Compare page)."""
    st.session_state[PERSONA] = persona


_MARKDOWN_SPECIALS = set("\\`*_{}[]()#+-.!|<>~$:")
# GitHub-flavoured Markdown turns bare "http://...", "www." and "name@host" into links after the
# escapes are resolved, so no backslash stops it: a zero-width space breaks each of them instead
_AUTOLINK_TRIGGERS = re.compile(r"(?<=[a-z])(?=://)|(?<=www)(?=\.)|(?=@)", re.IGNORECASE)
ZERO_WIDTH_SPACE = "\u200b"


def literal_table(frame: pd.DataFrame, precision: int = 2) -> None:
    """``st.table`` of ``frame`` with its text shown as the characters it is: st.table reads every
    cell, index entry and header as Markdown, so each string goes through :func:`literal`; numbers
    are shown to ``precision`` decimals."""

    def shown(value: object) -> object:
        return literal(value) if isinstance(value, str) else value

    out = frame.copy()
    out.index = out.index.map(shown).rename(shown(out.index.name))
    out.columns = out.columns.map(shown)
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].map(shown)
    st.table(out.style.format(precision=precision))


def literal(text: object) -> str:
    """Text from models, annotators or data files, safe inside ``st.markdown``: every Markdown
    (and HTML) special character is backslash-escaped, so links, images, emphasis and tags are
    shown as the characters they are, and a zero-width space goes before each "://", "@" and the
    dot of "www." so no bare address becomes a link; line breaks are kept."""
    text = _AUTOLINK_TRIGGERS.sub(ZERO_WIDTH_SPACE, str(text))
    escaped = "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in text)
    return escaped.replace("\n", "  \n")
