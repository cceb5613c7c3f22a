import numpy as np

from persona_core.embed.split import heldout_split
from tests.synthetic import planted_survey


def test_split_holds_out_a_fifth_of_each_respondent():
    survey, _ = planted_survey(n_respondents=50, n_questions=30)
    mask = heldout_split(survey, fraction=0.2, seed=3)
    per_resp = np.bincount(survey.answers.respondent, minlength=50)
    held = np.bincount(survey.answers.respondent[mask], minlength=50)
    assert np.all(held == np.rint(0.2 * per_resp))
    assert 0.15 < mask.mean() < 0.25


def test_split_is_seeded():
    survey, _ = planted_survey(n_respondents=50, n_questions=30)
    a = heldout_split(survey, seed=1)
    assert np.array_equal(a, heldout_split(survey, seed=1))
    assert not np.array_equal(a, heldout_split(survey, seed=2))
