"""Cohort profiles: the opinions and demographics that set a cohort apart from everybody."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from persona_core.data.survey import Survey
from persona_core.metrics import distribution_distance


@dataclass
class ProfileConfig:
    """``top_questions``: distinctive questions kept per cohort; ``min_answers``: a question counts
    for a cohort only if at least this many members answered it; ``label_items``: answers in the
    short label."""

    top_questions: int = 10
    min_answers: int = 20
    label_items: int = 2
    max_attribute_values: int = 12


def _answer_count_table(survey: Survey, members: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts (questions x max options) for the members and for everybody, plus offsets."""
    n_opt = survey.n_options_per_question.astype(np.int64)
    offsets = np.r_[0, np.cumsum(n_opt)[:-1]]
    flat = offsets[survey.answers.question] + survey.answers.option
    total = np.bincount(flat, minlength=int(n_opt.sum()))
    in_cohort = np.isin(survey.answers.respondent, members)
    cohort = np.bincount(flat[in_cohort], minlength=int(n_opt.sum()))
    return cohort, total, offsets


def distinctive_questions(survey: Survey, members: np.ndarray, config: ProfileConfig | None = None) -> list[dict]:
    """The questions where the members' answers differ most from the whole sample, most first.

    Each item: question id and text, the distance, the options with the cohort's and everybody's
    counts and shares, and the option most over-represented in the cohort.
    """
    cfg = config or ProfileConfig()
    cohort, total, offsets = _answer_count_table(survey, members)
    rows = []
    for j, q in enumerate(survey.questions):
        c = cohort[offsets[j] : offsets[j] + q.n_options]
        t = total[offsets[j] : offsets[j] + q.n_options]
        if c.sum() < max(cfg.min_answers, 1):  # an unanswered question has no distribution
            continue
        dist = distribution_distance(c, t, q.ordinal)
        c_share, t_share = c / c.sum(), t / t.sum()
        lift = int(np.argmax(c_share - t_share))
        rows.append(
            {
                "question_id": q.id,
                "text": q.text,
                "distance": dist,
                "options": list(q.options),
                "cohort_counts": c.tolist(),
                "overall_counts": t.tolist(),
                "cohort_shares": c_share.round(4).tolist(),
                "overall_shares": t_share.round(4).tolist(),
                "top_option": q.options[lift],
                "top_option_cohort_share": float(c_share[lift]),
                "top_option_overall_share": float(t_share[lift]),
            }
        )
    rows.sort(key=lambda r: r["distance"], reverse=True)
    return rows[: cfg.top_questions]


def demographic_makeup(attributes: pd.DataFrame, members: np.ndarray, config: ProfileConfig | None = None) -> dict:
    """Per attribute, the members against everybody: shares of each value for categorical
    attributes, mean and median for numeric ones."""
    cfg = config or ProfileConfig()
    out: dict[str, dict] = {}
    sub = attributes.iloc[members]
    for col in attributes.columns:
        everyone = attributes[col]
        if pd.api.types.is_numeric_dtype(everyone) and everyone.nunique(dropna=True) > cfg.max_attribute_values:
            out[col] = {
                "kind": "numeric",
                "cohort_mean": _float(sub[col].mean()),
                "overall_mean": _float(everyone.mean()),
                "cohort_median": _float(sub[col].median()),
                "overall_median": _float(everyone.median()),
            }
            continue
        overall = everyone.astype("string").value_counts(normalize=True, dropna=True)
        if overall.empty:
            continue
        cohort = sub[col].astype("string").value_counts(normalize=True, dropna=True)
        top = overall.index[: cfg.max_attribute_values]
        out[col] = {
            "kind": "categorical",
            "values": [str(v) for v in top],
            "cohort_shares": [round(float(cohort.get(v, 0.0)), 4) for v in top],
            "overall_shares": [round(float(overall[v]), 4) for v in top],
        }
    return out


def cohort_label(distinctive: list[dict], n_items: int = 2) -> str:
    """A short label from the most distinctive answers, e.g. ``"abany: yes · grass: legal"``."""
    parts = [f"{d['question_id']}: {d['top_option']}" for d in distinctive[:n_items]]
    return " · ".join(parts) if parts else "no distinctive answers"


def profile_cohorts(survey: Survey, labels: np.ndarray, config: ProfileConfig | None = None) -> dict[int, dict]:
    """Profile every cohort (label >= 0): size, label, distinctive questions, demographic make-up."""
    cfg = config or ProfileConfig()
    profiles = {}
    for c in sorted(int(x) for x in np.unique(labels) if x >= 0):
        members = np.flatnonzero(labels == c)
        distinctive = distinctive_questions(survey, members, cfg)
        profiles[c] = {
            "size": int(len(members)),
            "name": cohort_label(distinctive, cfg.label_items),
            "distinctive_questions": distinctive,
            "demographics": demographic_makeup(survey.attributes, members, cfg),
        }
    return profiles


def _float(x) -> float | None:
    return None if pd.isna(x) else float(x)
