"""Synthetic surveys of any size with planted opinion groups, for the scale benchmarks.

``make_survey(n)`` draws ``n`` respondents in ``n_groups`` groups. Each group has its own answer
distribution per question (a softmax of noisy logits with a bonus on the group's preferred
option), so cohorts found on the map mean something; each respondent also has a personal
"lean" that shifts ordinal questions, so groups are clouds rather than points. Each respondent
answers each question with probability ``answer_rate`` (default 0.4: real panels are sparse, every
respondent sees a random ~40 % of the questions). Generation is vectorised (chunks of respondents):
1M x 200 takes well under a minute and about 1 GB for the answers.

The CLI writes the CSV long layout (``answers.csv``, ``questions.csv``, ``respondents.csv``, see
:mod:`persona_core.data.csv_long`) to a folder; ``python -m persona_core build --dataset csv --path
FOLDER`` loads it::

    .venv/bin/python bench/synthetic_survey.py OUT_FOLDER --respondents 100000 [--questions 200]

Prints one JSON object (sizes, seconds). Generated data is never committed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from persona_core.data.survey import Answers, Question, Survey  # noqa: E402

CHUNK = 50_000  # respondents generated (and written) at a time
REGIONS = ("north", "south", "east", "west")


def _plan(n_questions: int, n_groups: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[Question]]:
    """Options per question, each group's option logits (G x Q x Kmax, -inf past a question's
    options) and the questions."""
    n_options = rng.integers(2, 6, n_questions)
    k_max = int(n_options.max())
    logits = rng.normal(0.0, 0.6, (n_groups, n_questions, k_max))
    preferred = rng.integers(0, n_options, (n_groups, n_questions))
    np.put_along_axis(logits, preferred[:, :, None], np.take_along_axis(logits, preferred[:, :, None], 2) + 2.0, 2)
    logits[:, np.arange(k_max)[None, :] >= n_options[:, None]] = -np.inf
    questions = [
        Question(f"q{j:03d}", f"Synthetic question {j}?", tuple(f"option {k}" for k in range(n_options[j])),
                 ordinal=bool(j % 2))
        for j in range(n_questions)
    ]
    return n_options, logits, questions


def _answers(groups: np.ndarray, lean: np.ndarray, n_options: np.ndarray, logits: np.ndarray, ordinal: np.ndarray,
             answer_rate: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Answers (local respondent index, question, option) of one chunk of respondents."""
    n, q = len(groups), len(n_options)
    resp, ques = np.nonzero(rng.random((n, q)) < answer_rate)
    k_max = logits.shape[2]
    # an ordinal question's options are shifted up or down by the respondent's lean
    centred = np.arange(k_max)[None, :] - (n_options[ques, None] - 1) / 2.0
    cell = logits[groups[resp], ques] + np.where(ordinal[ques, None], lean[resp, None] * centred, 0.0)
    cell = np.exp(cell - cell.max(axis=1, keepdims=True))
    cdf = np.cumsum(cell, axis=1)
    u = rng.random(len(resp)) * cdf[:, -1]
    opt = np.minimum((u[:, None] > cdf).sum(axis=1), n_options[ques] - 1)
    return resp, ques, opt


