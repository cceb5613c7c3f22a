"""app_pages/plotly_light.py: which figures the plotly.js partial bundle draws, the bundle itself,
and charts.show's choice between it and st.plotly_chart (the map's drawing and its lasso
selection in Chromium are in test_browser.py)."""
from __future__ import annotations

import plotly.graph_objects as go
from streamlit.testing.v1 import AppTest

from app_pages import plotly_light


def test_usable_for_the_bundles_traces_only(monkeypatch):
    assert plotly_light.usable(go.Figure(go.Scatter(x=[1, 2], y=[3, 4], mode="markers")))
    assert plotly_light.usable(go.Figure([go.Bar(x=[1], y=["a"]), go.Pie(values=[1, 2])]))
    assert not plotly_light.usable(go.Figure(go.Heatmap(z=[[1]])))
    assert not plotly_light.usable(go.Figure(go.Scattergl(x=[1, 2], y=[3, 4])))  # WebGL: not in the bundle
    assert not plotly_light.usable(go.Figure([go.Scatter(x=[1], y=[1]), go.Scatter3d(x=[1], y=[1], z=[1])]))
    monkeypatch.setattr(plotly_light, "BUNDLE_PATH", plotly_light.BUNDLE_PATH.with_name("missing.js"))
    assert not plotly_light.usable(go.Figure(go.Scatter(x=[1], y=[1])))


def test_the_vendored_bundle_registers_exactly_the_traces_usable_accepts():
    import re

    kind, version = re.fullmatch(r"plotly-(\w+)-([\d.]+)\.min\.js", plotly_light.BUNDLE).groups()
    text = plotly_light.BUNDLE_PATH.read_text(encoding="utf-8")
    assert f"plotly.js ({kind} - minified) v{version}" in text[:300]
    assert set(re.findall(r'moduleType:"trace",name:"(\w+)"', text)) == plotly_light.TRACES
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
    assert chart.proto.component_name == plotly_light.COMPONENT and not at.get("plotly_chart")
    data = json.loads(chart.proto.json)
    assert data["selectable"] and data["config"]["displaylogo"] is False
    assert data["config"]["toImageButtonOptions"]["filename"] == "persona-explorer-chart"  # image export kept
    assert [t["type"] for t in json.loads(data["spec"])["data"]] == ["scatter"]
    assert "selected: 0" in at.markdown[0].value  # no selection yet, in st.plotly_chart's shape

    for light, webgl in ((True, True), (False, False)):
        at = _charts_app(light=light, webgl=webgl)
        assert len(at.get("plotly_chart")) == 1 and not at.get("bidi_component"), (light, webgl)


THEMED_APP = """import pandas as pd, plotly.express as px, streamlit as st
from app_pages import charts
frame = pd.DataFrame({"method": ["a", "b", "c"], "accuracy": [0.5, 0.6, 0.7]})
charts.show(px.bar(frame, x="accuracy", y="method", color="method", orientation="h"), key="bars")
"""


def test_light_chart_draws_in_the_streamlit_themes_colours_in_chromium(tmp_path):
    """Plotly Express figures built under Streamlit carry its template's placeholder colours
    ("#000001" ...); the component swaps them for the theme's chart colours, as st.plotly_chart does."""
    from playwright.sync_api import sync_playwright

    from tests.app import e2e

    with e2e.streamlit_server({}, script=e2e.scratch_app(tmp_path, THEMED_APP)) as url, sync_playwright() as pw:
        browser = e2e.launch(pw)
        page = e2e.new_page(browser, viewport={"width": 1000, "height": 700})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        e2e.open_map(page, url, chart=".st-key-bars .pe-plotly .main-svg")
        fills = page.evaluate("""() => [...document.querySelectorAll('.st-key-bars .bars path')]
            .map((p) => getComputedStyle(p).fill)""")
        theme = page.evaluate("""() => getComputedStyle(document.querySelector('.pe-plotly'))
            .getPropertyValue('--st-chart-categorical-colors')""")
        browser.close()
    assert not errors, errors
    assert len(fills) == 3 and len(set(fills)) == 3, fills
    assert "rgb(0, 0, 1)" not in fills and "rgb(0, 0, 2)" not in fills  # no placeholder left

    def rgb(hex_colour: str) -> str:
        h = hex_colour.strip().lstrip("#")
        return "rgb({}, {}, {})".format(*(int(h[i:i + 2], 16) for i in (0, 2, 4)))

    assert fills == [rgb(c) for c in theme.split(",")[:3]], (fills, theme)
