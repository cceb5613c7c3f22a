"""Which (persona, question) rows a simulation scores, and how they are batched and chunked.

Rows are the cross product of the chosen personas and questions, ordered by question, then
persona: row ``position = question * n_personas + persona``. A *batch* is up to ``batch_rows``
consecutive rows of one question (one forward pass, the question's key/value cache shared by
all its rows); a *chunk* is a run of whole batches of about ``chunk_rows`` rows, stored in one
transaction. Both engines score exactly these batches, so their results agree row for row.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from persona_core.data.csv_long import read_questions, read_csv_table
from persona_core.data.errors import DataError, shown
from persona_core.data.survey import Question, Survey
from persona_core.steer.prompts import LABELS

NEW = -1  # survey index of a question that is not in the survey


@dataclass(frozen=True)
class QuestionBank:
    """The questions a run asks, in row order. ``survey_index[i]`` is question ``i``'s index in
    the survey, or :data:`NEW` for a question from a file. Quacks like a :class:`Survey` for
    :mod:`persona_core.steer.scoring` (which reads only ``questions``)."""

    questions: list[Question]
    survey_index: np.ndarray
    source: str  # "survey" or the questions file

    def __len__(self) -> int:
        return len(self.questions)

    @property
    def max_options(self) -> int:
        return max(q.n_options for q in self.questions)

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-ready questions (what is stored with the run and sent to workers)."""
        return [{"id": q.id, "text": q.text, "options": list(q.options), "ordinal": bool(q.ordinal),
                 "survey": bool(i != NEW)} for q, i in zip(self.questions, self.survey_index.tolist())]

    @classmethod
    def from_records(cls, records: Sequence[dict[str, Any]], source: str = "records") -> "QuestionBank":
        questions = [Question(r["id"], r["text"], tuple(r["options"]), bool(r["ordinal"])) for r in records]
        return cls(questions, np.full(len(questions), NEW, dtype=np.int64), source)


