"""Persistence API used by the pipeline and the app: plain types in, plain types out.

Nothing here imports ``persona_core``: a survey travels as :class:`DatasetRows` (its table
rows), converted to and from ``Survey`` by :mod:`persona_core.data.survey_db`.

Every function works inside the caller's session (see :func:`db.session.session_scope`), so
one ``with session_scope(url) as s:`` block is one transaction: a survey load or an embedding
run lands whole or not at all.

JSON fields (params, metrics, profiles, results, ...) go through :func:`to_jsonable`: numpy
values become Python ones and NaN/inf become null. PostgreSQL stores them as JSONB, which
does not keep the order of an object's keys: keep ordered things in lists.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from db.bulk import bulk_insert
from db.models import (
    Answer,
    Cohort,
    Dataset,
    EmbeddingRun,
    EvaluationRun,
    Option,
    PreferencePair,
    Question,
    Respondent,
    RespondentEmbedding,
)

VECTOR_DTYPE = np.dtype("<f4")  # respondent vectors are stored as little-endian float32 bytes


class StoreError(ValueError):
    """A request the database cannot honour (conflict, bad shapes, unknown ids)."""


class DatasetConflictError(StoreError):
    """A dataset with this name but different content is already stored."""


class NotFoundError(StoreError, LookupError):
    """No dataset / run with that name or id."""


# --------------------------------------------------------------------------- records
@dataclass(frozen=True)
class QuestionRow:
    key: str
    text: str
    ordinal: bool
    options: tuple[str, ...]  # in their natural order


@dataclass
class DatasetRows:
    """A dataset as the rows of its tables: questions and respondents in order, answers as
    positions into them (``answer_*`` arrays aligned, in the order they were given)."""

    name: str
    kind: str
    fingerprint: str  # content hash; an equal dataset is not stored twice
    source: dict
    attribute_schema: list[dict]  # how to rebuild the attribute columns (JSON)
    questions: list[QuestionRow]
    respondent_keys: list[str]
    respondent_attributes: list[dict]  # one JSON object per respondent
    answer_respondent: np.ndarray
    answer_question: np.ndarray
    answer_option: np.ndarray

    @property
    def n_answers(self) -> int:
        return int(len(self.answer_option))


@dataclass(frozen=True)
class PreferencePairInfo:
    id: int
    run_id: int | None
    source: str
    prompt: str
    response_a: str
    response_b: str
    meta: dict
    created_at: datetime


@dataclass(frozen=True)
class DatasetInfo:
    id: int
    name: str
    kind: str
    fingerprint: str
    created_at: datetime
    n_respondents: int
    n_questions: int
    n_answers: int
    source: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EmbeddingRunInfo:
    id: int
    dataset_id: int
    dataset_name: str
    created_at: datetime
    params: dict
    metrics: dict
    seconds: dict
    artifact_path: str | None
    n_respondents: int
    dim: int
    n_cohorts: int


@dataclass
class EmbeddingRunRecord:
    """One embedding run with its per-respondent arrays, aligned with ``respondent_ids``."""

    id: int
    dataset_id: int
    dataset_name: str
    created_at: datetime
    params: dict
    metrics: dict
    seconds: dict
    artifact_path: str | None
    respondent_ids: list[str]
    embeddings: np.ndarray  # (n, d) float32
    coords: np.ndarray  # (n, 2) float64
    cohort_labels: np.ndarray  # (n,) int64, -1 = outlier
    cohort_probabilities: np.ndarray  # (n,) float64
    likely_cohorts: np.ndarray  # (n,) int64
    cohorts: list[dict]  # {"label", "size", "name", "centroid", "profile"}, by label


@dataclass(frozen=True)
class EvaluationRunInfo:
    id: int
    run_id: int
    dataset_name: str
    model_name: str
    checkpoint: str | None
    config: dict
    results: dict
    created_at: datetime


# ----------------------------------------------------------------------------- JSON
def to_jsonable(obj: Any, _path: str = "$") -> Any:
    """``obj`` as JSON-compatible Python (numpy scalars/arrays, tuples, paths, dates converted).
    Non-finite floats become ``None`` (JSON has no NaN; PostgreSQL rejects it)."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, f"{_path}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v, f"{_path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), _path)
    if isinstance(obj, PurePath):
        return str(obj)
    if obj is pd.NaT or obj is pd.NA:
        return None
    if isinstance(obj, (datetime, date, pd.Timestamp)):
        return obj.isoformat()
    raise TypeError(f"value at {_path} of type {type(obj).__name__} cannot be stored as JSON")


