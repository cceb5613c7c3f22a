"""Integration test on the real GSS panel file in ``../shared`` (parsed once, ~20 s)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from persona_core.data.gss import (
    ATTRIBUTE, DROPPED, QUESTION, R_WEIGHT, GSSConfig, classify_gss, default_gss_path, load_gss,
    read_gss_file,
)

pytestmark = pytest.mark.slow

BOOKKEEPING = re.compile(r"^(wt|id$|yearid$|vpsu$|vstrat$|sampcode$|ballot$|form$|intid$|intage$|mar\d+$|occ10$)")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("gss-cache")


@pytest.fixture(scope="module")
def survey(cache_dir):
    return load_gss(default_gss_path(), "2016", GSSConfig(cache_dir=cache_dir))


def test_2016_counts_in_expected_ranges(survey):
    assert survey.n_respondents == 2867
    assert 480 <= survey.n_questions <= 650
    assert 680_000 <= survey.n_answers <= 950_000
    c = survey.source["classification"]
    assert c["questions"] == survey.n_questions
    assert c["columns"] == c["questions"] + c["attributes"] + c["dropped"] == 1435
    assert 15 <= c["attributes"] <= 30
    assert c["dropped_by_reason"][R_WEIGHT] >= 3
    per_question = np.bincount(survey.answers.question, minlength=survey.n_questions)
    assert per_question.min() >= 300
    assert 2 <= survey.n_options_per_question.min() and survey.n_options_per_question.max() <= 7


def test_opinion_items_are_questions_with_wording(survey):
    q = {x.id: x for x in survey.questions}
    assert q["abany"].text == "abortion if woman wants for any reason"
    assert q["abany"].options == ("yes", "no")
    assert q["natenvir"].text == "improving & protecting environment"
    assert q["natenvir"].options == ("too little", "about right", "too much")
    assert q["natenvir"].ordinal
    assert sum(survey.option_counts("abany")) > 1500


def test_demographics_are_attributes_not_questions(survey):
    ids = {x.id for x in survey.questions}
    for name in ("polviews", "partyid", "age", "sex", "race", "degree", "region", "relig", "marital"):
        assert name not in ids
        assert name in survey.attributes.columns
    a = survey.attributes
    assert a["age"].dtype.kind == "f" and 18 <= a["age"].min() and a["age"].max() == 89
    assert set(a["sex"].dropna().unique()) == {"male", "female"}
    assert "strong democrat" in set(a["partyid"].dropna())
    assert list(a["polviews"].cat.categories)[0] == "extremely liberal"


def test_weights_and_ids_are_nowhere(survey):
    names = [q.id for q in survey.questions] + list(survey.attributes.columns)
    leaked = [n for n in names if BOOKKEEPING.match(n)]
    assert leaked == []
    assert not any("interviewer" in q.text for q in survey.questions)
    assert survey.respondent_ids[0] == "20160001"


def test_cache_gives_the_same_survey(survey, cache_dir):
    assert list((cache_dir / "gss").glob("*.npz"))
    again = load_gss(default_gss_path(), "2016", GSSConfig(cache_dir=cache_dir))
    assert again.fingerprint() == survey.fingerprint()


def test_other_waves_load(cache_dir):
    data = read_gss_file(default_gss_path(), cache_dir=cache_dir)
    decisions = {d.column: d for d in classify_gss(data, "2018")}
    assert decisions["abany_1b"].kind == QUESTION
    assert decisions["polviews_1b"].kind == ATTRIBUTE
    assert decisions["wtssall_1b"].kind == DROPPED
    s20 = load_gss(default_gss_path(), "2020", GSSConfig(cache_dir=cache_dir))
    assert 1500 <= s20.n_respondents <= 2000
    assert s20.attributes["race"].notna().mean() > 0.9  # carried over from the first interview
