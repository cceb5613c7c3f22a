"""Votes per annotator, agreement (Krippendorff's alpha, raw) and steered win rates."""
from __future__ import annotations

from datetime import datetime, timezone

import krippendorff
import numpy as np
import pytest

from db.store import PreferencePairInfo
from persona_core.preferences.stats import StatsConfig, agreement, summary, votes_per_annotator, win_rates
from persona_core.preferences.store import Vote

NOW = datetime.now(timezone.utc)


def _vote(i, pair, who, choice):
    return Vote(i, pair, who, choice, "ab", "", None, "current", f"t{i}", None, {}, NOW)


def _pair(i, persona="P1", steered="b"):
    meta = {"steered_side": steered, "persona": {"title": persona}} if steered else {}
    return PreferencePairInfo(i, None, "test", "q", "a", "b", meta, NOW)


def test_agreement_matches_krippendorff_and_counts_raw():
    votes = [_vote(1, 1, "x", "a"), _vote(2, 1, "y", "a"), _vote(3, 1, "z", "b"),
             _vote(4, 2, "x", "tie"), _vote(5, 2, "y", "tie"),
             _vote(6, 3, "x", "b"),  # one annotator only: not part of agreement
             _vote(7, 4, "y", "b"), _vote(8, 4, "z", "both_bad")]
    a = agreement(votes)
    assert (a.pairs, a.annotators) == (3, 3)
    # ordered annotator pairs agreeing: pair 1: 2 of 6, pair 2: 2 of 2, pair 4: 0 of 2
    assert a.raw == pytest.approx(4 / 10)
    nan = np.nan
    data = [[0, 2, nan], [0, 2, 1], [1, nan, 3]]
    assert a.alpha == pytest.approx(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    assert -1 < a.alpha < 1


def test_agreement_perfect_and_undefined():
    perfect = agreement([_vote(1, 1, "x", "a"), _vote(2, 1, "y", "a"), _vote(3, 2, "x", "b"), _vote(4, 2, "y", "b")])
    assert perfect.alpha == pytest.approx(1.0) and perfect.raw == 1.0
    single = agreement([_vote(1, 1, "x", "a"), _vote(2, 1, "y", "a")])
    assert single.alpha is None and single.raw == 1.0  # one category only
    assert agreement([_vote(1, 1, "x", "a")]).pairs == 0


def test_win_rates_with_bootstrap_interval():
    pairs = {i: _pair(i, "P1") for i in range(1, 11)} | {11: _pair(11, "P2", steered="a"), 12: _pair(12, steered=None)}
    votes = [_vote(i, i, "x", "b") for i in range(1, 7)] + [_vote(7, 7, "x", "a"), _vote(8, 8, "x", "tie"),
                                                           _vote(9, 9, "x", "both_bad"), _vote(10, 10, "x", "a"),
                                                           _vote(11, 11, "x", "a"), _vote(12, 12, "x", "a")]
    rates = {w.persona: w for w in win_rates(votes, pairs, StatsConfig(n_boot=500))}
    assert set(rates) == {"P1", "P2"}
    p1 = rates["P1"]
    assert (p1.wins, p1.losses, p1.ties, p1.both_bad, p1.votes) == (6, 2, 1, 1, 9)
    assert p1.rate == pytest.approx(6.5 / 9)
    assert p1.low < p1.rate < p1.high and 0 <= p1.low and p1.high <= 1
    assert rates["P2"].rate == 1.0 and rates["P2"].low is None and rates["P2"].high is None  # one vote: no interval


def test_summary_and_votes_per_annotator():
    votes = [_vote(1, 1, "x", "a"), _vote(2, 2, "x", "tie"), _vote(3, 1, "y", "b")]
    per = votes_per_annotator(votes)
    assert per["x"] == {"votes": 2, "a": 1, "b": 0, "tie": 1, "both_bad": 0} and per["y"]["b"] == 1
    s = summary(votes, {1: _pair(1), 2: _pair(2)}, StatsConfig(n_boot=100))
    assert s["votes"] == 3 and s["agreement"]["pairs"] == 1 and s["win_rates"][0]["votes"] == 3