def utc_aware(ts: datetime) -> datetime:
    """SQLite gives timestamps back without a zone; they were written in UTC."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)


# -------------------------------------------------------------------------- datasets
def _dataset_info(d: Dataset) -> DatasetInfo:
    return DatasetInfo(
        id=d.id, name=d.name, kind=d.kind, fingerprint=d.fingerprint, created_at=utc_aware(d.created_at),
        n_respondents=d.n_respondents, n_questions=d.n_questions, n_answers=d.n_answers, source=dict(d.source),
    )


def _dataset_by_name(session: Session, name: str) -> Dataset:
    dataset = session.execute(select(Dataset).where(Dataset.name == name)).scalar_one_or_none()
    if dataset is None:
        raise NotFoundError(f"no dataset named {name!r} in the database")
    return dataset


def _ids_by_position(session: Session, stmt: Select, n: int, what: str) -> np.ndarray:
    """``stmt`` selects (position, id); return ids indexed by position."""
    rows = session.execute(stmt).all()
    if len(rows) != n:
        raise StoreError(f"expected {n} {what} rows, found {len(rows)}")
    ids = np.empty(n, dtype=np.int64)
    for position, id_ in rows:
        ids[position] = id_
    return ids


def save_dataset(session: Session, rows: DatasetRows, *, replace: bool = False) -> int:
    """Store ``rows`` as a dataset and return its id.

    Idempotent: a dataset with the same name and fingerprint is returned untouched. The same
    name with other content raises :class:`DatasetConflictError`, unless ``replace=True``: then
    the old dataset, its embedding runs and their evaluations are deleted first. Everything
    happens in the session's transaction (the caller commits).
    """
    existing = session.execute(
        select(Dataset.id, Dataset.fingerprint).where(Dataset.name == rows.name)
    ).one_or_none()
    if existing is not None:
        if existing.fingerprint == rows.fingerprint:
            return int(existing.id)
        if not replace:
            raise DatasetConflictError(
                f"dataset {rows.name!r} is already stored with different content "
                f"(fingerprint {existing.fingerprint[:12]}… vs {rows.fingerprint[:12]}…); "
                "pass replace=True to delete it and its embedding runs and load this one"
            )
        delete_dataset(session, rows.name)

    dataset = Dataset(
        name=rows.name,
        kind=rows.kind,
        source=to_jsonable(rows.source),
        attribute_schema=to_jsonable(rows.attribute_schema),
        fingerprint=rows.fingerprint,
        n_respondents=len(rows.respondent_keys),
        n_questions=len(rows.questions),
        n_answers=rows.n_answers,
    )
    session.add(dataset)
    session.flush()
    did = dataset.id

    questions = rows.questions
    bulk_insert(session, Question.__table__, {
        "dataset_id": [did] * len(questions),
        "position": list(range(len(questions))),
        "key": [q.key for q in questions],
        "text": [q.text for q in questions],
        "ordinal": [bool(q.ordinal) for q in questions],
    })
    question_ids = _ids_by_position(
        session, select(Question.position, Question.id).where(Question.dataset_id == did), len(questions), "question"
    )
    n_opt = np.array([len(q.options) for q in questions], dtype=np.int64)
    bulk_insert(session, Option.__table__, {
        "question_id": np.repeat(question_ids, n_opt),
        "position": np.concatenate([np.arange(k) for k in n_opt]),
        "text": [text for q in questions for text in q.options],
    })

    n_resp = len(rows.respondent_keys)
    bulk_insert(session, Respondent.__table__, {
        "dataset_id": [did] * n_resp,
        "position": list(range(n_resp)),
        "key": list(rows.respondent_keys),
        "attributes": rows.respondent_attributes,
    })
    respondent_ids = _ids_by_position(
        session, select(Respondent.position, Respondent.id).where(Respondent.dataset_id == did), n_resp, "respondent"
    )

    bulk_insert(session, Answer.__table__, {
        "respondent_id": respondent_ids[rows.answer_respondent],
        "question_id": question_ids[rows.answer_question],
        "option": np.asarray(rows.answer_option).astype(np.int64),
        "position": np.arange(rows.n_answers, dtype=np.int64),
    })
    session.flush()
    return int(did)


def load_dataset(session: Session, name: str) -> DatasetRows:
    """The stored dataset ``name`` as the rows :func:`save_dataset` was given."""
    dataset = _dataset_by_name(session, name)
    did = dataset.id
    q_rows = session.execute(
        select(Question.id, Question.key, Question.text, Question.ordinal)
        .where(Question.dataset_id == did)
        .order_by(Question.position)
    ).all()
    options: dict[int, list[str]] = {}
    for qid, text in session.execute(
        select(Option.question_id, Option.text)
        .join(Question, Question.id == Option.question_id)
        .where(Question.dataset_id == did)
        .order_by(Option.question_id, Option.position)
    ):
        options.setdefault(qid, []).append(text)
    r_rows = session.execute(
        select(Respondent.id, Respondent.key, Respondent.attributes)
        .where(Respondent.dataset_id == did)
        .order_by(Respondent.position)
    ).all()

    stmt = (
        select(Answer.respondent_id, Answer.question_id, Answer.option)
        .join(Respondent, Respondent.id == Answer.respondent_id)
        .where(Respondent.dataset_id == did)
        .order_by(Answer.position)
    )
    n = dataset.n_answers
    codes = np.array(_fetch_raw(session, stmt), dtype=np.int64).reshape(-1, 3)
    if len(codes) != n:
        raise StoreError(f"dataset {name!r} should have {n} answers, found {len(codes)}")
    return DatasetRows(
        name=dataset.name, kind=dataset.kind, fingerprint=dataset.fingerprint, source=dict(dataset.source),
        attribute_schema=list(dataset.attribute_schema),
        questions=[QuestionRow(key=key, text=text, ordinal=bool(ordinal), options=tuple(options.get(qid, ())))
                   for qid, key, text, ordinal in q_rows],
        respondent_keys=[r.key for r in r_rows],
        respondent_attributes=[r.attributes for r in r_rows],
        answer_respondent=_positions(np.array([r.id for r in r_rows], dtype=np.int64), codes[:, 0]),
        answer_question=_positions(np.array([q.id for q in q_rows], dtype=np.int64), codes[:, 1]),
        answer_option=codes[:, 2],
    )


def _fetch_raw(session: Session, stmt: Select) -> list[tuple]:
    """All rows of ``stmt`` as driver tuples, skipping SQLAlchemy's per-row result processing
    (5x faster for the ~900,000 answers; only for statements whose bound values are ints)."""
    connection = session.connection()
    sql = str(stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    return connection.exec_driver_sql(sql).cursor.fetchall()


def _positions(ids_in_order: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Map database ids to their position in ``ids_in_order``."""
    order = np.argsort(ids_in_order)
    found = order[np.searchsorted(ids_in_order, values, sorter=order)]
    if not np.array_equal(ids_in_order[found], values):
        raise StoreError("answers refer to rows outside their dataset")
    return found


