"""Metrics on hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest

from persona_core.evaluate.metrics import (
    alignment,
    mean_loglik,
    per_respondent_accuracy,
    pooled_accuracy,
    summarize,
    top_choice,
    tv_alignment,
    wasserstein_alignment,
)


def test_per_respondent_accuracy_averages_people_not_answers():
    # respondent 0: 1 of 4 right; respondent 1: 1 of 1 right.
    resp = np.array([0, 0, 0, 0, 1])
    pred = np.array([1, 0, 0, 0, 2])
    truth = np.array([1, 1, 1, 1, 2])
    assert per_respondent_accuracy(resp, pred, truth) == pytest.approx((0.25 + 1.0) / 2)
    assert pooled_accuracy(pred, truth) == pytest.approx(2 / 5)


def test_wasserstein_alignment_on_ordered_options():
    # all mass on option 0 vs all on option 3 of 4: W1 = 3 = maximum -> alignment 0
    assert wasserstein_alignment(np.array([1, 0, 0, 0]), np.array([0, 0, 0, 1])) == pytest.approx(0.0)
    # one step apart out of 3 -> 1 - 1/3
    assert wasserstein_alignment(np.array([1, 0, 0, 0]), np.array([0, 1, 0, 0])) == pytest.approx(2 / 3)
    # p = (.5, .5, 0), q = (0, .5, .5): CDF differences .5, .5 -> W1 = 1, n - 1 = 2 -> 0.5
    assert wasserstein_alignment(np.array([0.5, 0.5, 0]), np.array([0, 0.5, 0.5])) == pytest.approx(0.5)
    # counts are normalised
    assert wasserstein_alignment(np.array([2, 2]), np.array([0.5, 0.5])) == pytest.approx(1.0)


def test_tv_alignment_ignores_order():
    p, q = np.array([0.6, 0.4, 0.0]), np.array([0.0, 0.4, 0.6])
    assert tv_alignment(p, q) == pytest.approx(1 - 0.6)
    # distance to a far option and a near option is the same without order
    assert tv_alignment(np.array([1, 0, 0]), np.array([0, 1, 0])) == tv_alignment(np.array([1, 0, 0]), np.array([0, 0, 1]))
    assert alignment(p, q, ordinal=False) == tv_alignment(p, q)
    assert alignment(p, q, ordinal=True) == pytest.approx(1 - (0.6 + 0.6) / 2)


def test_loglik_and_summary_with_ragged_options():
    lps = [np.log([0.7, 0.3]), np.log([0.2, 0.5, 0.3]), np.log([0.1, 0.9])]
    truth = np.array([0, 2, 0])
    assert list(top_choice(lps)) == [0, 1, 1]
    assert mean_loglik(lps, truth) == pytest.approx(np.mean(np.log([0.7, 0.3, 0.1])))
    s = summarize(np.array([5, 5, 7]), lps, truth)
    assert s["accuracy"] == pytest.approx((0.5 + 0.0) / 2)
    assert s["pooled_accuracy"] == pytest.approx(1 / 3)


def test_zero_mass_distribution_is_an_error():
    with pytest.raises(ValueError, match="positive mass"):
        tv_alignment(np.zeros(3), np.ones(3))
