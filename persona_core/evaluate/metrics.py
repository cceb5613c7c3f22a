"""Accuracy, log-likelihood and distribution alignment of predicted option distributions.

Predictions come as one vector per answer row (log-probabilities or probabilities over that
question's options; lengths may differ between questions).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def _as_list(preds: Sequence[np.ndarray] | np.ndarray) -> list[np.ndarray]:
    return [np.asarray(p, dtype=np.float64) for p in preds]


def top_choice(logprobs: Sequence[np.ndarray]) -> np.ndarray:
    """Index of the most likely option per row."""
    return np.array([int(np.argmax(p)) for p in _as_list(logprobs)], dtype=np.int64)


def accuracy_by_respondent(respondents: np.ndarray, predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each respondent's accuracy over their rows (one value per distinct respondent)."""
    hit = (np.asarray(predicted) == np.asarray(truth)).astype(np.float64)
    _, inv = np.unique(np.asarray(respondents), return_inverse=True)
    return np.bincount(inv, weights=hit) / np.bincount(inv)


def per_respondent_accuracy(respondents: np.ndarray, predicted: np.ndarray, truth: np.ndarray) -> float:
    """Accuracy within each respondent, then averaged over respondents (Li et al.'s metric)."""
    if np.asarray(respondents).size == 0:
        return float("nan")
    return float(accuracy_by_respondent(respondents, predicted, truth).mean())


def pooled_accuracy(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Share of all rows whose top option is the real answer."""
    predicted = np.asarray(predicted)
    return float((predicted == np.asarray(truth)).mean()) if predicted.size else float("nan")


def mean_loglik(logprobs: Sequence[np.ndarray], truth: np.ndarray) -> float:
    """Mean natural-log probability of the real answer (log-probs in; floor at log 1e-12)."""
    vals = [max(float(p[t]), np.log(1e-12)) for p, t in zip(_as_list(logprobs), np.asarray(truth))]
    return float(np.mean(vals)) if vals else float("nan")


def wasserstein_alignment(p: np.ndarray, q: np.ndarray) -> float:
    """1 - W1(p, q) / (n - 1) for distributions over ``n`` ordered options (OpinionQA's measure).

    W1 on positions 0..n-1 is the L1 distance between the cumulative distributions; dividing by
    n - 1 (the largest possible distance) puts the alignment in [0, 1].
    """
    p, q = _normalize(p), _normalize(q)
    n = p.size
    if n < 2:
        return 1.0
    w1 = float(np.abs(np.cumsum(p) - np.cumsum(q))[:-1].sum())
    return 1.0 - w1 / (n - 1)


def tv_alignment(p: np.ndarray, q: np.ndarray) -> float:
    """1 - total variation distance (half the L1 distance) for unordered options."""
    p, q = _normalize(p), _normalize(q)
    return 1.0 - 0.5 * float(np.abs(p - q).sum())


def alignment(p: np.ndarray, q: np.ndarray, ordinal: bool) -> float:
    return wasserstein_alignment(p, q) if ordinal else tv_alignment(p, q)


def _normalize(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    s = p.sum()
    if s <= 0:
        raise ValueError("a distribution must have positive mass")
    return p / s


def summarize(respondents: np.ndarray, logprobs: Sequence[np.ndarray], truth: np.ndarray) -> dict[str, float]:
    """``accuracy`` (per respondent, averaged), ``pooled_accuracy``, ``loglik`` of one method."""
    pred = top_choice(logprobs)
    return {
        "accuracy": per_respondent_accuracy(respondents, pred, truth),
        "pooled_accuracy": pooled_accuracy(pred, truth),
        "loglik": mean_loglik(logprobs, truth),
    }


def accuracy_interval(respondents: np.ndarray, logprobs: Sequence[np.ndarray], truth: np.ndarray,
                      confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval (percentile, resampling respondents) of the per-respondent accuracy."""
    from scipy.stats import bootstrap

    per = accuracy_by_respondent(respondents, top_choice(logprobs), truth)
    if per.size < 2:
        return (float("nan"), float("nan"))
    res = bootstrap((per,), np.mean, confidence_level=confidence, n_resamples=n_resamples, method="percentile",
                    random_state=np.random.default_rng(seed))
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))
