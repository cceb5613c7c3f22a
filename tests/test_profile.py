import numpy as np
import pandas as pd
import pytest

from persona_core.profile import (
    ProfileConfig,
    cohort_label,
    demographic_makeup,
    distinctive_questions,
    profile_cohorts,
    short_text,
)
from tests.synthetic import planted_survey


def test_distinctive_questions_find_a_groups_planted_answers():
    survey, groups = planted_survey(n_respondents=300, n_questions=30, n_groups=2, seed=1)
    members = np.flatnonzero(groups == 0)
    rows = distinctive_questions(survey, members, ProfileConfig(top_questions=5))
    assert len(rows) == 5
    assert rows[0]["distance"] >= rows[-1]["distance"] > 0
    top = rows[0]
    assert sum(top["cohort_counts"]) >= 20
    assert top["top_option_cohort_share"] > top["top_option_overall_share"]
    counts = survey.option_counts(top["question_id"], members)
    assert top["cohort_counts"] == counts.tolist()


def test_min_answers_excludes_thin_questions():
    survey, _ = planted_survey(n_respondents=60, n_questions=10)
    assert distinctive_questions(survey, np.arange(5), ProfileConfig(min_answers=20)) == []


def test_demographic_makeup_compares_cohort_to_everyone():
    attrs = pd.DataFrame({"party": ["a", "a", "b", "b"], "age": [20, 30, 40, 50]})
    out = demographic_makeup(attrs, np.array([0, 1]), ProfileConfig(max_attribute_values=2))
    assert out["party"]["cohort_shares"][out["party"]["values"].index("a")] == 1.0
    assert out["party"]["overall_shares"] == [0.5, 0.5]
    assert out["age"]["kind"] == "numeric" and out["age"]["cohort_mean"] == 25 and out["age"]["overall_mean"] == 35


def test_profiles_and_labels():
    survey, groups = planted_survey(n_respondents=200, n_questions=20, n_groups=2, seed=2)
    labels = np.where(groups == 0, 0, -1)
    profiles = profile_cohorts(survey, labels)
    assert list(profiles) == [0]
    assert profiles[0]["size"] == int((groups == 0).sum())
    d = profiles[0]["distinctive_questions"]
    # labels use the questions' wording ("Question 3?" -> "Question 3"), not their ids
    assert profiles[0]["name"] == cohort_label(d) == f"{d[0]['text'].rstrip('?')}: {d[0]['top_option']} · {d[1]['text'].rstrip('?')}: {d[1]['top_option']}"
    assert all(r["p_value"] < 0.01 / 20 for r in d)
    assert set(profiles[0]["demographics"]) == {"age", "party"}


def test_short_text_keeps_first_clause_at_a_word_boundary():
    assert short_text("ever approve of police striking citizen") == "Ever approve of police striking citizen"
    assert short_text("does r or spouse have supervisor") == "Does R or spouse have supervisor"
    assert short_text("ever felt going to have a nervous breakdown?") == "Ever felt going to have a nervous…"
    long = short_text("imp of low cost in decision to attend performance", 40)
    assert long == "Imp of low cost in decision to attend…" and len(long) <= 41


def test_indistinct_questions_are_not_distinctive():
    survey, groups = planted_survey(n_respondents=300, n_questions=30, n_groups=2, seed=1)
    same_group_half = np.flatnonzero(groups == 0)[::2]  # half of one group against everybody: distinct
    assert len(distinctive_questions(survey, same_group_half)) >= 3
    rng = np.random.default_rng(0)
    random_half = rng.choice(survey.n_respondents, survey.n_respondents // 2, replace=False)
    assert len(distinctive_questions(survey, random_half)) <= 1  # a random sample differs by chance only
