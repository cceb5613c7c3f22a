"""Permalinks and downloads in AppTest: query parameters open the right respondent, cohort and
comparison; the pages keep the URL in step with what they show; the download buttons are there."""
from __future__ import annotations

import io

import pandas as pd

from app_pages import common
from tests.app.test_pages import COHORTS, COMPARE, _run, _shown, _texts


def test_respondent_permalink_opens_that_respondent(app):
    app.query_params["respondent"] = "r7"
    _run(app)
    assert app.text_input(key="map_search").value == "r7"
    assert "Respondent r7" in _texts(app, "subheader")
    assert [b.proto.url for b in app.get("link_button")] == ["?respondent=r7"]
    # the user's own search wins over the link from then on, and the URL follows it
    app.text_input(key="map_search").set_value("r12")
    _run(app)
    assert "Respondent r12" in _texts(app, "subheader")
    assert app.query_params["respondent"] in ("r12", ["r12"])


def test_map_offers_the_points_as_csv(app):
    _run(app)
    button = app.get("download_button")
    assert [b.proto.label for b in button] == ["Download the points (CSV)"]


def test_cohort_permalink_opens_that_cohort_and_downloads_its_profile(app, built_space):
    from persona_core.service.catalog import load_space_view

    view = load_space_view(built_space.url, built_space.run_id)
    label = view.cohorts[-1]
    app.switch_page(COHORTS)
    app.query_params["cohort"] = str(label)
    _run(app)
    assert app.selectbox(key="cohort_pick").value == label
    assert app.metric[0].value == str(len(view.members(label)))
    assert [b.proto.url for b in app.get("link_button")] == [f"?cohort={label}"]
    assert [b.proto.label for b in app.get("download_button")] == ["Download the profile (CSV)"]


def test_unknown_cohort_in_the_link_is_a_warning(app):
    app.switch_page(COHORTS)
    app.query_params["cohort"] = "999"
    _run(app)
    assert app.selectbox(key="cohort_pick").value == 0
    assert any("No cohort 999" in _shown(w) for w in _texts(app, "warning"))


def test_comparison_permalink_opens_persona_and_question(app, built_space):
    from persona_core.service.catalog import load_space_view

    view = load_space_view(built_space.url, built_space.run_id)
    label = view.cohorts[1]
    app.switch_page(COMPARE)
    app.query_params["persona"] = f"cohort:{label}"
    app.query_params["question"] = "climate"
    _run(app)
    assert app.radio(key="compare_kind").value == "cohort"
    assert app.selectbox(key="compare_cohort").value == label
    assert app.radio(key="compare_source").value == "bank"
    assert app.selectbox(key="compare_question").value == "climate"
    persona = app.session_state[common.PERSONA]
    assert (persona.kind, persona.key) == ("cohort", str(label))
    assert [b.proto.url for b in app.get("link_button")] == [f"?persona=cohort%3A{label}&question=climate"]


def test_respondent_comparison_permalink(app):
    app.switch_page(COMPARE)
    app.query_params["persona"] = "respondent:r5"
    app.query_params["question"] = "parks"
    _run(app)
    assert app.radio(key="compare_kind").value == "respondent"
    assert app.text_input(key="compare_respondent").value == "r5"
    assert app.selectbox(key="compare_question").value == "parks"
    assert app.session_state[common.PERSONA].key == "r5"
