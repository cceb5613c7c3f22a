"""Shared metrics (:mod:`persona_core.metrics`) on hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest

from persona_core.metrics import (
    accuracy_interval,
    alignment,
    bootstrap_interval,
    cluster_share_interval,
    distribution_distance,
    mean_loglik,
    per_respondent_accuracy,
    pooled_accuracy,
    summarize,
    top_choice,
)


def test_per_respondent_accuracy_averages_people_not_answers():
    # respondent 0: 1 of 4 right; respondent 1: 1 of 1 right.
    resp = np.array([0, 0, 0, 0, 1])
    pred = np.array([1, 0, 0, 0, 2])
    truth = np.array([1, 1, 1, 1, 2])
    assert per_respondent_accuracy(resp, pred, truth) == pytest.approx((0.25 + 1.0) / 2)
    assert pooled_accuracy(pred, truth) == pytest.approx(2 / 5)


def test_ordinal_distance_is_normalized_wasserstein():
    # all mass on option 0 vs all on option 3 of 4: W1 = 3 = maximum
    assert distribution_distance([1, 0, 0, 0], [0, 0, 0, 1], ordinal=True) == pytest.approx(1.0)
    # one step apart out of 3
    assert distribution_distance([1, 0, 0, 0], [0, 1, 0, 0], ordinal=True) == pytest.approx(1 / 3)
    # p = (.5, .5, 0), q = (0, .5, .5): CDF differences .5, .5 -> W1 = 1, n - 1 = 2
    assert distribution_distance([0.5, 0.5, 0], [0, 0.5, 0.5], ordinal=True) == pytest.approx(0.5)
    assert distribution_distance([1, 0, 0], [0, 1, 0], ordinal=True) == pytest.approx(0.5)
    # counts are normalised
    assert distribution_distance([2, 2], [0.5, 0.5], ordinal=True) == pytest.approx(0.0)
    assert distribution_distance([3], [1], ordinal=True) == 0.0  # one option: nothing to move


def test_nominal_distance_is_total_variation_and_ignores_order():
    assert distribution_distance([1, 0, 0], [0, 1, 0], ordinal=False) == pytest.approx(1.0)
    assert distribution_distance([1, 0, 0], [0, 0, 1], ordinal=False) == pytest.approx(1.0)
    assert distribution_distance([3, 1], [1, 1], ordinal=False) == pytest.approx(0.25)
    p, q = np.array([0.6, 0.4, 0.0]), np.array([0.0, 0.4, 0.6])
    assert distribution_distance(p, q, ordinal=False) == pytest.approx(0.6)


def test_alignment_is_one_minus_the_distance():
    p, q = np.array([0.6, 0.4, 0.0]), np.array([0.0, 0.4, 0.6])
    assert alignment(p, q, ordinal=False) == pytest.approx(1 - 0.6)
    assert alignment(p, q, ordinal=True) == pytest.approx(1 - (0.6 + 0.6) / 2)
    assert alignment(p, p, ordinal=True) == 1.0


@pytest.mark.parametrize("ordinal", [True, False])
def test_zero_mass_distribution_is_an_error(ordinal):
    with pytest.raises(ValueError, match="positive mass"):
        distribution_distance(np.zeros(3), np.ones(3), ordinal)
    with pytest.raises(ValueError, match="different options"):
        distribution_distance(np.ones(3), np.ones(2), ordinal)


def test_loglik_and_summary_with_ragged_options():
    lps = [np.log([0.7, 0.3]), np.log([0.2, 0.5, 0.3]), np.log([0.1, 0.9])]
    truth = np.array([0, 2, 0])
    assert list(top_choice(lps)) == [0, 1, 1]
    assert mean_loglik(lps, truth) == pytest.approx(np.mean(np.log([0.7, 0.3, 0.1])))
    s = summarize(np.array([5, 5, 7]), lps, truth)
    assert s["accuracy"] == pytest.approx((0.5 + 0.0) / 2)
    assert s["pooled_accuracy"] == pytest.approx(1 / 3)


def test_bootstrap_interval_brackets_the_mean_and_is_seeded():
    values = np.random.default_rng(0).random(50)
    low, high = bootstrap_interval(values, n_resamples=500)
    assert low < values.mean() < high
    assert (low, high) == bootstrap_interval(values, n_resamples=500)
    wide = bootstrap_interval(values, confidence=0.99, n_resamples=500)
    assert wide[0] <= low and high <= wide[1]
    assert bootstrap_interval(np.ones(3)) == (1.0, 1.0)
    assert all(np.isnan(bootstrap_interval(np.array([0.5]))))
    assert all(np.isnan(bootstrap_interval(np.array([]))))


def test_accuracy_interval_resamples_respondents():
    lps = [np.log([0.9, 0.1])] * 6
    resp, truth = np.array([0, 0, 1, 1, 2, 2]), np.array([0, 0, 0, 1, 1, 1])  # accuracies 1, 1/2, 0
    low, high = accuracy_interval(resp, lps, truth, n_resamples=500)
    assert 0.0 <= low < 0.5 < high <= 1.0
    assert all(np.isnan(accuracy_interval(np.array([0]), lps[:1], np.array([0]))))


def test_cluster_share_interval_resamples_whole_clusters():
    # 40 clusters of 5 hits that go together: 24 clusters all won, 16 all lost
    clusters = np.repeat(np.arange(40), 5)
    hits = np.repeat(np.arange(40) < 24, 5)
    low, high = cluster_share_interval(hits, clusters, n_resamples=1000)
    assert low < 0.6 < high and (low, high) == cluster_share_interval(hits, clusters, n_resamples=1000)
    # the same 200 hits as independent pairs: a much narrower interval, which would overstate the evidence
    flat = cluster_share_interval(hits, np.arange(200), n_resamples=1000)
    assert (flat[1] - flat[0]) < 0.6 * (high - low)
    assert all(np.isnan(cluster_share_interval([1, 0], [3, 3])))



def test_paired_comparison_counts_discordant_items_and_tests_them():
    from persona_core.metrics import paired_comparison

    before = np.array([1, 1, 0, 0, 0, 0, 0, 0, 1, 0], bool)
    after = np.array([1, 0, 1, 1, 1, 1, 1, 1, 1, 0], bool)
    out = paired_comparison(before, after)
    assert (out["won"], out["lost"]) == (6, 1)
    assert abs(out["p_value"] - 0.125) < 1e-9  # two-sided binomial, 1 of 7 discordant items
    assert paired_comparison(before, before) == {"won": 0, "lost": 0, "p_value": 1.0}
    with pytest.raises(ValueError, match="shape"):
        paired_comparison(before, after[:3])
