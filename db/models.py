"""SQLAlchemy 2.x models of the persona database, portable across SQLite and PostgreSQL.

Layout (``->`` is a foreign key, each ``ON DELETE CASCADE`` and indexed)::

    dataset                      one loaded survey (name unique, content fingerprint)
      question -> dataset        ordered by ``position``; ``key`` is the survey's question id
        option -> question       answer options, ordered by ``position``
      respondent -> dataset      ordered by ``position``; ``key`` is the survey's respondent id
      answer                     (respondent id, question id) -> option position; no FK
                                 constraints (bulk-load speed, see Answer); ``position`` keeps
                                 the survey's row order
      embedding_run -> dataset   one fitted persona space (parameters, metrics, timings)
        respondent_embedding -> embedding_run, respondent
                                 vector (float32 bytes), 2-D map coordinates, cohort membership
        cohort -> embedding_run  HDBSCAN cohort: label, size, name, centroid, profile
          cohort_name -> cohort  a name an LLM wrote for the cohort, with the evidence it was
                                 given; one per (cohort, model, prompt version): a cache
        evaluation_run -> embedding_run
                                 one evaluation of steering methods (results as JSON)
    preference_pair -> embedding_run (SET NULL)
                                 a prompt and two answers to judge (hidden facts in ``meta``)
      annotation -> preference_pair
                                 one vote (choice, rationale, displayed order, time spent,
                                 status); at most one ``current`` per (pair, annotator)
    induced_persona              a persona text induced from one annotator's votes (SynthesizeMe)
    simulation_run -> embedding_run
                                 one ``simulate`` run: (persona, question) rows scored by the
                                 steered and the unsteered model; ``key`` identifies its inputs
      simulation_chunk -> simulation_run
                                 a finished chunk of rows (written with its rows, in one transaction)
      simulation_row -> simulation_run
                                 one (persona, question) row: steered and unsteered option
                                 distributions (float32 bytes)
    job -> job (after, SET NULL), embedding_run (SET NULL)
                                 one background run of a CLI subcommand: status, stage,
                                 progress, eta, log tail, error, pid/host, heartbeat

Large per-row data stay compact: embedding vectors are little-endian float32 bytes
(``LargeBinary``: BLOB / BYTEA), answers store the option's position, not a text.
New tables (e.g. preference pairs) are one new Alembic revision that adds them.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    CheckConstraint,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so later migrations can drop/alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: JSON column: JSONB on PostgreSQL, JSON (text) elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")
#: Surrogate key: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
IdType = BigInteger().with_variant(Integer(), "sqlite")


#: SQLite reuses the largest deleted rowid unless AUTOINCREMENT; ids here are referenced from
#: outside the database (artifacts, checkpoints bound to an embedding run), so never reuse them.
NO_ID_REUSE = {"sqlite_autoincrement": True}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSONType, list[Any]: JSONType}


def _fk(target: str) -> ForeignKey:
    return ForeignKey(target, ondelete="CASCADE")


class Dataset(Base):
    """One survey loaded into the database."""

    __tablename__ = "dataset"
    __table_args__ = NO_ID_REUSE

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(50))
    source: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: column order and dtypes of the respondent attributes, to rebuild the data frame
    attribute_schema: Mapped[list[Any]] = mapped_column(default=list)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    n_respondents: Mapped[int] = mapped_column(Integer)
    n_questions: Mapped[int] = mapped_column(Integer)
    n_answers: Mapped[int] = mapped_column(Integer)


class Question(Base):
    __tablename__ = "question"
    __table_args__ = (
        UniqueConstraint("dataset_id", "position"),
        UniqueConstraint("dataset_id", "key"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(_fk("dataset.id"))
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    ordinal: Mapped[bool] = mapped_column(Boolean, default=True)


class Option(Base):
    __tablename__ = "option"
    __table_args__ = (UniqueConstraint("question_id", "position"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    question_id: Mapped[int] = mapped_column(_fk("question.id"))
    position: Mapped[int] = mapped_column(SmallInteger)
    text: Mapped[str] = mapped_column(Text)


class Respondent(Base):
    __tablename__ = "respondent"
    __table_args__ = (
        UniqueConstraint("dataset_id", "position"),
        UniqueConstraint("dataset_id", "key"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(_fk("dataset.id"))
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(255))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Answer(Base):
    """One answer: respondent, question, the chosen option's position, and ``position`` (the
    row's place in the survey's answer arrays, so a load gives back the same order).

    The primary key (respondent, question) makes answers unique and is the only index; on
    SQLite the table is ``WITHOUT ROWID``, i.e. that key *is* the table. There are no
    foreign-key constraints here on purpose: PostgreSQL checks them row by row, which took a
    910,000-answer load from ~10 s to ~70 s. Integrity comes from the one writer
    (:func:`db.store.save_dataset`, given rows of a survey validated by
    :func:`persona_core.data.survey_db.save_survey`, takes the ids from rows it inserted in the
    same transaction) and :func:`db.store.delete_dataset` deletes answers explicitly.
    """

    __tablename__ = "answer"
    __table_args__ = {"sqlite_with_rowid": False}

    respondent_id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=False)
    question_id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=False)
    option: Mapped[int] = mapped_column(SmallInteger)
    position: Mapped[int] = mapped_column(Integer)


class EmbeddingRun(Base):
    """One fitted persona space of a dataset: embeddings, 2-D map and cohorts."""

    __tablename__ = "embedding_run"
    __table_args__ = NO_ID_REUSE

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(_fk("dataset.id"), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seconds: Mapped[dict[str, Any]] = mapped_column(default=dict)
    artifact_path: Mapped[Optional[str]] = mapped_column(Text)
    dim: Mapped[int] = mapped_column(Integer)
    n_respondents: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class RespondentEmbedding(Base):
    """A respondent's place in one run: vector, map coordinates and cohort membership.
    ``cohort_label`` is -1 for outliers; ``likely_cohort`` is their most likely cohort."""

    __tablename__ = "respondent_embedding"
    __table_args__ = (UniqueConstraint("run_id", "respondent_id"),)

    run_id: Mapped[int] = mapped_column(_fk("embedding_run.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    respondent_id: Mapped[int] = mapped_column(_fk("respondent.id"), index=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # little-endian float32, length = run.dim
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    cohort_label: Mapped[int] = mapped_column(Integer)
    cohort_probability: Mapped[float] = mapped_column(Float)
    likely_cohort: Mapped[int] = mapped_column(Integer)


class Cohort(Base):
    __tablename__ = "cohort"
    __table_args__ = (UniqueConstraint("run_id", "label"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    run_id: Mapped[int] = mapped_column(_fk("embedding_run.id"))
    label: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text, default="")
    centroid: Mapped[list[Any]] = mapped_column(default=list)
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CohortName(Base):
    """A cohort's name as one LLM wrote it from the cohort's distinctive answers (``evidence``,
    the lines the model was shown), cached per model and prompt version. ``name`` is ``None``
    when the model's reply (``raw``) was no usable name, and ``reason`` says why."""

    __tablename__ = "cohort_name"
    __table_args__ = (UniqueConstraint("cohort_id", "model", "prompt_key"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    cohort_id: Mapped[int] = mapped_column(_fk("cohort.id"))
    model: Mapped[str] = mapped_column(Text)
    prompt_key: Mapped[str] = mapped_column(String(64))
    name: Mapped[Optional[str]] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvaluationRun(Base):
    """One evaluation of steering methods on an embedding run's held-out answers."""

    __tablename__ = "evaluation_run"
    __table_args__ = NO_ID_REUSE

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    run_id: Mapped[int] = mapped_column(_fk("embedding_run.id"), index=True)
    model_name: Mapped[str] = mapped_column(Text)
    checkpoint: Mapped[Optional[str]] = mapped_column(Text)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    results: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class PreferencePair(Base):
    """A prompt with two answers to judge, e.g. the Compare page's unsteered (``response_a``)
    and steered (``response_b``) answers; ``meta`` holds the hidden facts (persona, method,
    model, checkpoint, settings). The pair outlives its embedding run (``run_id`` set NULL)."""

    __tablename__ = "preference_pair"
    __table_args__ = NO_ID_REUSE

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    run_id: Mapped[Optional[int]] = mapped_column(
        IdType, ForeignKey("embedding_run.id", ondelete="SET NULL"), index=True, nullable=True
    )
    source: Mapped[str] = mapped_column(String(50))
    prompt: Mapped[str] = mapped_column(Text)
    response_a: Mapped[str] = mapped_column(Text)
    response_b: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


#: annotation choices, in terms of the stored pair (``a`` = ``response_a``)
CHOICES = ("a", "b", "tie", "both_bad")
#: annotation statuses: ``current`` (the annotator's vote on the pair), ``replaced`` (by a re-vote),
#: ``undone`` (withdrawn with "undo last")
STATUSES = ("current", "replaced", "undone")


class Annotation(Base):
    """One vote of one annotator on a preference pair (history is kept: a re-vote marks the
    previous one ``replaced``, an undo marks it ``undone``).

    ``choice`` refers to the stored pair (``a`` = ``response_a``); ``displayed_order`` is what
    the annotator saw left to right (``"ab"`` or ``"ba"``); ``facts`` are the pair's hidden facts
    at voting time (steered side, persona, model, checkpoint, displayed order, ...).
    ``token`` (unique) makes a submission idempotent: the same token never stores twice.
    A partial unique index allows one ``current`` vote per (pair, annotator).
    """

    __tablename__ = "annotation"
    __table_args__ = (
        CheckConstraint("choice IN ('a', 'b', 'tie', 'both_bad')", name="choice"),
        CheckConstraint("status IN ('current', 'replaced', 'undone')", name="status"),
        CheckConstraint("displayed_order IN ('ab', 'ba')", name="displayed_order"),
        Index(
            "uq_annotation_current", "pair_id", "annotator", unique=True,
            sqlite_where=text("status = 'current'"), postgresql_where=text("status = 'current'"),
        ),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    pair_id: Mapped[int] = mapped_column(_fk("preference_pair.id"), index=True)
    annotator: Mapped[str] = mapped_column(String(200), index=True)
    choice: Mapped[str] = mapped_column(String(10))
    displayed_order: Mapped[str] = mapped_column(String(2))
    rationale: Mapped[str] = mapped_column(Text, default="")
    seconds: Mapped[Optional[float]] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10), default="current")
    token: Mapped[str] = mapped_column(String(64), unique=True)
    replaces_id: Mapped[Optional[int]] = mapped_column(
        IdType, ForeignKey("annotation.id", ondelete="SET NULL"), nullable=True
    )
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InducedPersona(Base):
    """A plain-text persona induced from one annotator's votes (SynthesizeMe): the text, the
    demonstration pairs of its personalized judge, and its evaluation. The newest per
    annotator is the one in use."""

    __tablename__ = "induced_persona"
    __table_args__ = NO_ID_REUSE

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    annotator: Mapped[str] = mapped_column(String(200), index=True)
    text: Mapped[str] = mapped_column(Text)
    demos: Mapped[list[Any]] = mapped_column(default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    model_name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)



#: simulation run statuses: ``running`` (chunks still missing; resumable) and ``done``
SIMULATION_STATUSES = ("running", "done")


class SimulationRun(Base):
    """One ``python -m persona_core simulate`` run: every chosen (persona, question) row scored
    by the steered model and the unsteered base model.

    ``key`` (unique) is a hash of everything the rows depend on (persona space, checkpoint,
    personas, questions, scoring settings): a run started again with the same inputs finds its
    row here and resumes. ``questions`` are the scored questions as ``{id, text, options,
    ordinal, survey}`` (``survey``: false for new questions from a file), ``summary`` the
    result (alignment with the real answers, timings) once ``status`` is ``done``."""

    __tablename__ = "simulation_run"
    __table_args__ = (CheckConstraint("status IN ('running', 'done')", name="status"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    run_id: Mapped[Optional[int]] = mapped_column(
        IdType, ForeignKey("embedding_run.id", ondelete="CASCADE"), index=True, nullable=True
    )
    space_run_key: Mapped[str] = mapped_column(String(200))
    model_name: Mapped[str] = mapped_column(Text)
    checkpoint: Mapped[str] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    questions: Mapped[list[Any]] = mapped_column(default=list)
    n_rows: Mapped[int] = mapped_column(Integer)
    n_chunks: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="running")
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    finished_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True), nullable=True)


