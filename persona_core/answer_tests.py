"""Do two groups of respondents answer a question differently? Chi-square tests of homogeneity,
one per question, on the groups' answer counts.

``scipy.stats.chi2_contingency`` tests one table per call; cohort merging and profiles test
hundreds of questions for many pairs of groups, so the statistic is computed here for all
questions at once (same formula, no continuity correction) and ``scipy.special.chdtrc`` (the
chi-square survival function that ``scipy.stats.chi2.sf`` calls) gives the p-values. Not
``scipy.stats`` itself: importing it took 1.45 s, paid by the app's first selection summary on the
map after a start (``scipy.special``: 0.28 s).
"""
from __future__ import annotations

import numpy as np

from persona_core.data.survey import Survey


def option_index(survey: Survey) -> tuple[np.ndarray, np.ndarray]:
    """(flat option index of every answer, question of every flat option): the columns of
    :func:`group_counts`' table, questions' options side by side."""
    n_opt = survey.n_options_per_question.astype(np.int64)
    offsets = np.r_[0, np.cumsum(n_opt)[:-1]]
    flat = offsets[survey.answers.question] + survey.answers.option
    return flat.astype(np.int64), np.repeat(np.arange(len(n_opt)), n_opt)


def group_counts(survey: Survey, labels: np.ndarray, n_groups: int) -> np.ndarray:
    """Answer counts (``n_groups`` x all options) of the respondents labelled 0..n_groups-1
    (labels < 0 are left out)."""
    flat, qid = option_index(survey)
    lab = np.asarray(labels, dtype=np.int64)[survey.answers.respondent]
    keep = lab >= 0
    counts = np.zeros((n_groups, len(qid)), dtype=np.float64)
    np.add.at(counts, (lab[keep], flat[keep]), 1.0)
    return counts


def homogeneity_pvalues(a: np.ndarray, b: np.ndarray, qid: np.ndarray, min_answers: int = 5) -> np.ndarray:
    """Per question, the p-value of a chi-square test that groups with option counts ``a`` and
    ``b`` (flat, as :func:`group_counts`' rows) answer alike. A question that either group
    answered fewer than ``min_answers`` times, or with one option only, gets 1 (no evidence)."""
    from scipy.special import chdtrc

    n_q = int(qid.max()) + 1 if len(qid) else 0
    table = np.stack([np.asarray(a, np.float64), np.asarray(b, np.float64)])
    rows = np.stack([np.bincount(qid, table[0], n_q), np.bincount(qid, table[1], n_q)])  # 2 x questions
    cols = table.sum(axis=0)
    total = rows.sum(axis=0)[qid]
    expected = rows[:, qid] * cols / np.where(total > 0, total, 1.0)
    cells = np.where(expected > 0, (table - expected) ** 2 / np.where(expected > 0, expected, 1.0), 0.0)
    stat = np.bincount(qid, cells.sum(axis=0), n_q)
    dof = np.bincount(qid, (cols > 0).astype(np.float64), n_q) - 1
    testable = (rows.min(axis=0) >= max(min_answers, 1)) & (dof >= 1)
    return np.where(testable, chdtrc(np.maximum(dof, 1), stat), 1.0)


def n_differences(a: np.ndarray, b: np.ndarray, qid: np.ndarray, alpha: float, min_answers: int = 5) -> int:
    """How many questions the two groups answer differently at family-wise level ``alpha``
    (Bonferroni over the questions)."""
    n_q = int(qid.max()) + 1 if len(qid) else 1
    return int((homogeneity_pvalues(a, b, qid, min_answers) < alpha / n_q).sum())
