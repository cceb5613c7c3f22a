"""app_pages/plotly_light.py: which figures the basic plotly.js bundle draws, the bundle itself,
and charts.show's choice between it and st.plotly_chart (the map's drawing and its lasso
selection in Chromium are in test_browser.py)."""
from __future__ import annotations

import plotly.graph_objects as go
from streamlit.testing.v1 import AppTest

from app_pages import plotly_light


def test_usable_for_basic_traces_only(monkeypatch):
    assert plotly_light.usable(go.Figure(go.Scatter(x=[1, 2], y=[3, 4], mode="markers")))
    assert plotly_light.usable(go.Figure([go.Bar(x=[1], y=["a"]), go.Pie(values=[1, 2])]))
    assert not plotly_light.usable(go.Figure(go.Scattergl(x=[1, 2], y=[3, 4])))  # WebGL: not in the bundle
    assert not plotly_light.usable(go.Figure([go.Scatter(x=[1], y=[1]), go.Heatmap(z=[[1]])]))
    monkeypatch.setattr(plotly_light, "BUNDLE_PATH", plotly_light.BUNDLE_PATH.with_name("missing.js"))
    assert not plotly_light.usable(go.Figure(go.Scatter(x=[1], y=[1])))


def test_the_vendored_bundle_is_plotly_basic_with_its_traces():
    head = plotly_light.BUNDLE_PATH.read_text(encoding="utf-8")[:300]
    version = plotly_light.BUNDLE.removeprefix("plotly-basic-").removesuffix(".min.js")
    assert f"plotly.js (basic - minified) v{version}" in head
    text = plotly_light.BUNDLE_PATH.read_text(encoding="utf-8")
    for trace in plotly_light.BASIC_TRACES:
        assert f'moduleType:"trace",name:"{trace}"' in text
    assert 'name:"scattergl"' not in text
    assert plotly_light.BUNDLE_PATH.with_name(plotly_light.BUNDLE.replace(".min.js", ".LICENSE")).is_file()


def _charts_app(light: bool, webgl: bool) -> AppTest:
    def script(light: bool, webgl: bool):
        import plotly.graph_objects as go

        from app_pages import charts

        trace = (go.Scattergl if webgl else go.Scatter)(x=[1, 2, 3], y=[1, 3, 2], mode="markers", customdata=[["a"], ["b"], ["c"]])
        event = charts.show(go.Figure(trace), key="chart", light=light, on_select="rerun", selection_mode=("box", "lasso"))
        import streamlit as st

        st.write(f"selected: {len(event['selection']['points'])}")

    at = AppTest.from_function(script, kwargs={"light": light, "webgl": webgl}, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_charts_show_draws_light_where_it_can_and_falls_back_to_plotly_chart():
    import json

    at = _charts_app(light=True, webgl=False)
    (chart,) = at.get("bidi_component")
    assert chart.proto.component_name == "persona_explorer.plotly_basic" and not at.get("plotly_chart")
    data = json.loads(chart.proto.json)
    assert data["selectable"] and data["config"]["displaylogo"] is False
    assert data["config"]["toImageButtonOptions"]["filename"] == "persona-explorer-chart"  # image export kept
    assert [t["type"] for t in json.loads(data["spec"])["data"]] == ["scatter"]
    assert "selected: 0" in at.markdown[0].value  # no selection yet, in st.plotly_chart's shape

    for light, webgl in ((True, True), (False, False)):
        at = _charts_app(light=light, webgl=webgl)
        assert len(at.get("plotly_chart")) == 1 and not at.get("bidi_component"), (light, webgl)
