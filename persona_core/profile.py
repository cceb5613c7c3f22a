"""Cohort profiles: the opinions and demographics that set a cohort apart from everybody."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from persona_core.data.survey import Survey
from persona_core.metrics import distribution_distance


@dataclass
class ProfileConfig:
    """``top_questions``: distinctive questions kept per cohort; ``min_answers``: a question counts
    for a cohort only if at least this many members answered it; ``alpha``: a question is
    distinctive only if a chi-square test of the members' answers against everybody else's
    rejects "answer alike" at family-wise level ``alpha`` (Bonferroni over the questions tested);
    ``label_items``: answers in the short label, each question's wording cut to
    ``label_chars``."""

    top_questions: int = 10
    min_answers: int = 20
    alpha: float = 0.01
    label_items: int = 2
    label_chars: int = 40
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

    Only questions whose answers differ significantly from everybody else's (``config.alpha``)
    count. Each item: question id and text, the distance, the test's p-value, the options with
    the cohort's and everybody's counts and shares, and the option most over-represented in the
    cohort.
    """
    from persona_core.answer_tests import homogeneity_pvalues, option_index

    cfg = config or ProfileConfig()
    cohort, total, offsets = _answer_count_table(survey, members)
    _, qid = option_index(survey)
    p_values = homogeneity_pvalues(cohort, total - cohort, qid, min_answers=1)
    answered = np.bincount(qid, cohort, survey.n_questions) >= max(cfg.min_answers, 1)
    level = cfg.alpha / max(int(answered.sum()), 1)
    rows = []
    for j, q in enumerate(survey.questions):
        c = cohort[offsets[j] : offsets[j] + q.n_options]
        t = total[offsets[j] : offsets[j] + q.n_options]
        if not answered[j] or p_values[j] >= level:  # too few answers, or no evidence of a difference
            continue
        dist = distribution_distance(c, t, q.ordinal)
        c_share, t_share = c / c.sum(), t / t.sum()
        lift = int(np.argmax(c_share - t_share))
        rows.append(
            {
                "question_id": q.id,
                "text": q.text,
                "distance": dist,
                "p_value": float(p_values[j]),
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


_CLAUSE_END = re.compile(r"[?;]|\.\s|\s\(")
_DANGLING = {"a", "an", "and", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with"}


def short_text(text: str, max_chars: int = 40, capitalize: bool = True) -> str:
    """A question's wording made short, for labels: its first clause, cut at a word boundary to
    at most ``max_chars`` characters (with "…"), a lone "r" (the GSS's "respondent") written
    "R", capitalised. E.g. ``"ever approve of police striking citizen"`` -> ``"Ever approve of
    police striking citizen"``. Deterministic; an LLM-written cohort name is the nicer form."""
    clause = _CLAUSE_END.split(" ".join(str(text).split()), maxsplit=1)[0].strip(" ,:-")
    words = ["R" if w == "r" else w for w in clause.split()]
    out, cut = "", False
    for w in words:
        if len(out) + len(w) + (1 if out else 0) > max_chars:
            cut = True
            break
        out = f"{out} {w}" if out else w
    if not out and words:  # one word longer than max_chars
        out, cut = words[0][: max(max_chars - 1, 1)], True
    if cut:
        kept = out.split()
        while len(kept) > 1 and kept[-1].lower() in _DANGLING:
            kept.pop()
        out = " ".join(kept).rstrip(",:-") + "…"
    return out[:1].upper() + out[1:] if capitalize else out


def answer_phrase(item: dict, max_chars: int = 40) -> str:
    """One distinctive answer as a label part, ``"<question, shortened>: <answer>"``, e.g.
    ``"Ever approve of police striking citizen: no"`` (the question id when it has no wording)."""
    text = str(item.get("text") or "").strip()
    question = short_text(text, max_chars) if text and text != item["question_id"] else str(item["question_id"])
    return f"{question}: {short_text(item['top_option'], max(max_chars // 2, 12), capitalize=False)}"


def cohort_label(distinctive: list[dict], n_items: int = 2, max_chars: int = 40) -> str:
    """A short label from the most distinctive answers in the questions' (shortened) wording,
    e.g. ``"Ever approve of police striking citizen: no · Allow racist to teach: not allowed"``."""
    parts = [answer_phrase(d, max_chars) for d in distinctive[:n_items]]
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
            "name": cohort_label(distinctive, cfg.label_items, cfg.label_chars),
            "distinctive_questions": distinctive,
            "demographics": demographic_makeup(survey.attributes, members, cfg),
        }
    return profiles


def _float(x) -> float | None:
    return None if pd.isna(x) else float(x)
