import numpy as np
import pandas as pd
import pytest

from persona_core.profile import ProfileConfig, cohort_label, demographic_makeup, distinctive_questions, profile_cohorts
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
    assert profiles[0]["name"] == cohort_label(d) == f"{d[0]['question_id']}: {d[0]['top_option']} · {d[1]['question_id']}: {d[1]['top_option']}"
    assert set(profiles[0]["demographics"]) == {"age", "party"}