@dataclass(frozen=True)
class PersonaSet:
    """The personas of a run: kind (``cohort``, ``population``, ``respondent``), key (cohort
    label, ``all``, respondent id), persona vector, and for cohorts their label (else -1)."""

    kinds: list[str]
    keys: list[str]
    vectors: np.ndarray  # (n, d) float32
    cohort: np.ndarray  # (n,) int64

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(frozen=True)
class Batch:
    """Rows ``start .. stop-1`` (all answering question ``question``): one forward pass."""

    question: int
    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class Chunk:
    """Whole batches stored together (rows ``start .. stop-1``)."""

    index: int
    batches: tuple[Batch, ...]

    @property
    def start(self) -> int:
        return self.batches[0].start

    @property
    def stop(self) -> int:
        return self.batches[-1].stop

    def __len__(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class RowPlan:
    """Every row of a run, in batches and chunks."""

    n_personas: int
    n_questions: int
    batch_rows: int
    chunks: tuple[Chunk, ...]

    @property
    def n_rows(self) -> int:
        return self.n_personas * self.n_questions

    def persona_of(self, positions: np.ndarray) -> np.ndarray:
        return np.asarray(positions) % self.n_personas

    def question_of(self, positions: np.ndarray) -> np.ndarray:
        return np.asarray(positions) // self.n_personas

    def batch_of(self, positions: np.ndarray) -> np.ndarray:
        """A batch number per row (equal for rows of the same :class:`Batch`)."""
        positions = np.asarray(positions)
        per_question = -(-self.n_personas // self.batch_rows)
        return self.question_of(positions) * per_question + self.persona_of(positions) // self.batch_rows


def plan_rows(n_personas: int, n_questions: int, batch_rows: int, chunk_rows: int) -> RowPlan:
    """Batches of at most ``batch_rows`` rows of one question, grouped into chunks: a chunk takes
    whole batches until the next would take it past ``chunk_rows`` (a chunk holds at least one)."""
    if n_personas < 1 or n_questions < 1:
        raise ValueError("a simulation needs at least one persona and one question")
    batches = [Batch(q, q * n_personas + s, q * n_personas + min(s + batch_rows, n_personas))
               for q in range(n_questions) for s in range(0, n_personas, batch_rows)]
    chunks: list[Chunk] = []
    current: list[Batch] = []
    size = 0
    for b in batches:
        if current and size + len(b) > chunk_rows:
            chunks.append(Chunk(len(chunks), tuple(current)))
            current, size = [], 0
        current.append(b)
        size += len(b)
    chunks.append(Chunk(len(chunks), tuple(current)))
    return RowPlan(int(n_personas), int(n_questions), int(batch_rows), tuple(chunks))


# ------------------------------------------------------------------ personas
def choose_personas(space, spec: str, seed: int = 0, population: bool = True) -> PersonaSet:
    """``cohorts`` (centroids, then the population mean when ``population``), ``respondents``
    (all, in survey order) or ``N`` (a sample of N respondents drawn with ``seed``, in survey order)."""
    survey: Survey = space.survey
    emb = np.asarray(space.embeddings, np.float32)
    if spec == "cohorts":
        labels = sorted(int(c) for c in space.cohort_centroids)
        if not labels:
            raise DataError("the persona space has no cohorts to simulate (try --personas respondents or N)")
        kinds, keys = ["cohort"] * len(labels), [str(c) for c in labels]
        vectors = [np.asarray(space.cohort_centroids[c], np.float32) for c in labels]
        cohort = list(labels)
        if population:
            kinds.append("population")
            keys.append("all")
            vectors.append(emb.mean(axis=0))
            cohort.append(-1)
        return PersonaSet(kinds, keys, np.stack(vectors).astype(np.float32), np.array(cohort, np.int64))
    n = survey.n_respondents
    if spec == "respondents":
        idx = np.arange(n)
    elif spec.isdigit() and int(spec) > 0:
        k = int(spec)
        if k > n:
            raise DataError(f"--personas {k}: the survey has only {n} respondents (use --personas respondents for all)")
        idx = np.sort(np.random.default_rng(seed).choice(n, k, replace=False))
    else:
        raise DataError(f"--personas must be cohorts, respondents or a positive number, not {shown(spec)}")
    return PersonaSet(["respondent"] * idx.size, [survey.respondent_ids[i] for i in idx], emb[idx].copy(),
                      np.full(idx.size, -1, np.int64))


# ----------------------------------------------------------------- questions
def choose_questions(survey: Survey, spec: Sequence[str]) -> QuestionBank:
    """``["all"]``: every survey question; one existing file (or a name ending in ``.csv``): the new
    questions in it; otherwise survey question ids (in the order given, repeats dropped)."""
    spec = [s.strip() for s in spec if s.strip()]
    if not spec:
        raise DataError("--questions: give all, question ids, or a questions.csv file")
    if spec == ["all"]:
        return QuestionBank(list(survey.questions), np.arange(survey.n_questions, dtype=np.int64), "survey")
    if len(spec) == 1 and (Path(spec[0]).is_file() or spec[0].lower().endswith(".csv")):
        new = load_question_file(spec[0], survey)
        return QuestionBank(new, np.full(len(new), NEW, dtype=np.int64), str(spec[0]))
    if "all" in spec:
        raise DataError("--questions: 'all' cannot be combined with question ids")
    index = {q.id: i for i, q in enumerate(survey.questions)}
    unknown = [s for s in spec if s not in index]
    if unknown:
        some = ", ".join(q.id for q in survey.questions[:8])
        raise DataError(f"--questions: unknown question id {shown(unknown[0])} (survey {survey.name!r} has "
                        f"{survey.n_questions} questions, e.g. {some}); a file of new questions must exist")
    chosen = list(dict.fromkeys(spec))
    return QuestionBank([survey.questions[index[s]] for s in chosen], np.array([index[s] for s in chosen], np.int64),
                        "survey")


def load_question_file(path: str | Path, survey: Survey | None = None) -> list[Question]:
    """New questions from a file in the CSV layout's ``questions.csv`` format (``question_id,
    text, options`` and optionally ``ordinal``), read by the CSV loader's parser. Errors name
    the file, line and column: the parser's, more options than answer letters, and an id that
    is already a question of ``survey`` (ask that one by id instead)."""
    table = read_csv_table(path, required=("question_id", "text", "options"))
    questions = read_questions(table)
    known = {q.id for q in survey.questions} if survey is not None else set()
    for k, q in enumerate(questions):
        if q.n_options > len(LABELS):
            raise table.error(k, "options", f"question {shown(q.id)} has {q.n_options} options; at most "
                                            f"{len(LABELS)} can be labelled A-Z")
        if q.id in known:
            raise table.error(k, "question_id", f"question id {shown(q.id)} is already a question of survey "
                                                f"{survey.name!r}: ask it with --questions {q.id}, or rename it")
    return questions
