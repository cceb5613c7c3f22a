"""AppTest runs of the Ask everyone page against the small built space: a survey question asked of
every cohort by text and by a tiny SPM (bars and table for every persona, real answers beside),
a typed question (checked, no real answers), and the whole survey sent to ``simulate`` as a real
background job whose alignment tables the page shows when it is done."""
from __future__ import annotations

import pytest

from app_pages import common
from tests.app.test_pages import _all_text, _chart, _chart_specs, _plotly_values, _run, _texts

ASK = "app_pages/ask.py"


def _row_sums(spec: dict) -> dict[str, float]:
    sums: dict[str, float] = {}
    for trace in spec["data"][1:]:  # the first trace only puts every row on the axis
        for y, x in zip(_plotly_values(trace["y"]), _plotly_values(trace["x"])):
            sums[y] = sums.get(y, 0.0) + float(x)
    return sums


def test_survey_question_by_text_shows_every_cohort_and_the_real_answers(app, built_space):
    from persona_core.service.catalog import load_space_view

    view = load_space_view(built_space.url, built_space.run_id)
    _run(app, ASK)
    assert _texts(app, "title") == ["Ask everyone"]
    assert app.radio(key="ask_method").options == [ask_label("text")]  # no SPM selected: text only
    app.button(key="ask_go").click()
    _run(app)
    simulated, real = _chart(app, "ask_simulated"), _chart(app, "ask_real")
    n_personas = len(view.cohorts) + 1  # every cohort and the population
    for spec in (simulated, real):
        sums = _row_sums(spec)
        assert len(sums) == n_personas + (spec is simulated)  # the unsteered model has no real answers
        assert all(abs(s - 1.0) < 1e-6 for s in sums.values())
    table = app.dataframe[0].value
    assert len(table) == n_personas and set(table["persona"]) == set(_row_sums(real))


def test_typed_question_is_checked_and_has_no_real_answers(app):
    _run(app, ASK)
    app.radio(key="ask_source").set_value("typed")
    _run(app)
    app.text_area(key="ask_text").input("Should the city build more bike lanes?")
    app.text_area(key="ask_options").input("Yes")
    _run(app)
    assert any("option" in e.lower() for e in _texts(app, "error"))
    assert app.button(key="ask_go").disabled
    app.text_area(key="ask_options").input("Yes\nNo\nNot sure")
    _run(app)
    assert not _texts(app, "error")
    app.button(key="ask_go").click()
    _run(app)
    assert len(_row_sums(_chart(app, "ask_simulated"))) >= 3
    assert not [id_ for id_ in _chart_specs(app) if "ask_real" in id_]
    assert "A new question has no real answers" in _all_text(app)


def ask_label(method: str) -> str:
    from persona_core.service.ask import METHODS

    return METHODS[method]


@pytest.mark.slow
def test_whole_survey_runs_as_a_job_and_its_alignment_is_shown(app, built_space):
    from persona_core.service import jobs
    from tests.app.synthetic import train_tiny_spm

    checkpoint = train_tiny_spm(built_space)
    app.session_state[common.SPM_PATH] = str(checkpoint)
    _run(app, ASK)
    assert app.radio(key="ask_method").options == [ask_label("spm"), ask_label("text")]
    app.button(key="ask_go").click()  # one question by the SPM, as simulate scores it
    _run(app)
    assert len(_row_sums(_chart(app, "ask_simulated"))) == len(app.dataframe[0].value) + 1  # and the unsteered model
    app.button(key="ask_simulate").click()
    _run(app)
    started = [s for s in _texts(app, "success") if "simulates the whole survey" in s]
    assert started, _all_text(app)
    job_id = int(started[0].split()[1])
    job = jobs.wait(built_space.url, job_id, timeout=600, every=0.5)
    assert job.status == "done", (job.error, job.log_tail)
    assert job.kind == "simulate" and "--checkpoint" in job.args
    _run(app)
    align = job.result["alignment"]
    assert f"Over {align['pairs']} (cohort, question) pairs" in _all_text(app)
    per_cohort, per_question = (d.value for d in app.dataframe[1:3])
    assert len(per_cohort) == len(align["per_cohort"]) and len(per_question) == len(align["per_question"])
    for stored in align["per_cohort"].values():
        assert any(abs(v - stored["steered"]) < 1e-9 for v in per_cohort["alignment steered"])
    assert list(per_cohort["gain"]) == sorted(per_cohort["gain"], reverse=True)