def make_survey(n_respondents: int, n_questions: int = 200, *, n_groups: int = 6, answer_rate: float = 0.4,
                seed: int = 0) -> Survey:
    """A survey of ``n_respondents`` x ``n_questions`` with ``n_groups`` planted opinion groups.

    Every respondent answers each question with probability ``answer_rate`` (at least one answer
    each). Attributes: ``group`` (the planted group, for checking cohorts), ``age`` and ``region``
    (``region`` leans with the group). Same arguments, same survey."""
    if n_respondents < 1 or n_questions < 1 or n_groups < 1:
        raise ValueError("n_respondents, n_questions and n_groups must be positive")
    if not 0.0 < answer_rate <= 1.0:
        raise ValueError(f"answer_rate must be in (0, 1], not {answer_rate!r}")
    rng = np.random.default_rng(seed)
    n_options, logits, questions = _plan(n_questions, n_groups, rng)
    ordinal = np.array([q.ordinal for q in questions])
    groups = rng.integers(0, n_groups, n_respondents)
    lean = rng.normal(0.0, 0.5, n_respondents)
    parts = []
    for start in range(0, n_respondents, CHUNK):
        stop = min(start + CHUNK, n_respondents)
        r, q, o = _answers(groups[start:stop], lean[start:stop], n_options, logits, ordinal, answer_rate, rng)
        silent = np.setdiff1d(np.arange(stop - start), r)  # nobody without an answer: give them one
        if silent.size:
            r = np.r_[r, silent]
            q = np.r_[q, rng.integers(0, n_questions, silent.size)]
            o = np.r_[o, np.zeros(silent.size, np.int64)]
            order = np.lexsort((q, r))
            r, q, o = r[order], q[order], o[order]
        parts.append((r + start, q, o))
    answers = Answers(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                      np.concatenate([p[2] for p in parts]))
    ids = [f"r{i}" for i in range(n_respondents)]
    region = np.where(rng.random(n_respondents) < 0.6, groups % len(REGIONS), rng.integers(0, len(REGIONS), n_respondents))
    attributes = pd.DataFrame(
        {"group": groups.astype(np.int64), "age": rng.integers(18, 90, n_respondents),
         "region": np.array(REGIONS)[region]},
        index=ids,
    )
    source = {"kind": "synthetic", "n_groups": n_groups, "answer_rate": answer_rate, "seed": seed}
    return Survey.from_codes(f"synthetic-{n_respondents}x{n_questions}", questions, ids, answers,
                             attributes=attributes, source=source)


def write_csv_long(survey: Survey, folder: str | Path) -> dict:
    """Write ``survey`` in the CSV long layout (answers by respondent, option texts) to ``folder``."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({
        "question_id": [q.id for q in survey.questions],
        "text": [q.text for q in survey.questions],
        "options": [json.dumps(list(q.options)) for q in survey.questions],
        "ordinal": ["true" if q.ordinal else "false" for q in survey.questions],
    }).to_csv(out / "questions.csv", index=False)
    survey.attributes.reset_index().to_csv(out / "respondents.csv", index=False)
    a = survey.answers
    n_opt = survey.n_options_per_question.astype(np.int64)
    offsets = np.r_[0, np.cumsum(n_opt)[:-1]]
    texts = np.array([o for q in survey.questions for o in q.options], dtype=object)
    qids = np.array([q.id for q in survey.questions], dtype=object)
    rids = np.array(survey.respondent_ids, dtype=object)
    step = 2_000_000
    with open(out / "answers.csv", "w", encoding="utf-8", newline="") as fh:
        for start in range(0, len(a), step):
            sl = slice(start, start + step)
            pd.DataFrame({"respondent_id": rids[a.respondent[sl]], "question_id": qids[a.question[sl]],
                          "answer": texts[offsets[a.question[sl]] + a.option[sl]]}).to_csv(
                fh, index=False, header=start == 0, lineterminator="\n")
    return {"folder": str(out), "respondents": survey.n_respondents, "questions": survey.n_questions,
            "answers": survey.n_answers, "answers_csv_bytes": (out / "answers.csv").stat().st_size}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="where to write answers.csv, questions.csv, respondents.csv")
    parser.add_argument("--respondents", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--groups", type=int, default=6)
    parser.add_argument("--answer-rate", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    t = time.perf_counter()
    survey = make_survey(args.respondents, args.questions, n_groups=args.groups, answer_rate=args.answer_rate,
                         seed=args.seed)
    made = time.perf_counter() - t
    t = time.perf_counter()
    result = write_csv_long(survey, args.folder)
    result.update({"make_seconds": round(made, 2), "write_seconds": round(time.perf_counter() - t, 2)})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