def list_datasets(session: Session) -> list[DatasetInfo]:
    """Every stored dataset, by name."""
    return [_dataset_info(d) for d in session.execute(select(Dataset).order_by(Dataset.name)).scalars()]


def get_dataset(session: Session, name: str) -> DatasetInfo:
    return _dataset_info(_dataset_by_name(session, name))


def delete_dataset(session: Session, name: str) -> bool:
    """Delete dataset ``name`` with its answers, embedding runs and evaluations.
    Returns False if there was none."""
    did = session.execute(select(Dataset.id).where(Dataset.name == name)).scalar_one_or_none()
    if did is None:
        return False
    runs = select(EmbeddingRun.id).where(EmbeddingRun.dataset_id == did)
    questions = select(Question.id).where(Question.dataset_id == did)
    respondents = select(Respondent.id).where(Respondent.dataset_id == did)
    for stmt in (
        delete(EvaluationRun).where(EvaluationRun.run_id.in_(runs)),
        delete(Cohort).where(Cohort.run_id.in_(runs)),
        delete(RespondentEmbedding).where(RespondentEmbedding.run_id.in_(runs)),
        delete(EmbeddingRun).where(EmbeddingRun.dataset_id == did),
        delete(Answer).where(Answer.respondent_id.in_(respondents)),
        delete(Option).where(Option.question_id.in_(questions)),
        delete(Question).where(Question.dataset_id == did),
        delete(Respondent).where(Respondent.dataset_id == did),
        delete(Dataset).where(Dataset.id == did),
    ):
        session.execute(stmt.execution_options(synchronize_session=False))
    session.expire_all()
    return True


