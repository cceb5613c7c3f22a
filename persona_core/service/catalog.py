"""Which persona spaces the database holds, and loading one for display.

A :class:`SpaceView` is what the pages need of an embedding run: the survey, the respondents'
persona vectors, map coordinates, cohorts and profiles. Arrays and cohorts come from the
database (the record of the run); the survey comes from the run's saved artifacts when they are
there (fast), else from the database.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from persona_core.data.survey import Survey

OUTLIER = -1


@dataclass(frozen=True)
class RunSummary:
    """One stored embedding run, for a picker."""

    id: int
    dataset_name: str
    created_at: str
    n_respondents: int
    n_cohorts: int
    run_key: str | None

    @property
    def label(self) -> str:
        return f"{self.dataset_name} · run {self.id} ({self.n_respondents} respondents, {self.n_cohorts} cohorts, {self.created_at})"


@dataclass
class DatabaseStatus:
    """Whether the database can be read, and its embedding runs (newest first)."""

    url: str
    ok: bool
    runs: list[RunSummary] = field(default_factory=list)
    error: str | None = None

    @property
    def empty(self) -> bool:
        return self.ok and not self.runs


def redact_url(url: str) -> str:
    """``url`` with any password hidden (for display)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given
        return url


def database_status(db_url: str | None = None) -> DatabaseStatus:
    """The embedding runs stored at ``db_url``; never raises (errors go into ``error``).

    A database that was never migrated counts as empty (the app offers to build a space)."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from db.session import get_engine, session_scope
    from db.settings import get_database_url
    from db.store import list_embedding_runs

    try:
        url = get_database_url(db_url)
    except Exception as exc:  # noqa: BLE001
        return DatabaseStatus(url=str(db_url), ok=False, error=str(exc))
    try:
        if not inspect(get_engine(url)).has_table("embedding_run"):
            return DatabaseStatus(url=url, ok=True)
        with session_scope(url) as session:
            runs = list_embedding_runs(session)
    except (SQLAlchemyError, ValueError, ImportError, OSError) as exc:
        return DatabaseStatus(url=url, ok=False, error=f"{type(exc).__name__}: {exc}".splitlines()[0])
    return DatabaseStatus(
        url=url,
        ok=True,
        runs=[
            RunSummary(
                id=r.id, dataset_name=r.dataset_name, created_at=r.created_at.strftime("%Y-%m-%d %H:%M"),
                n_respondents=r.n_respondents, n_cohorts=r.n_cohorts, run_key=r.params.get("run_key"),
            )
            for r in runs
        ],
    )


@dataclass
class SpaceView:
    """An embedding run as the pages show it. Arrays are aligned with ``survey.respondent_ids``;
    ``cohort_labels`` is -1 for outliers; ``profiles`` by cohort label (see
    :func:`persona_core.profile.profile_cohorts`)."""

    run_id: int
    run_key: str
    survey: Survey
    embeddings: np.ndarray
    coords: np.ndarray
    cohort_labels: np.ndarray
    cohort_probabilities: np.ndarray
    likely_cohorts: np.ndarray
    cohort_centroids: dict[int, np.ndarray]
    cohort_names: dict[int, str]
    profiles: dict[int, dict]
    metrics: dict
    params: dict
    heldout_mask: np.ndarray
    artifact_path: str | None = None
    survey_source: str = "database"

    @property
    def dataset_name(self) -> str:
        return self.survey.name

    @property
    def cohorts(self) -> list[int]:
        return sorted(self.cohort_centroids)

    def cohort_tag(self, label: int) -> str:
        """``"Cohort 2"`` (or ``"Outliers"``): the title without the name."""
        return "Outliers" if label == OUTLIER else f"Cohort {label}"

    def cohort_title(self, label: int) -> str:
        """``"Cohort 2 · abany: yes · grass: legal"`` (or ``"Outliers"``)."""
        name = "" if label == OUTLIER else self.cohort_names.get(label, "")
        return self.cohort_tag(label) + (f" · {name}" if name else "")

    def members(self, label: int) -> np.ndarray:
        """Respondent indices of cohort ``label``."""
        return np.flatnonzero(self.cohort_labels == label)

    def respondent_index(self, respondent_id: str) -> int:
        """Index of ``respondent_id`` (surrounding spaces ignored); ``KeyError`` naming it if unknown."""
        return self.survey.respondent_index(str(respondent_id).strip())


def stored_run_id(db_url: str | None, dataset: str | None = None, run: int | None = None) -> int:
    """Embedding run ``run`` if it is stored (of ``dataset``, when given), else the newest one of
    ``dataset`` (of any, when ``None``); a :class:`~persona_core.data.errors.DataError` saying
    what to do when there is none. Migrates the database first."""
    from db.session import session_scope, upgrade_database
    from db.store import list_embedding_runs
    from persona_core.data.errors import DataError, no_persona_space

    upgrade_database(db_url)
    with session_scope(db_url) as session:
        runs = list_embedding_runs(session, dataset)
    if run is not None:
        if run not in {r.id for r in runs}:
            raise DataError(f"no embedding run {run}" + (f" of dataset {dataset!r}" if dataset else ""))
        return run
    if not runs:
        raise no_persona_space(dataset)
    return runs[0].id


def _survey_from_artifacts(path: str | None, dataset_name: str, respondent_ids: list[str]) -> Survey | None:
    """The survey a saved persona space holds (``.npz`` + JSON, never unpickled), if it is there
    and is this run's; else ``None`` (the caller reads it from the database)."""
    from persona_core.data.errors import DataError
    from persona_core.data.survey_files import META, load_survey_files

    if not path or not (Path(path) / META).is_file():
        return None
    try:
        survey = load_survey_files(path)
    except DataError:
        return None
    if survey.name != dataset_name or survey.respondent_ids != respondent_ids:
        return None
    return survey


def load_space_view(db_url: str | None, run_id: int) -> SpaceView:
    """Load embedding run ``run_id`` for display (raises :class:`db.store.NotFoundError`)."""
    from db.session import session_scope
    from db.store import load_embedding_run
    from persona_core.data.survey_db import load_survey
    from persona_core.embed.split import heldout_split

    with session_scope(db_url) as session:
        record = load_embedding_run(session, run_id)
        survey = _survey_from_artifacts(record.artifact_path, record.dataset_name, record.respondent_ids)
        source = "artifacts"
        if survey is None:
            survey = load_survey(session, record.dataset_name)
            source = "database"
    if survey.respondent_ids != record.respondent_ids:  # a run stores every respondent, in survey order
        raise ValueError(
            f"embedding run {run_id} does not match the respondents of dataset {record.dataset_name!r}; rebuild it"
        )
    params = record.params
    mask = heldout_split(survey, params.get("heldout_fraction", 0.2), params.get("split_seed", 0))
    return SpaceView(
        run_id=record.id,
        run_key=str(params.get("run_key") or f"run-{record.id}"),
        survey=survey,
        embeddings=record.embeddings,
        coords=record.coords,
        cohort_labels=record.cohort_labels,
        cohort_probabilities=record.cohort_probabilities,
        likely_cohorts=record.likely_cohorts,
        cohort_centroids={int(c["label"]): np.asarray(c["centroid"], np.float32) for c in record.cohorts},
        cohort_names={int(c["label"]): str(c.get("name") or "") for c in record.cohorts},
        profiles={int(c["label"]): dict(c.get("profile") or {}) for c in record.cohorts},
        metrics=record.metrics,
        params=params,
        heldout_mask=mask,
        artifact_path=record.artifact_path,
        survey_source=source,
    )
