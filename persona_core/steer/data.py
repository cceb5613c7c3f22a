"""Which respondents, questions and answers an SPM trains and is evaluated on."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from persona_core.data.survey import Answers, Survey
from persona_core.steer.config import TrainConfig


@dataclass
class SteerSplit:
    """Indices chosen for one SPM run (all into the survey / its answers).

    ``train_respondents``: whose training answers the SPM learns from; ``unseen_respondents``:
    kept out of SPM training entirely (unseen-respondent test); ``questions``: the questions used;
    ``train_rows`` / ``curve_rows``: answer indices for training and the learning curve.
    """

    train_respondents: np.ndarray
    unseen_respondents: np.ndarray
    questions: np.ndarray
    train_rows: np.ndarray
    curve_rows: np.ndarray

    def to_record(self, survey: Survey) -> dict:
        return {
            "train_respondents": [survey.respondent_ids[i] for i in self.train_respondents],
            "unseen_respondents": [survey.respondent_ids[i] for i in self.unseen_respondents],
            "questions": [survey.questions[i].id for i in self.questions],
        }


@dataclass
class RecordedSplit:
    """A checkpoint record's split (:meth:`SteerSplit.to_record`) as survey indices: every
    respondent trained on and every question where the record names none."""

    train_respondents: np.ndarray
    unseen_respondents: np.ndarray
    questions: np.ndarray  # sorted

    @classmethod
    def from_record(cls, survey: Survey, record: dict) -> "RecordedSplit":
        split = record.get("split", {})
        q_ids = split.get("questions") or [q.id for q in survey.questions]
        return cls(
            train_respondents=np.array([survey.respondent_index(r) for r in split.get("train_respondents", survey.respondent_ids)],
                                       dtype=np.int64),
            unseen_respondents=np.array([survey.respondent_index(r) for r in split.get("unseen_respondents", [])], dtype=np.int64),
            questions=np.array(sorted(survey.question_index(q) for q in q_ids), dtype=np.int64),
        )


def make_split(survey: Survey, heldout_mask: np.ndarray, config: TrainConfig) -> SteerSplit:
    """Seeded choice of respondents and questions (subsampled per ``config``) and their rows."""
    a = survey.answers
    heldout_mask = np.asarray(heldout_mask, bool)
    if heldout_mask.shape != (len(a),):
        raise ValueError(f"heldout mask has shape {heldout_mask.shape}, expected ({len(a)},)")
    rng = np.random.default_rng(config.seed)
    perm = rng.permutation(survey.n_respondents)
    n_unseen = int(round(config.unseen_fraction * survey.n_respondents))
    unseen = np.sort(perm[:n_unseen])
    train_resp = perm[n_unseen:]
    if config.max_respondents is not None:
        train_resp = train_resp[: config.max_respondents]
    train_resp = np.sort(train_resp)

    in_train = np.isin(a.respondent, train_resp)
    counts = np.bincount(a.question[in_train & ~heldout_mask], minlength=survey.n_questions)
    eligible = np.flatnonzero(counts >= config.min_question_answers)
    if eligible.size == 0:
        raise ValueError(f"no question has >= {config.min_question_answers} training answers among the chosen respondents")
    if config.max_questions is not None and eligible.size > config.max_questions:
        eligible = np.sort(rng.choice(eligible, config.max_questions, replace=False))
    in_q = np.isin(a.question, eligible)
    train_rows = np.flatnonzero(in_train & in_q & ~heldout_mask)

    curve_resp = rng.permutation(train_resp)[: config.eval_respondents]
    curve_q = eligible
    if config.eval_questions is not None and eligible.size > config.eval_questions:
        curve_q = np.sort(rng.choice(eligible, config.eval_questions, replace=False))
    curve_rows = heldout_rows(a, heldout_mask, curve_resp, curve_q, config.eval_answers_per_respondent, rng)
    return SteerSplit(train_resp, unseen, eligible, train_rows, curve_rows)


def heldout_rows(
    answers: Answers,
    heldout_mask: np.ndarray,
    respondents: np.ndarray,
    questions: np.ndarray,
    per_respondent: int | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Held-out answer indices of ``respondents`` on ``questions``, at most ``per_respondent`` each."""
    rows = np.flatnonzero(heldout_mask & np.isin(answers.respondent, respondents) & np.isin(answers.question, questions))
    if per_respondent is None:
        return rows
    rows = rows[rng.permutation(rows.size)]
    keep = []
    seen: dict[int, int] = {}
    for r in rows:
        who = int(answers.respondent[r])
        if seen.get(who, 0) < per_respondent:
            seen[who] = seen.get(who, 0) + 1
            keep.append(r)
    return np.sort(np.asarray(keep, dtype=np.int64))


def epoch_batches(
    questions: np.ndarray, rows: np.ndarray, batch_size: int, seed: int, epoch: int, max_steps: int | None
) -> list[np.ndarray]:
    """One epoch's mini-batches of row indices: each batch one question, order seeded by (seed, epoch)."""
    rng = np.random.default_rng([seed, epoch])
    q = questions[rows]
    batches = []
    for qi in np.unique(q):
        idx = rng.permutation(rows[q == qi])
        batches += [idx[s : s + batch_size] for s in range(0, len(idx), batch_size)]
    order = rng.permutation(len(batches))
    batches = [batches[i] for i in order]
    return batches[:max_steps] if max_steps is not None else batches