# -------------------------------------------------------------------- embedding runs
def save_embedding_run(
    session: Session,
    *,
    dataset_id: int,
    params: dict,
    metrics: dict,
    seconds: dict,
    artifact_path: str | None,
    respondent_ids: list[str],
    embeddings: np.ndarray,
    coords: np.ndarray,
    cohort_labels: np.ndarray,
    cohort_probabilities: np.ndarray,
    likely_cohorts: np.ndarray,
    cohorts: list[dict],
) -> int:
    """Store one fitted persona space of dataset ``dataset_id``; returns the run id.

    Arrays are aligned with ``respondent_ids`` (the survey's respondent ids, all of which must
    belong to the dataset). ``cohort_labels`` is -1 for outliers; ``likely_cohorts`` gives every
    respondent's most likely cohort. Each cohort dict: ``label``, ``size``, ``name``,
    ``centroid`` (list of floats), ``profile`` (JSON-able dict).
    """
    if session.get(Dataset, dataset_id) is None:
        raise NotFoundError(f"no dataset with id {dataset_id}")
    respondent_ids = [str(r) for r in respondent_ids]
    n = len(respondent_ids)
    if n == 0:
        raise StoreError("an embedding run needs at least one respondent")
    if len(set(respondent_ids)) != n:
        raise StoreError("respondent_ids contains duplicates")
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2 or embeddings.shape[0] != n:
        raise StoreError(f"embeddings must be ({n}, d), got {embeddings.shape}")
    coords = np.asarray(coords, dtype=np.float64)
    if coords.shape != (n, 2):
        raise StoreError(f"coords must be ({n}, 2), got {coords.shape}")
    arrays = {
        "cohort_labels": np.asarray(cohort_labels),
        "cohort_probabilities": np.asarray(cohort_probabilities, dtype=np.float64),
        "likely_cohorts": np.asarray(likely_cohorts),
    }
    for what, arr in arrays.items():
        if arr.shape != (n,):
            raise StoreError(f"{what} must have shape ({n},), got {arr.shape}")
    labels = [int(c["label"]) for c in cohorts]
    if len(set(labels)) != len(labels):
        raise StoreError("cohort labels are not unique")

    key_to_id = dict(session.execute(
        select(Respondent.key, Respondent.id).where(Respondent.dataset_id == dataset_id)
    ).all())
    missing = [r for r in respondent_ids if r not in key_to_id]
    if missing:
        raise StoreError(
            f"{len(missing)} respondent ids are not in dataset {dataset_id}, e.g. {missing[0]!r}"
        )

    run = EmbeddingRun(
        dataset_id=dataset_id, params=to_jsonable(params), metrics=to_jsonable(metrics),
        seconds=to_jsonable(seconds), artifact_path=None if artifact_path is None else str(artifact_path),
        dim=int(embeddings.shape[1]), n_respondents=n,
    )
    session.add(run)
    session.flush()
    vectors = np.ascontiguousarray(embeddings, dtype=VECTOR_DTYPE)
    bulk_insert(session, RespondentEmbedding.__table__, {
        "run_id": [run.id] * n,
        "position": list(range(n)),
        "respondent_id": [key_to_id[r] for r in respondent_ids],
        "vector": [row.tobytes() for row in vectors],
        "x": coords[:, 0],
        "y": coords[:, 1],
        "cohort_label": arrays["cohort_labels"].astype(np.int64),
        "cohort_probability": arrays["cohort_probabilities"],
        "likely_cohort": arrays["likely_cohorts"].astype(np.int64),
    })
    session.add_all(
        Cohort(
            run_id=run.id, label=int(c["label"]), size=int(c["size"]), name=str(c.get("name", "")),
            centroid=to_jsonable(list(np.asarray(c.get("centroid", []), dtype=np.float64))),
            profile=to_jsonable(c.get("profile", {})),
        )
        for c in cohorts
    )
    session.flush()
    return int(run.id)


