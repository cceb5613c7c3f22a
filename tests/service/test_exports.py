"""CSV downloads: the map's points and a cohort's profile; formula-like text is defused."""
from __future__ import annotations

import csv
import io
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from persona_core.service import exports


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_map_points_csv_has_every_respondent_with_cohort_and_attributes(view):
    rows = _rows(exports.map_points_csv(view))
    assert len(rows) == view.survey.n_respondents
    assert list(rows[0]) == ["id", "x", "y", "cohort_label", "cohort", "likely_cohort", "age", "party", "region"]
    i = view.respondent_index("r7")
    row = rows[i]
    assert row["id"] == "r7"
    assert float(row["x"]) == pytest.approx(float(view.coords[i, 0]), rel=1e-6)
    assert int(row["cohort_label"]) == int(view.cohort_labels[i])
    assert row["cohort"] == view.cohort_title(int(view.cohort_labels[i]))
    assert row["party"] == view.survey.attributes.iloc[i]["party"]
    assert int(row["age"]) == int(view.survey.attributes.iloc[i]["age"])


def test_formula_like_text_gets_an_apostrophe_and_quotes_survive(view):
    attrs = view.survey.attributes.copy()
    attrs["party"] = attrs["party"].astype(object)
    attrs.iloc[0, attrs.columns.get_loc("party")] = "=HYPERLINK(\"http://x\",\"y\")"
    attrs.iloc[1, attrs.columns.get_loc("party")] = "+1+2"
    attrs.iloc[2, attrs.columns.get_loc("party")] = "-3"
    attrs.iloc[3, attrs.columns.get_loc("party")] = "@SUM(A1)"
    attrs.iloc[4, attrs.columns.get_loc("party")] = "a, \"quoted\"\nline"
    hacked = replace(view, survey=replace(view.survey, attributes=attrs))
    rows = _rows(exports.map_points_csv(hacked))
    assert [r["party"] for r in rows[:5]] == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1+2", "'-3", "'@SUM(A1)",
                                              "a, \"quoted\"\nline"]
    assert float(rows[0]["x"]) == pytest.approx(float(view.coords[0, 0]), rel=1e-6)  # numbers stay numbers
    assert exports.csv_safe(-3) == -3 and exports.csv_safe("3-1") == "3-1"


def test_cohort_profile_csv_matches_the_stored_profile(view):
    label = view.cohorts[0]
    text = exports.cohort_profile_csv(view, label)
    frame = pd.read_csv(io.StringIO(text), keep_default_na=False)
    assert list(frame.columns) == exports.PROFILE_COLUMNS
    size = frame[frame["section"] == "size"].iloc[0]
    assert int(size["cohort"]) == len(view.members(label)) and int(size["everybody"]) == view.survey.n_respondents
    profile = view.profiles[label]
    first = profile["distinctive_questions"][0]
    opinions = frame[(frame["section"] == "opinion") & (frame["key"] == first["question_id"])]
    assert list(opinions["value"]) == list(first["options"])
    np.testing.assert_allclose(opinions["cohort"].astype(float), first["cohort_shares"], rtol=1e-6)
    np.testing.assert_allclose(opinions["everybody"].astype(float), first["overall_shares"], rtol=1e-6)
    party = frame[(frame["section"] == "demographic") & (frame["key"] == "party")]
    # every party value is listed; each share is rounded to 4 decimals (profile.py), so their sum
    # is 1 within half a unit of the 4th decimal per value (0.9999 on another CPU's cohorts)
    assert party["cohort"].astype(float).sum() == pytest.approx(1.0, abs=0.5e-4 * len(party) + 1e-9)
    assert set(frame[frame["section"] == "numeric"]["key"]) == {"age"}
    with pytest.raises(KeyError):
        exports.cohort_profile(view, 999)
