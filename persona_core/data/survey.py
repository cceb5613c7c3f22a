"""The one in-memory representation of a survey that every loader produces.

A :class:`Survey` holds questions with their ordered answer options, respondents with
their attributes (demographics), and the sparse answers as three aligned integer arrays
(respondent index, question index, option index) -- a COO matrix of categorical answers.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from persona_core.data.errors import DataError


@dataclass(frozen=True)
class Question:
    """One survey question with its answer options in their natural order."""

    id: str
    text: str
    options: tuple[str, ...]
    ordinal: bool = True

    @property
    def n_options(self) -> int:
        return len(self.options)


@dataclass
class Answers:
    """Sparse answers: row ``k`` says respondent ``respondent[k]`` chose option
    ``option[k]`` (0-based index into the question's options) of question ``question[k]``."""

    respondent: np.ndarray  # int32
    question: np.ndarray  # int32
    option: np.ndarray  # int16

    def __post_init__(self) -> None:
        self.respondent = np.asarray(self.respondent, dtype=np.int32)
        self.question = np.asarray(self.question, dtype=np.int32)
        self.option = np.asarray(self.option, dtype=np.int16)
        if not (len(self.respondent) == len(self.question) == len(self.option)):
            raise ValueError("answer arrays must have the same length")

    def __len__(self) -> int:
        return int(self.respondent.shape[0])

    def take(self, mask_or_index: np.ndarray) -> "Answers":
        return Answers(
            self.respondent[mask_or_index], self.question[mask_or_index], self.option[mask_or_index]
        )


@dataclass
class Survey:
    """Questions, respondents (with attributes) and their sparse categorical answers."""

    name: str
    questions: list[Question]
    respondent_ids: list[str]
    answers: Answers
    attributes: pd.DataFrame = field(default_factory=pd.DataFrame)
    source: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.respondent_ids = [str(r) for r in self.respondent_ids]
        if self.attributes is None or self.attributes.empty and len(self.attributes.columns) == 0:
            self.attributes = pd.DataFrame(index=pd.Index(self.respondent_ids, name="respondent_id"))
        else:
            self.attributes = self.attributes.copy()
            self.attributes.index = pd.Index([str(i) for i in self.attributes.index], name="respondent_id")
            self.attributes = self.attributes.reindex(self.respondent_ids)
        self.validate()

    # ----------------------------------------------------------------- checks
    def validate(self) -> None:
        """Raise :class:`DataError` if the parts do not fit together."""
        if not self.questions:
            raise DataError(f"survey {self.name!r} has no questions")
        if not self.respondent_ids:
            raise DataError(f"survey {self.name!r} has no respondents")
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            dup = pd.Series(ids)[pd.Series(ids).duplicated()].iloc[0]
            raise DataError(f"duplicate question id {dup!r}")
        if len(set(self.respondent_ids)) != len(self.respondent_ids):
            s = pd.Series(self.respondent_ids)
            raise DataError(f"duplicate respondent id {s[s.duplicated()].iloc[0]!r}")
        for q in self.questions:
            if q.n_options < 2:
                raise DataError(f"question {q.id!r} has fewer than 2 answer options")
        a = self.answers
        if len(a) == 0:
            raise DataError(f"survey {self.name!r} has no answers")
        if a.respondent.min() < 0 or a.respondent.max() >= len(self.respondent_ids):
            raise DataError("answer refers to an unknown respondent index")
        if a.question.min() < 0 or a.question.max() >= len(self.questions):
            raise DataError("answer refers to an unknown question index")
        n_opt = self.n_options_per_question
        if (a.option < 0).any() or (a.option >= n_opt[a.question]).any():
            bad = int(np.flatnonzero((a.option < 0) | (a.option >= n_opt[a.question]))[0])
            q = self.questions[a.question[bad]]
            raise DataError(
                f"answer index {int(a.option[bad])} is not among the {q.n_options} options",
                row=bad,
                column=q.id,
            )
        key = np.sort(a.respondent.astype(np.int64) * len(self.questions) + a.question)
        if (key[1:] == key[:-1]).any():  # sort + neighbour check: much faster than np.unique here
            raise DataError("duplicate (respondent, question) answers")

    # ------------------------------------------------------------- accessors
    @property
    def n_respondents(self) -> int:
        return len(self.respondent_ids)

    @property
    def n_questions(self) -> int:
        return len(self.questions)

    @property
    def n_answers(self) -> int:
        return len(self.answers)

    @property
    def n_options_per_question(self) -> np.ndarray:
        return np.array([q.n_options for q in self.questions], dtype=np.int16)

    def question_index(self, question_id: str) -> int:
        for i, q in enumerate(self.questions):
            if q.id == question_id:
                return i
        raise KeyError(f"unknown question id {question_id!r}")

    def respondent_index(self, respondent_id: str) -> int:
        try:
            return self._respondent_lookup()[str(respondent_id)]
        except KeyError:
            raise KeyError(f"unknown respondent id {respondent_id!r}") from None

    def _respondent_lookup(self) -> dict[str, int]:
        lookup = getattr(self, "_rid_lookup", None)
        if lookup is None or len(lookup) != len(self.respondent_ids):
            lookup = {r: i for i, r in enumerate(self.respondent_ids)}
            object.__setattr__(self, "_rid_lookup", lookup)
        return lookup

    def option_counts(self, question: int | str, respondents: np.ndarray | None = None) -> np.ndarray:
        """Counts of each option of one question, optionally among some respondents (indices)."""
        qi = self.question_index(question) if isinstance(question, str) else question
        mask = self.answers.question == qi
        if respondents is not None:
            mask &= np.isin(self.answers.respondent, respondents)
        return np.bincount(self.answers.option[mask], minlength=self.questions[qi].n_options)

    def answers_of(self, respondent: int | str) -> dict[str, str]:
        """``{question_id: option text}`` for one respondent."""
        ri = self.respondent_index(respondent) if isinstance(respondent, str) else respondent
        mask = self.answers.respondent == ri
        return {
            self.questions[q].id: self.questions[q].options[o]
            for q, o in zip(self.answers.question[mask], self.answers.option[mask])
        }

    def to_long_frame(self) -> pd.DataFrame:
        """Long table ``respondent_id, question_id, answer`` (answer as option text)."""
        qids = np.array([q.id for q in self.questions], dtype=object)
        rids = np.array(self.respondent_ids, dtype=object)
        texts = [q.options[o] for q, o in zip((self.questions[i] for i in self.answers.question), self.answers.option)]
        return pd.DataFrame(
            {"respondent_id": rids[self.answers.respondent], "question_id": qids[self.answers.question], "answer": texts}
        )

    def fingerprint(self) -> str:
        """A content hash: two loads of the same data give the same fingerprint."""
        h = hashlib.sha256()
        for q in self.questions:
            h.update(repr((q.id, q.text, q.options, q.ordinal)).encode())
        h.update("\x00".join(self.respondent_ids).encode())
        for arr in (self.answers.respondent, self.answers.question, self.answers.option):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    @classmethod
    def from_codes(
        cls,
        name: str,
        questions: Sequence[Question],
        respondent_ids: Iterable,
        answers: Answers,
        attributes: pd.DataFrame | None = None,
        source: dict | None = None,
    ) -> "Survey":
        return cls(
            name=name,
            questions=list(questions),
            respondent_ids=[str(r) for r in respondent_ids],
            answers=answers,
            attributes=attributes if attributes is not None else pd.DataFrame(),
            source=source or {},
        )
