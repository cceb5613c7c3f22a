"""AppTest runs of every page against a small built space: widgets present, session-state
selections change what is shown, bad states give messages (never an exception)."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_pages import common
from persona_core.service import views
from persona_core.service.catalog import load_space_view
from tests.app.conftest import APP

MAP, COHORTS, COMPARE, EVALUATION = "app_pages/map.py", "app_pages/cohorts.py", "app_pages/compare.py", "app_pages/evaluation.py"


def _texts(at: AppTest, kind: str) -> list[str]:
    return [e.value for e in getattr(at, kind)]


def _all_text(at: AppTest) -> str:
    parts = []
    for kind in ("title", "markdown", "caption", "info", "warning", "error", "success", "subheader"):
        parts += [str(v) for v in _texts(at, kind)]
    return "\n".join(parts)


def _shown(text: str) -> str:
    """Markdown source as it reads on the page: the backslash escapes of app_pages.common.literal dropped."""
    import re

    return re.sub(r"\\(.)", r"\1", text)


def _run(at: AppTest, page: str | None = None) -> AppTest:
    if page is not None:
        at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# ----------------------------------------------------------------------- map
def test_map_page_shows_map_and_colour_choices(app):
    _run(app)
    assert _texts(app, "title") == ["Opinion map"]
    colour = app.selectbox(key="map_color")
    assert colour.value == "Cohort"
    assert "Attribute · party" in colour.options and "Answer · parks" in colour.options
    assert app.text_input(key="map_search") is not None
    assert "No respondents selected" in _all_text(app)
    # the sidebar offers the stored run
    assert app.sidebar.selectbox(key=common.RUN_ID).value == app.session_state[common.RUN_ID]


def _chart_specs(at: AppTest, light_only: bool = False) -> dict[str, dict]:
    """Every Plotly figure of the run by element id, as the page sends it: to
    app_pages/plotly_light.py's component and (unless ``light_only``) to st.plotly_chart."""
    import json

    from app_pages import plotly_light

    specs = {} if light_only else {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    for c in at.get("bidi_component"):
        if c.proto.component_name == plotly_light.COMPONENT:
            specs[c.proto.id] = json.loads(json.loads(c.proto.json)["spec"])
    return specs


def _chart(at: AppTest, key: str, light_only: bool = False) -> dict:
    """The figure of the chart whose key is ``key``."""
    return next(spec for id_, spec in _chart_specs(at, light_only).items() if key in id_)


def _map_traces(at: AppTest) -> list[dict]:
    """The traces of the map's figure, drawn by app_pages/plotly_light.py's component (a plotly.js
    partial bundle), not st.plotly_chart, on these small spaces."""
    assert not [c for c in at.get("plotly_chart") if "map_chart" in c.proto.id]
    return _chart(at, "map_chart", light_only=True)["data"]


def test_map_fades_points_by_membership_and_offers_outlier_strategies(app):
    _run(app)
    radio = app.radio(key="map_outliers")
    assert radio.value == "soft" and list(radio.options) == list(views.OUTLIER_LABELS.values())
    traces = _map_traces(app)
    opacity = [o for t in traces for o in _plotly_values(t["marker"]["opacity"])]
    assert len(opacity) == sum(len(_plotly_values(t["x"])) for t in traces)
    assert min(opacity) >= views.MIN_OPACITY - 1e-9 and max(opacity) <= 1.0 + 1e-9 and min(opacity) < max(opacity)
    assert "Outliers" not in {t["name"] for t in traces}  # everyone placed by soft membership
    radio.set_value("none")
    _run(app)
    assert "Outliers" in {t["name"] for t in _map_traces(app)}


def test_map_points_carry_the_cohort_tag_and_the_legend_the_title(app, built_space):
    # every point's hover data travels in the figure's JSON: the cohort's full title once per
    # trace (its name), the short tag once per point
    _run(app)
    traces = _map_traces(app)
    view = load_space_view(built_space.url, built_space.run_id)
    names = {t["name"] for t in traces}
    cells = {str(cell) for t in traces for row in t["customdata"] for cell in row}
    tags = {c for c in cells if c.startswith("Cohort ") or c == "Outliers"}
    assert tags and all(c == "Outliers" or c.split(" ", 1)[1].isdigit() for c in tags), tags
    assert not (cells & {n for n in names if " · " in n})  # no title repeated per point
    assert {view.cohort_title(c) for c in view.cohorts} <= names
    assert any(" · " in view.cohort_title(c) for c in view.cohorts)


def test_map_json_is_made_once_per_figure_and_sent_again_on_a_rerun(app, monkeypatch):
    # 0.34 s a run at 100,000 points: a rerun (a selection, a widget) sends the cached JSON
    import json

    from plotly.basedatatypes import BaseFigure

    from app_pages import plotly_light

    def map_json(at: AppTest) -> str:
        (chart,) = [c for c in at.get("bidi_component") if c.proto.component_name == plotly_light.COMPONENT
                    and "map_chart" in c.proto.id]
        return json.loads(chart.proto.json)["spec"]

    _run(app)
    first = map_json(app)
    calls: list[int] = []
    real = BaseFigure.to_json
    monkeypatch.setattr(BaseFigure, "to_json", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    _run(app)
    assert map_json(app) == first and not calls


def test_map_figure_sends_positions_as_float32_and_membership_as_hovered(built_space):
    # every point travels as JSON: float32 positions and the 2 decimals of membership the hover
    # shows are all the map needs (a 100,000-point figure fell from 7.1 to 6.0 MB)
    from app_pages import charts

    view = load_space_view(built_space.url, built_space.run_id)
    color = views.color_choices(view)[0]
    frame = views.map_frame(view, color)
    fig = charts.map_figure(view, frame, color)
    traces = [t for t in fig.data if len(t.x)]
    assert traces and all(np.asarray(t.x).dtype == np.float32 and np.asarray(t.y).dtype == np.float32 for t in traces)
    strengths = np.array([row[1] for t in traces for row in t.customdata], float)
    np.testing.assert_allclose(strengths, strengths.round(2))
    placed = {row[0]: (x, y) for t in traces for row, x, y in zip(t.customdata, t.x, t.y)}
    for _, point in frame.sample(5, random_state=0).iterrows():
        np.testing.assert_allclose(placed[point["id"]], (point["x"], point["y"]), rtol=1e-6)


def test_map_markers_shrink_with_the_number_of_points():
    from app_pages import charts

    sizes = [charts.marker_size(n) for n in (10, charts.SVG_MAX_POINTS, charts.SVG_MAX_POINTS + 1, 10_000, 20_000, 10**6)]
    assert sizes[:3] == [charts.MARKER_SIZE] * 3  # SVG maps, and the first WebGL ones, keep the size
    assert sizes == sorted(sizes, reverse=True) and sizes[3] < charts.MARKER_SIZE
    assert sizes[-2:] == [charts.MIN_MARKER_SIZE] * 2


def test_map_legend_symbols_keep_their_size(built_space):
    from app_pages import charts

    view = load_space_view(built_space.url, built_space.run_id)
    color = views.color_choices(view)[0]
    assert charts.map_figure(view, views.map_frame(view, color), color).layout.legend.itemsizing == "constant"


def test_map_colour_by_answer_and_attribute(app):
    _run(app)
    app.selectbox(key="map_color").set_value("Answer · parks")
    _run(app)
    app.selectbox(key="map_color").set_value("Attribute · age")
    _run(app)
    assert "Opinion map" in _texts(app, "title")


def test_selection_in_session_state_shows_its_summary(app, built_space):
    _run(app)
    assert not app.metric
    app.session_state[common.SELECTION] = ["r1", "r2", "r3", "r4", "r5"]
    _run(app)
    assert [m.value for m in app.metric] == ["5"]
    assert "Selection" in _texts(app, "subheader")
    app.button(key="steer_selection").click()
    _run(app)
    persona = app.session_state[common.PERSONA]
    assert persona.kind == "selection" and len(persona.members) == 5
    assert any("Persona set to the centroid of 5 respondents" in m for m in _texts(app, "success"))


def test_search_highlights_a_respondent_and_unknown_id_warns(app):
    _run(app)
    app.text_input(key="map_search").set_value("r7")
    _run(app)
    assert "Respondent r7" in _texts(app, "subheader")
    app.button(key="steer_respondent").click()
    _run(app)
    assert app.session_state[common.PERSONA].key == "r7"
    app.text_input(key="map_search").set_value("nobody-42")
    _run(app)
    assert any("No respondent with id 'nobody-42'" in _shown(w) for w in _texts(app, "warning"))


def test_selection_of_unknown_ids_gives_a_message(app):
    app.session_state[common.SELECTION] = ["ghost-1", "ghost-2"]
    _run(app)
    assert any("no respondents of this embedding run" in w for w in _texts(app, "warning"))


# ------------------------------------------------------------------- cohorts
def test_cohorts_page_lists_cohorts_and_steers(app, built_space):
    _run(app, COHORTS)
    assert _texts(app, "title") == ["Cohorts"]
    pick = app.selectbox(key="cohort_pick")
    assert len(pick.options) >= 2
    assert app.dataframe, "the cohort table is shown"
    assert "Most distinctive opinions (this cohort vs everybody)" in _texts(app, "subheader")
    assert pick.value == 0
    size_0 = app.metric[0].value
    pick.set_value(2)
    _run(app)
    assert app.selectbox(key="cohort_pick").value == 2
    assert app.metric[0].value != size_0  # the planted cohorts differ in size
    app.button(key="steer_cohort").click()
    _run(app)
    assert app.session_state[common.PERSONA].kind == "cohort"


def test_cohorts_page_draws_every_chart_with_the_basic_bundle_and_the_similarity_as_tiles(app, built_space):
    """No chart of the Cohorts page needs st.plotly_chart's whole plotly.js (4.7 MB to load on the
    page's first visit): the centroid similarity is drawn as tiles of bars, cell (i, j) sim[i, j]."""
    _run(app, COHORTS)
    assert not app.get("plotly_chart")
    labels, sim = views.cohort_similarity(load_space_view(built_space.url, built_space.run_id))
    tiles = _chart(app, "cohort_similarity", light_only=True)
    bars, text, scale = tiles["data"]
    assert (bars["type"], text["type"], scale["type"]) == ("bar", "scatter", "scatter")
    n = len(labels)
    cells = [(i, j) for i in range(n) for j in range(n)]
    assert bars["x"] == text["x"] == [f"Cohort {labels[j]}" for _, j in cells]
    assert bars["base"] == [i for i, _ in cells] and bars["y"] == [1] * n * n  # cell (i, j) spans row i
    assert np.allclose([value for _, value in bars["customdata"]], sim.ravel()) and text["text"] == [f"{v:.2f}" for v in sim.ravel()]
    # each bar's colour given, RdBu from -1 to 1 (a number there costs plotly.js two logged warnings
    # a bar); the colour bar comes from one invisible marker on the same scale
    from plotly.colors import sample_colorscale

    assert bars["marker"]["color"] == sample_colorscale("RdBu", list((np.clip(sim.ravel(), -1, 1) + 1) / 2))
    assert sample_colorscale("RdBu", [0.0, 1.0]) == ["rgb(103, 0, 31)", "rgb(5, 48, 97)"]  # -1 red, 1 blue
    marker = scale["marker"]
    assert marker["showscale"] and (marker["cmin"], marker["cmax"], marker["opacity"]) == (-1, 1, 0)
    assert scale["hoverinfo"] == "skip" and len(scale["x"]) == 1
    assert tiles["layout"]["yaxis"]["ticktext"] == [f"Cohort {c}" for c in labels]
    assert tiles["layout"]["yaxis"]["range"] == [len(labels), 0]  # the first row on top


def test_a_cohorts_charts_are_built_once_and_then_read_from_the_cache(app, monkeypatch):
    """Building the paired-bar figures was most of a Cohorts run: a second visit reuses them."""
    from app_pages import charts

    built: list[int] = []
    real = charts.paired_bars_grid
    monkeypatch.setattr(charts, "paired_bars_grid", lambda *a, **k: built.append(1) or real(*a, **k))
    charts.paired_bars_chart.clear()
    _run(app, COHORTS)
    first = len(built)
    assert first >= 2  # the opinions and the demographics
    _run(app, MAP)
    _run(app, COHORTS)
    assert len(built) == first
    app.selectbox(key="cohort_pick").set_value(1)
    _run(app)
    assert len(built) > first  # another cohort, other figures


def test_cohorts_are_named_by_the_llm_on_request_and_shown_with_their_evidence(app, built_space, no_cohort_names):
    from persona_core.service import cohort_names

    _run(app, COHORTS)
    assert "LLM name" not in app.dataframe[0].value.columns
    assert not [m for m in _texts(app, "markdown") if m.startswith("**LLM name:**")]
    app.button(key="name_cohorts").click()
    _run(app)
    stored = cohort_names.stored(built_space.url, built_space.run_id)
    assert sorted(stored) == load_space_view(built_space.url, built_space.run_id).cohorts
    table = app.dataframe[0].value
    shown = dict(zip(table["label"], table["LLM name"]))
    assert all(shown[c] == (rec.name or "") for c, rec in stored.items())
    assert not [b for b in app.button if b.key == "name_cohorts"], "all named: no button"
    named = sum(rec.name is not None for rec in stored.values())
    assert f"{named} of {len(stored)} cohorts have a name from {cohort_names.model_key()}." in [
        c.replace("\\", "") for c in _texts(app, "caption")]
    assert list(table.columns[:2]) == ["label", "LLM name"]
    label = app.selectbox(key="cohort_pick").value
    rec = stored[label]
    expected = common.literal(rec.name) if rec.name else "none, " + common.literal(rec.reason)
    assert any(m.startswith("**LLM name:**") and expected in m for m in _texts(app, "markdown"))
    assert "Written from: " + common.literal(" · ".join(rec.evidence)) in _texts(app, "caption")


def test_an_llm_name_is_shown_as_text(app, built_space, no_cohort_names):
    from db.cohort_names import CohortNameRecord, save_cohort_names
    from db.session import session_scope
    from persona_core.naming import CohortNamingConfig
    from persona_core.service import cohort_names

    name, evidence = "**Bold** [site](http://evil.example) <b>x</b>", ("Q: <i>yes</i>", "[a](b): c")
    with session_scope(built_space.url) as s:
        save_cohort_names(s, built_space.run_id, cohort_names.model_key(), CohortNamingConfig().prompt_key,
                          [CohortNameRecord(0, name, name, evidence)])
    _run(app, COHORTS)
    assert f"**LLM name:** {common.literal(name)}" in _texts(app, "markdown")
    assert "Written from: " + common.literal(" · ".join(evidence)) in _texts(app, "caption")


def _subplot_titles(at: AppTest, key: str) -> list[str]:
    return [a["text"] for a in _chart(at, key)["layout"].get("annotations", [])]


def test_cohort_demographics_start_with_the_attribute_that_sets_it_apart(app):
    _run(app, COHORTS)
    titles = _subplot_titles(app, f"coh{app.selectbox(key='cohort_pick').value}_demo")
    assert titles == ["party", "region"]  # planted party first, random region second
    assert app.table, "numeric attributes (age) in a table"


def test_demographics_show_the_top_attributes_and_more_on_request():
    def page():
        import pandas as pd

        from app_pages import charts

        rows = [("a", "x", 0.6, 0.5), ("a", "y", 0.4, 0.5), ("b", "x", 1.0, 0.5), ("b", "y", 0.0, 0.5),
                ("c", "x", 0.3, 0.5), ("c", "y", 0.7, 0.5)]
        frame = pd.DataFrame([{"attribute": a, "value": v, "group": g, "share": s}
                              for a, v, c, o in rows for g, s in (("this group", c), ("everybody", o))])
        charts.show_demographics(frame, pd.DataFrame(), key="demo", top=1)

    at = AppTest.from_function(page, default_timeout=60)
    _run(at)
    assert _subplot_titles(at, "demo") == ["b"]
    more = at.multiselect(key="demo_more")
    assert more.options == ["c", "a"]
    more.set_value(["a"])
    _run(at)
    assert _subplot_titles(at, "demo") == ["b", "a"]


# ---------------------------------------------------------------- evaluation
def test_evaluation_page_without_runs_says_how_to_make_one(app):
    _run(app, EVALUATION)
    assert any("python -m persona_core eval" in i for i in _texts(app, "info"))


def _plotly_values(values) -> list:
    """A trace's values as a list (Plotly writes numeric arrays as base64 ``bdata``)."""
    if isinstance(values, dict) and "bdata" in values:
        import base64

        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"])).tolist()
    return list(values)


@pytest.mark.slow
def test_evaluation_page_draws_what_a_real_evaluation_stores(app, built_space):
    """A tiny SPM is trained and evaluated on the app's space, the result stored as ``eval``
    stores it, and the page's table and per-cohort bars show exactly those numbers."""
    import json
    from dataclasses import replace

    from db.models import EvaluationRun
    from db.session import session_scope
    from db.store import list_embedding_runs, save_evaluation_run
    from persona_core.cli_steer import tiny_eval_config
    from persona_core.evaluate.run import Evaluator
    from persona_core.llm.loading import load_model
    from persona_core.space import PersonaSpace
    from persona_core.steer.config import tiny_config
    from persona_core.steer.train import SPMTrainer

    with session_scope(built_space.url) as s:
        path = next(r.artifact_path for r in list_embedding_runs(s) if r.id == built_space.run_id)
    space = PersonaSpace.load(path)
    model, tok = load_model()
    config = tiny_config()
    config = replace(config, train=replace(config.train, steps_per_epoch=4, eval_every=0, progress=False))
    trained = SPMTrainer(model, tok, config).fit(space.survey, space.embeddings, space.heldout_mask, space.run_key)
    record = {"run_key": space.run_key, "step": trained.steps, "split": trained.split.to_record(space.survey)}
    results = Evaluator(model, tok, space, trained.spm, record, replace(tiny_eval_config(), progress=False)).run()
    results = json.loads(json.dumps(results))  # as the database gives it back
    with session_scope(built_space.url) as s:
        eval_id = save_evaluation_run(s, run_id=built_space.run_id, model_name="smollm2", results=results)
    try:
        _run(app, EVALUATION)
        assert app.selectbox(key="eval_run").value == eval_id
        table = app.dataframe[0].value
        assert set(table["method"]) == set(results["methods"])
        for method, acc in zip(table["method"], table["accuracy"]):
            assert acc == pytest.approx(results["methods"][method]["accuracy"])
        assert "Per-cohort alignment" in _texts(app, "subheader")
        drawn = {}
        for trace in _chart(app, "eval_alignment")["data"]:
            for cohort, value in zip(_plotly_values(trace["x"]), _plotly_values(trace["y"])):
                drawn[(trace["name"], str(cohort))] = value
        stored = results["cohort_alignment"]
        want = {(m, c): e[m] for c, e in stored["per_cohort"].items() for m in results["methods"]}
        want.update({(m, "all"): stored[m] for m in results["methods"]})
        assert stored["per_cohort"] and drawn.keys() == want.keys()
        for key, value in want.items():
            assert drawn[key] == pytest.approx(value), key
        assert all(0.0 <= v <= 1.0 for v in drawn.values())  # alignments, never counts
    finally:
        with session_scope(built_space.url) as s:
            s.delete(s.get(EvaluationRun, eval_id))


# ---------------------------------------------------------------- empty / bad
def test_every_page_with_an_empty_database_offers_a_build(tmp_path, app_env):
    for page in (None, COHORTS, COMPARE, EVALUATION):
        at = AppTest.from_file(APP, default_timeout=60)
        at.session_state[common.DB_URL] = f"sqlite:///{tmp_path / 'empty.db'}"
        _run(at, page)
        assert any("No persona space is built" in w for w in _texts(at, "warning")), page
        assert at.button, "the build form's button is there"


def test_database_url_field_is_off_unless_enabled(app_env, monkeypatch, tmp_path):
    monkeypatch.delenv("PERSONA_ALLOW_DB_URL_FIELD")
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[common.DB_URL] = f"sqlite:///{tmp_path / 'other.db'}"
    _run(at)
    assert not [t for t in at.text_input if t.label == "Database URL"]
    assert not (tmp_path / "other.db").exists()  # the typed URL was never opened
    assert _texts(at, "title") == ["Opinion map"]  # the configured database is used


def test_a_rebuilt_space_says_why_it_has_no_steering_model_and_which_run_has_one(tmp_path, app_env, monkeypatch):
    """Every build makes a new embedding run, and a checkpoint steers only the run it was trained
    on: after a rebuild the sidebar says so and names the older run that has one."""
    import json
    from types import SimpleNamespace

    from persona_core.pipeline import build_and_store
    from tests.app.synthetic import app_survey, fast_config

    url = f"sqlite:///{tmp_path / 'two_runs.db'}"
    first = build_and_store(app_survey(), db_url=url, config=fast_config(), artifact_dir=tmp_path / "first")
    again = build_and_store(app_survey(), db_url=url, config=fast_config(), artifact_dir=tmp_path / "again")
    assert again.space.run_key != first.space.run_key
    checkpoint = tmp_path / "artifacts" / "spm" / first.space.run_key / "suffix_kv-default"
    checkpoint.mkdir(parents=True)
    (checkpoint / "checkpoint.json").write_text(json.dumps({
        "run_key": first.space.run_key, "config": {"spm": {"mode": "suffix_kv"}}, "step": 300,
        "learning_curve": [{"step": 300, "accuracy": 0.6}]}))
    monkeypatch.setenv("PERSONA_ARTIFACTS_DIR", str(tmp_path / "artifacts"))

    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[common.DB_URL] = url
    _run(at)
    assert at.sidebar.selectbox(key=common.RUN_ID).value == again.run_id  # the newest run
    assert at.sidebar.selectbox(key=common.SPM_PATH).options == [common.NO_SPM]
    notes = [c.value for c in at.sidebar.caption if "No steering model" in c.value]
    assert len(notes) == 1 and f"Run {first.run_id} has one: choose it above." in notes[0] and "Jobs page" in notes[0], notes

    # while a training job of this run is queued or running, the note says so instead
    from persona_core.service import first_run

    job = SimpleNamespace(id=7, kind="train", status="running", progress=0.5, eta_seconds=600, stage="training",
                          after_id=None)
    monkeypatch.setattr(first_run, "training_in_progress", lambda url_, run_id: [job] if run_id == again.run_id else [])
    _run(at)
    assert [c.value for c in at.sidebar.caption if "steering model" in c.value] == [
        "A steering model for this run is being trained: follow it under Jobs."]
    _run(at, COMPARE)  # and Compare says it steers by text meanwhile
    assert any("being trained in the background (job 7: 50% · 10 min 00 s left · training)" in i
               for i in _texts(at, "info"))

    at.sidebar.selectbox(key=common.RUN_ID).set_value(first.run_id)
    _run(at)
    assert at.sidebar.selectbox(key=common.SPM_PATH).value == str(checkpoint)  # offered, and picked
    assert not [c for c in at.sidebar.caption if "steering model" in c.value.lower()]


def test_unreadable_database_url_gives_a_message(app_env):
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[common.DB_URL] = "nosuchdriver://x/y"
    _run(at)
    assert any("Cannot read the database" in e for e in _texts(at, "error"))


@pytest.mark.slow
def test_build_button_builds_a_space_from_a_csv_folder(tmp_path, app_env):
    from tests.app.synthetic import app_survey, write_csv_survey

    folder = write_csv_survey(app_survey(n_respondents=120, seed=3), tmp_path / "survey")
    at = AppTest.from_file(APP, default_timeout=300)
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    at.session_state[common.DB_URL] = url
    _run(at)
    at.radio(key="build_kind").set_value("csv")
    at.text_input(key="build_path").set_value(str(folder))
    at.button[0].click()  # the form's submit button
    _run(at)
    from persona_core.service.catalog import database_status

    status = database_status(url)
    assert status.ok and len(status.runs) == 1 and status.runs[0].n_respondents == 120
    assert _texts(at, "title") == ["Opinion map"]


def test_bad_build_path_gives_a_message(tmp_path, app_env):
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[common.DB_URL] = f"sqlite:///{tmp_path / 'fresh.db'}"
    _run(at)
    at.radio(key="build_kind").set_value("csv")
    at.text_input(key="build_path").set_value(str(tmp_path / "missing"))
    at.button[0].click()
    _run(at)
    assert _texts(at, "error"), "the loader's error is shown"


# ------------------------------------------------------------------- compare
def test_compare_page_widgets_and_real_answer(app):
    app.session_state[common.MODEL] = ""
    _run(app, COMPARE)
    assert len(app.radio(key="compare_kind").options) == 3
    app.radio(key="compare_kind").set_value("respondent")
    _run(app)
    app.text_input(key="compare_respondent").set_value("r3")
    app.selectbox(key="compare_question").set_value("parks")
    _run(app)
    text = _all_text(app)
    assert "Real answer of respondent r3" in text or "did not answer" in text
    assert app.slider(key="compare_temperature").value == 0.7
    assert app.number_input(key="compare_max_new").value == 64
    assert app.number_input(key="compare_seed").value == 0
    # no SPM is trained for this space: the page says so and steers by text
    assert any("No steering model (SPM)" in i for i in _texts(app, "info"))


def test_compare_unknown_respondent_and_empty_selection(app):
    _run(app, COMPARE)
    app.radio(key="compare_kind").set_value("respondent")
    _run(app)
    app.text_input(key="compare_respondent").set_value("no-such-person")
    _run(app)
    assert any("No respondent with id 'no-such-person'" in _shown(e) for e in _texts(app, "error"))
    assert app.button(key="compare_go").disabled
    app.radio(key="compare_kind").set_value("selection")
    _run(app)
    assert any("selection is empty" in w for w in _texts(app, "warning"))
    assert app.button(key="compare_go").disabled


def test_compare_free_text_question_has_no_options(app):
    _run(app, COMPARE)
    app.radio(key="compare_source").set_value("free")
    _run(app)
    assert any("no options" in i for i in _texts(app, "info"))
    assert app.button(key="compare_go").disabled


def test_the_map_page_loads_the_sidebars_model_in_the_background(app, built_space, monkeypatch):
    """After the first page is sent, the app loads the sidebar's model and SPM (here none) in a
    background thread, so the first visit to Compare finds them loaded."""
    from persona_core.service import models

    monkeypatch.setenv(models.WARM_UP_ENV, "1")
    models.clear()
    # the threads warm_up starts, kept here: with the model weights memoized in the process a warm-up
    # can be over before the page's run returns, so looking for a live thread would race it
    started = []
    warm_up = models.warm_up
    monkeypatch.setattr(models, "warm_up", lambda *a: started.append(warm_up(*a)) or started[-1])
    _run(app)
    warming = [t for t in started if t is not None]
    assert warming and warming[0].name == models.WARM_UP_THREAD, "a warm-up thread was started"
    for thread in warming:
        thread.join(timeout=300)
    assert models.comparer_loaded(None, None, built_space.run_key)
    _run(app, COMPARE)
    assert [t for t in started if t is not None] == warming, "nothing more to warm"
    assert not [t for t in threading.enumerate() if t.name == models.WARM_UP_THREAD], "nothing more to warm"


def test_compare_missing_model_gives_a_message(app, tmp_path):
    app.session_state[common.MODEL] = str(tmp_path / "no-model-here")
    _run(app, COMPARE)
    assert any("could not be loaded" in e for e in _texts(app, "error"))
    assert app.button(key="compare_go").disabled


def test_compare_generates_both_sides_and_stores_the_pair(app, built_space):
    from db.session import session_scope
    from db.store import list_preference_pairs

    app.session_state[common.PERSONA] = None
    _run(app, COMPARE)
    app.radio(key="compare_kind").set_value("cohort")
    app.number_input(key="compare_max_new").set_value(8)
    app.slider(key="compare_temperature").set_value(0.0)
    _run(app)
    app.button(key="compare_go").click()
    _run(app)
    stored = app.session_state["comparison"]
    result = stored["result"]
    assert result.unsteered and result.steered
    assert result.method == "text" and result.persona_kind == "cohort"
    plain, steered = stored["probs"]
    assert np.isclose(plain.sum(), 1.0) and np.isclose(steered.sum(), 1.0)
    assert len(plain) == len(stored["options"])
    # answers are escaped for Markdown (app_pages.common.literal): compare the characters shown
    import re

    shown = re.sub(r"\\(.)", r"\1", " ".join("\n".join(_texts(app, "markdown")).split()))
    assert " ".join(result.unsteered.split()) in shown and " ".join(result.steered.split()) in shown
    app.button(key="compare_send").click()
    _run(app)
    assert any("Stored as pair" in s for s in _texts(app, "success"))
    with session_scope(built_space.url) as s:
        pairs = list_preference_pairs(s, run_id=built_space.run_id)
    assert pairs[-1].response_a == result.unsteered and pairs[-1].response_b == result.steered
    assert pairs[-1].meta["steered_side"] == "b" and pairs[-1].meta["persona"]["kind"] == "cohort"
    # by default each side starts with the option it scores likeliest (temperature 0): the bars' top option
    assert app.toggle(key="compare_answer_first").value is True
    picked = [int(np.argmax(plain)), int(np.argmax(steered))]
    assert pairs[-1].meta["picked_options"] == picked
    for text, k in zip((result.unsteered, result.steered), picked):
        assert text.startswith(f"{chr(65 + k)}. {stored['options'][k]}, because")
    # turned off: free text, with no option picked for it
    app.toggle(key="compare_answer_first").set_value(False)
    _run(app)
    app.button(key="compare_go").click()
    _run(app)
    assert "picked_options" not in app.session_state["comparison"]["result"].extra


def test_compare_offers_induced_personas_as_text_personas(app, built_space):
    from db.session import session_scope
    from persona_core.preferences.personas import save_induced_persona

    text = "Values plain, direct answers and distrusts long explanations."
    with session_scope(built_space.url) as s:
        save_induced_persona(s, annotator="ada", text=text, demos=[], metrics={}, config={}, model_name="test")
    app.session_state[common.PERSONA] = None
    _run(app, COMPARE)
    app.radio(key="compare_kind").set_value("cohort")
    _run(app)
    origin = app.selectbox(key="compare_persona_origin")
    assert origin.options == ["this persona's survey answers", "persona induced from ada's preference pairs"]
    survey_text = app.text_area[0].value
    origin.set_value("ada")
    _run(app)
    assert app.text_area[0].value == text != survey_text