def _run_info(run: EmbeddingRun, dataset_name: str, n_cohorts: int) -> EmbeddingRunInfo:
    return EmbeddingRunInfo(
        id=run.id, dataset_id=run.dataset_id, dataset_name=dataset_name, created_at=utc_aware(run.created_at),
        params=dict(run.params), metrics=dict(run.metrics), seconds=dict(run.seconds),
        artifact_path=run.artifact_path, n_respondents=run.n_respondents, dim=run.dim, n_cohorts=n_cohorts,
    )


def load_embedding_run(session: Session, run_id: int) -> EmbeddingRunRecord:
    """Embedding run ``run_id`` with its arrays and cohorts."""
    found = session.execute(
        select(EmbeddingRun, Dataset.name).join(Dataset, Dataset.id == EmbeddingRun.dataset_id)
        .where(EmbeddingRun.id == run_id)
    ).one_or_none()
    if found is None:
        raise NotFoundError(f"no embedding run with id {run_id}")
    run, dataset_name = found
    rows = session.execute(
        select(
            Respondent.key, RespondentEmbedding.vector, RespondentEmbedding.x, RespondentEmbedding.y,
            RespondentEmbedding.cohort_label, RespondentEmbedding.cohort_probability,
            RespondentEmbedding.likely_cohort,
        )
        .join(Respondent, Respondent.id == RespondentEmbedding.respondent_id)
        .where(RespondentEmbedding.run_id == run_id)
        .order_by(RespondentEmbedding.position)
    ).all()
    keys, vectors, xs, ys, labels, probs, likely = zip(*rows) if rows else ((),) * 7
    embeddings = np.frombuffer(b"".join(bytes(v) for v in vectors), dtype=VECTOR_DTYPE)
    cohorts = [
        {"label": c.label, "size": c.size, "name": c.name, "centroid": list(c.centroid), "profile": dict(c.profile)}
        for c in session.execute(select(Cohort).where(Cohort.run_id == run_id).order_by(Cohort.label)).scalars()
    ]
    return EmbeddingRunRecord(
        id=run.id, dataset_id=run.dataset_id, dataset_name=dataset_name, created_at=utc_aware(run.created_at),
        params=dict(run.params), metrics=dict(run.metrics), seconds=dict(run.seconds),
        artifact_path=run.artifact_path, respondent_ids=list(keys),
        embeddings=embeddings.reshape(len(keys), run.dim).astype(np.float32),
        coords=np.column_stack([np.array(xs, dtype=np.float64), np.array(ys, dtype=np.float64)]).reshape(-1, 2),
        cohort_labels=np.array(labels, dtype=np.int64),
        cohort_probabilities=np.array(probs, dtype=np.float64),
        likely_cohorts=np.array(likely, dtype=np.int64),
        cohorts=cohorts,
    )


def _runs_query(dataset_name: str | None) -> Select:
    stmt = select(EmbeddingRun, Dataset.name).join(Dataset, Dataset.id == EmbeddingRun.dataset_id)
    if dataset_name is not None:
        stmt = stmt.where(Dataset.name == dataset_name)
    return stmt.order_by(EmbeddingRun.created_at.desc(), EmbeddingRun.id.desc())


