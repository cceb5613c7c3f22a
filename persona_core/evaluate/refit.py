"""A factorization refitted without the answers a test must not have seen.

The persona space's factorization was fitted on every respondent's training answers, so a
respondent the evaluation calls *unseen*, or a question it calls *new*, was inside that fit.
:class:`ExcludingFit` refits the same factorization (same settings and seed) without those
answers, folds the test's people in against the refit, and carries the folded vectors into the
space the SPM was trained on with one linear map (least squares, with intercept) learned on
respondents outside the test. A single global map of ``(d + 1) x d`` numbers cannot carry any
one person's excluded answers, so nothing the test scores reaches the persona vectors.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from persona_core.data.survey import Answers, Survey
from persona_core.embed.factorization import CategoricalFactorization


@dataclass
class ExcludingFit:
    """Refit of ``base`` on ``answers`` (the training answers minus what a test excludes).

    Learned state after :meth:`fit`: ``factorization_`` (the refit), ``map_`` ((d + 1) x d,
    refit space -> ``base`` space), ``map_r2_`` (share of the base vectors' variance the map
    explains on the respondents it was learned on).
    """

    base: CategoricalFactorization

    def fit(self, survey: Survey, answers: Answers, map_respondents: np.ndarray) -> "ExcludingFit":
        """Refit on ``answers``; learn the map on ``map_respondents`` (who must have answers in
        ``answers`` and must not be the people the test scores)."""
        map_respondents = np.asarray(map_respondents, np.int64)
        if map_respondents.size <= self.base.respondent_factors_.shape[1] + 1:
            raise ValueError(f"the map needs more than d + 1 respondents, got {map_respondents.size}")
        config = replace(self.base.config, progress=False)
        self.factorization_ = CategoricalFactorization(config).fit(survey, answers)
        source = _with_intercept(self.factorization_.respondent_factors_[map_respondents])
        target = self.base.respondent_factors_[map_respondents].astype(np.float64)
        self.map_, *_ = np.linalg.lstsq(source, target, rcond=None)
        residual = target - source @ self.map_
        self.map_r2_ = float(1.0 - residual.var(axis=0).sum() / target.var(axis=0).sum())
        return self

    def fold_in(self, answers_per_respondent: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """``(refit vectors, the same mapped into the base space)`` for new respondents."""
        refit = self.factorization_.fold_in(answers_per_respondent)
        return refit, (_with_intercept(refit) @ self.map_).astype(np.float32)


def _with_intercept(x: np.ndarray) -> np.ndarray:
    return np.hstack([np.asarray(x, np.float64), np.ones((len(x), 1))])
