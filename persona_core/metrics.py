"""Metrics shared by the library: accuracy and log-likelihood of predicted option distributions,
the distance between two answer distributions, and one bootstrap interval.

Predictions come as one vector per answer row (log-probabilities or probabilities over that
question's options; lengths may differ between questions). Nothing here imports the rest of
``persona_core``: training (``steer``), evaluation (``evaluate``), cohort profiles and the
preference statistics all use it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def _as_list(preds: Sequence[np.ndarray] | np.ndarray) -> list[np.ndarray]:
    return [np.asarray(p, dtype=np.float64) for p in preds]


# ------------------------------------------------------------------- accuracy
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
    """:func:`bootstrap_interval` of the per-respondent accuracy (respondents resampled)."""
    per = accuracy_by_respondent(respondents, top_choice(logprobs), truth)
    return bootstrap_interval(per, confidence=confidence, n_resamples=n_resamples, seed=seed)


# ------------------------------------------------------------ distributions
def _normalize(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    s = p.sum()
    if not s > 0:
        raise ValueError("a distribution must have positive mass")
    return p / s


def distribution_distance(p: np.ndarray, q: np.ndarray, ordinal: bool) -> float:
    """Distance in [0, 1] between two answer distributions (or counts) over the same options.

    Ordinal options: W1(p, q) / (n - 1), the 1-Wasserstein distance on positions 0..n-1 (the
    L1 distance between the cumulative distributions) over its largest possible value, as in
    OpinionQA; nominal options (or fewer than two): total variation, half the L1 distance.
    A distribution without positive mass raises ``ValueError``.
    """
    p, q = _normalize(p), _normalize(q)
    if p.shape != q.shape:
        raise ValueError(f"distributions over different options: {p.shape} vs {q.shape}")
    if ordinal and p.size > 1:
        return float(np.abs(np.cumsum(p - q))[:-1].sum() / (p.size - 1))
    return float(0.5 * np.abs(p - q).sum())


def alignment(p: np.ndarray, q: np.ndarray, ordinal: bool) -> float:
    """1 - :func:`distribution_distance`: 1 for equal distributions, 0 for the farthest apart."""
    return 1.0 - distribution_distance(p, q, ordinal)


# ---------------------------------------------------------------- intervals
def bootstrap_interval(values: np.ndarray, *, confidence: float = 0.95, n_resamples: int = 2000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (:func:`scipy.stats.bootstrap`,
    resampling the values). Fewer than two values give ``(nan, nan)``: no interval."""
    from scipy.stats import bootstrap

    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return (float("nan"), float("nan"))
    res = bootstrap((values,), np.mean, confidence_level=confidence, n_resamples=n_resamples, method="percentile",
                    random_state=np.random.default_rng(seed))
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))


def cluster_share_interval(hits: np.ndarray, clusters: np.ndarray, *, confidence: float = 0.95,
                           n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the share of true ``hits`` when whole clusters are
    resampled (:func:`scipy.stats.bootstrap` over the distinct ``clusters``): right when hits
    within a cluster go together, as (cohort, question) pairs of one question do. Fewer than two
    clusters give ``(nan, nan)``."""
    from scipy.stats import bootstrap

    _, inv = np.unique(np.asarray(clusters), return_inverse=True)
    won = np.bincount(inv, weights=np.asarray(hits, dtype=np.float64))
    size = np.bincount(inv).astype(np.float64)
    if won.size < 2:
        return (float("nan"), float("nan"))

    def pooled(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        idx = idx.astype(np.int64)
        return won[idx].sum(axis=axis) / size[idx].sum(axis=axis)

    res = bootstrap((np.arange(won.size),), pooled, confidence_level=confidence, n_resamples=n_resamples,
                    method="percentile", vectorized=True, random_state=np.random.default_rng(seed))
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))


def paired_comparison(before: np.ndarray, after: np.ndarray) -> dict[str, float | int]:
    """Two methods' hits on the same items: how many ``after`` won and lost against ``before``, and
    the exact McNemar p-value (two-sided binomial test on those discordant items)."""
    from scipy.stats import binomtest

    before, after = np.asarray(before, bool), np.asarray(after, bool)
    if before.shape != after.shape:
        raise ValueError(f"paired hits differ in shape: {before.shape} and {after.shape}")
    won, lost = int((after & ~before).sum()), int((before & ~after).sum())
    return {"won": won, "lost": lost, "p_value": float(binomtest(won, won + lost).pvalue) if won + lost else 1.0}