def list_embedding_runs(session: Session, dataset_name: str | None = None) -> list[EmbeddingRunInfo]:
    """Embedding runs (of one dataset, or all), newest first, without their arrays."""
    rows = session.execute(_runs_query(dataset_name)).all()
    counts: dict[int, int] = {}
    if rows:
        counts = dict(session.execute(
            select(Cohort.run_id, func.count()).where(Cohort.run_id.in_([r[0].id for r in rows]))
            .group_by(Cohort.run_id)
        ).all())
    return [_run_info(run, name, counts.get(run.id, 0)) for run, name in rows]


def latest_embedding_run(session: Session, dataset_name: str | None = None) -> EmbeddingRunRecord | None:
    """The newest embedding run (of one dataset, or of any), or ``None`` if there is none."""
    found = session.execute(_runs_query(dataset_name).limit(1)).first()
    return None if found is None else load_embedding_run(session, found[0].id)


# ------------------------------------------------------------------- evaluation runs
def save_evaluation_run(
    session: Session,
    *,
    run_id: int,
    model_name: str,
    checkpoint: str | None = None,
    config: dict | None = None,
    results: dict,
) -> int:
    """Store one evaluation of embedding run ``run_id`` (``results`` as JSON); returns its id."""
    if session.get(EmbeddingRun, run_id) is None:
        raise NotFoundError(f"no embedding run with id {run_id}")
    evaluation = EvaluationRun(
        run_id=run_id, model_name=str(model_name), checkpoint=None if checkpoint is None else str(checkpoint),
        config=to_jsonable(config or {}), results=to_jsonable(results),
    )
    session.add(evaluation)
    session.flush()
    return int(evaluation.id)


def list_evaluation_runs(
    session: Session, *, run_id: int | None = None, dataset_name: str | None = None
) -> list[EvaluationRunInfo]:
    """Evaluation runs (of one embedding run and/or dataset, or all), newest first."""
    stmt = (
        select(EvaluationRun, Dataset.name)
        .join(EmbeddingRun, EmbeddingRun.id == EvaluationRun.run_id)
        .join(Dataset, Dataset.id == EmbeddingRun.dataset_id)
    )
    if run_id is not None:
        stmt = stmt.where(EvaluationRun.run_id == run_id)
    if dataset_name is not None:
        stmt = stmt.where(Dataset.name == dataset_name)
    stmt = stmt.order_by(EvaluationRun.created_at.desc(), EvaluationRun.id.desc())
    return [
        EvaluationRunInfo(
            id=e.id, run_id=e.run_id, dataset_name=name, model_name=e.model_name, checkpoint=e.checkpoint,
            config=dict(e.config), results=dict(e.results), created_at=utc_aware(e.created_at),
        )
        for e, name in session.execute(stmt).all()
    ]


# ------------------------------------------------------------------- preference pairs
def save_preference_pair(
    session: Session,
    *,
    prompt: str,
    response_a: str,
    response_b: str,
    source: str = "compare",
    run_id: int | None = None,
    meta: dict | None = None,
) -> int:
    """Store a prompt with two answers to judge (``meta``: the hidden facts, as JSON); returns its id."""
    if not str(prompt).strip():
        raise StoreError("a preference pair needs a prompt")
    if run_id is not None and session.get(EmbeddingRun, run_id) is None:
        raise NotFoundError(f"no embedding run with id {run_id}")
    pair = PreferencePair(
        run_id=run_id, source=str(source), prompt=str(prompt), response_a=str(response_a),
        response_b=str(response_b), meta=to_jsonable(meta or {}),
    )
    session.add(pair)
    session.flush()
    return int(pair.id)


def list_preference_pairs(session: Session, *, run_id: int | None = None) -> list[PreferencePairInfo]:
    """Stored preference pairs (of one embedding run, or all), oldest first."""
    stmt = select(PreferencePair).order_by(PreferencePair.id)
    if run_id is not None:
        stmt = stmt.where(PreferencePair.run_id == run_id)
    return [preference_pair_info(p) for p in session.execute(stmt).scalars()]


def preference_pair_info(p: PreferencePair) -> PreferencePairInfo:
    """A loaded pair row as plain data."""
    return PreferencePairInfo(
        id=p.id, run_id=p.run_id, source=p.source, prompt=p.prompt, response_a=p.response_a,
        response_b=p.response_b, meta=dict(p.meta), created_at=utc_aware(p.created_at),
    )