class SimulationChunk(Base):
    """A finished chunk of a simulation run. It is inserted in the same transaction as its
    rows, so a chunk listed here is complete and a missing one has no rows at all."""

    __tablename__ = "simulation_chunk"

    simulation_id: Mapped[int] = mapped_column(_fk("simulation_run.id"), primary_key=True)
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n_rows: Mapped[int] = mapped_column(Integer)
    engine: Mapped[str] = mapped_column(String(20))
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SimulationRow(Base):
    """One scored (persona, question) row. ``position`` is the row's place in the run (rows are
    ordered by question, then persona); ``persona_kind`` is ``cohort``, ``population`` or
    ``respondent`` and ``persona_key`` the cohort label, ``all`` or the respondent id.
    ``steered`` / ``unsteered`` are the option probabilities as little-endian float32 bytes
    (one value per option of the question, summing to 1)."""

    __tablename__ = "simulation_row"

    simulation_id: Mapped[int] = mapped_column(_fk("simulation_run.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    chunk: Mapped[int] = mapped_column(Integer)
    persona_kind: Mapped[str] = mapped_column(String(20))
    persona_key: Mapped[str] = mapped_column(String(255))
    question_key: Mapped[str] = mapped_column(String(255))
    steered: Mapped[bytes] = mapped_column(LargeBinary)
    unsteered: Mapped[bytes] = mapped_column(LargeBinary)


#: job statuses: ``queued`` (waiting for its process, or for the job it runs ``after``),
#: ``running`` (its process reports here), ``done`` and ``failed`` (error says why; a process
#: that vanished without reporting ends as ``failed`` with an "interrupted" error)
JOB_STATUSES = ("queued", "running", "done", "failed")


class Job(Base):
    """One background run of a ``python -m persona_core`` subcommand (train, eval, pairs
    generate, simulate, ...). ``kind`` is the subcommand (``"pairs generate"``), ``args`` its
    command-line arguments (a list of strings). The process reports ``stage``, ``progress``
    (0..1), ``eta_seconds``, ``log_tail`` and ``heartbeat_at`` into its row, and ``result`` (the
    command's JSON summary) or ``error`` at the end. ``after_id``: start only once that job is
    done (a chain such as train -> eval -> pairs). ``dedupe_key``: at most one queued/running job
    per key (two ``make app`` runs start one training)."""

    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    args: Mapped[list[Any]] = mapped_column(default=list)
    label: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    stage: Mapped[str] = mapped_column(Text, default="")
    progress: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    eta_seconds: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    log_tail: Mapped[str] = mapped_column(Text, default="")
    log_path: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    after_id: Mapped[Optional[int]] = mapped_column(
        IdType, ForeignKey("job.id", ondelete="SET NULL"), index=True, nullable=True
    )
    run_id: Mapped[Optional[int]] = mapped_column(
        IdType, ForeignKey("embedding_run.id", ondelete="SET NULL"), index=True, nullable=True
    )
    dedupe_key: Mapped[Optional[str]] = mapped_column(String(200), index=True, nullable=True)
    pid: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    host: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    started_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True), nullable=True)


TABLES = tuple(Base.metadata.sorted_tables)
