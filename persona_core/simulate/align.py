"""How close simulated cohort distributions are to the real ones, steered beside unsteered.

A cohort's real distribution on a question is the option counts of its members' answers (every
answer in the survey; members are the respondents whose most likely cohort it is, as in eval's
cohort alignment). Alignment is :func:`persona_core.metrics.alignment`: 1 - W1 for ordered
options, 1 - TV otherwise. Only (cohort, question) pairs with at least ``min_answers`` real
answers count; questions from a file have no real answers and are left out.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from persona_core.data.survey import Survey
from persona_core.metrics import alignment


def real_counts(survey: Survey, members: np.ndarray, labels: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Real option counts: per (cohort, question, option) and per (question, option). ``members``:
    each respondent's cohort (its most likely one); ``labels``: the cohorts, in the order wanted."""
    a = survey.answers
    width = int(survey.n_options_per_question.max())
    slot = {c: i for i, c in enumerate(labels)}
    member_slot = np.array([slot.get(int(m), -1) for m in members], np.int64)[a.respondent]
    cohort_counts = np.zeros((len(labels), survey.n_questions, width), np.int64)
    keep = member_slot >= 0
    np.add.at(cohort_counts, (member_slot[keep], a.question[keep], a.option[keep]), 1)
    population = np.zeros((survey.n_questions, width), np.int64)
    np.add.at(population, (a.question, a.option), 1)
    return cohort_counts, population


def _weighted(values: Sequence[float], weights: Sequence[int]) -> float:
    return float(np.average(values, weights=weights))


def cohort_alignment(rows: dict[str, list], survey: Survey, members: np.ndarray, min_answers: int = 10) -> dict[str, Any] | None:
    """Alignment summary of the cohort (and population) rows of a run, or ``None`` when no row
    has real answers to compare with.

    ``rows``: column-wise ``persona_kind``, ``persona_key``, ``question_key``, ``steered``,
    ``unsteered`` (probabilities). Returns mean alignment over the (cohort, question) pairs, the
    share of pairs where the steered distribution is closer than the unsteered one, per cohort
    and per question (answer-weighted means over its pairs), and the population persona's."""
    qindex = {q.id: i for i, q in enumerate(survey.questions)}
    members = np.asarray(members, np.int64)
    labels = sorted({int(k) for kind, k in zip(rows["persona_kind"], rows["persona_key"]) if kind == "cohort"})
    cohort_counts, population = real_counts(survey, members, labels)
    slot = {c: i for i, c in enumerate(labels)}
    pairs: list[dict[str, Any]] = []
    pop: list[dict[str, Any]] = []
    for kind, key, qkey, s, u in zip(rows["persona_kind"], rows["persona_key"], rows["question_key"], rows["steered"],
                                     rows["unsteered"]):
        qi = qindex.get(qkey)
        if qi is None or kind not in ("cohort", "population"):
            continue
        question = survey.questions[qi]
        real = (cohort_counts[slot[int(key)], qi] if kind == "cohort" else population[qi])[: question.n_options]
        n = int(real.sum())
        if n < min_answers:
            continue
        entry = {"cohort": key, "question": qkey, "n_answers": n,
                 "steered": alignment(np.asarray(s, np.float64), real.astype(np.float64), question.ordinal),
                 "unsteered": alignment(np.asarray(u, np.float64), real.astype(np.float64), question.ordinal)}
        (pairs if kind == "cohort" else pop).append(entry)
    if not pairs and not pop:
        return None
    out: dict[str, Any] = {"answers": "every answer in the survey", "members": "most likely cohort",
                           "min_answers": int(min_answers), **_summary(pairs)}
    out["per_cohort"] = _grouped(pairs, "cohort", "n_questions")
    out["per_question"] = _grouped(pairs, "question", "n_cohorts")
    if pop:
        out["population"] = {"n_questions": len(pop), **{k: v for k, v in _summary(pop).items() if k != "pairs"}}
    return out


def _summary(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    if not pairs:
        return {"pairs": 0, "steered": None, "unsteered": None, "steered_better_share": None}
    return {"pairs": len(pairs),
            "steered": float(np.mean([p["steered"] for p in pairs])),
            "unsteered": float(np.mean([p["unsteered"] for p in pairs])),
            "steered_better_share": float(np.mean([p["steered"] > p["unsteered"] for p in pairs]))}


def _grouped(pairs: list[dict[str, Any]], by: str, count_name: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in pairs:
        groups.setdefault(str(p[by]), []).append(p)
    out = {}
    for key, items in groups.items():
        weights = [p["n_answers"] for p in items]
        out[key] = {count_name: len(items), "n_answers": int(sum(weights)),
                    "steered": _weighted([p["steered"] for p in items], weights),
                    "unsteered": _weighted([p["unsteered"] for p in items], weights),
                    "steered_better_share": float(np.mean([p["steered"] > p["unsteered"] for p in items]))}
    return out
