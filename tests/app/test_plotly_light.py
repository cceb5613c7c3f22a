"""app_pages/plotly_light.py: which figures the plotly.js partial bundle draws, the bundle itself,
and charts.show's choice between it and st.plotly_chart (the map's drawing and its lasso
selection in Chromium are in test_browser.py)."""
from __future__ import annotations

import plotly.graph_objects as go
from streamlit.testing.v1 import AppTest

from app_pages import plotly_light


def test_usable_for_the_bundles_traces_only_and_the_smallest_bundle_chosen(monkeypatch):
    scatter, gl = go.Scatter(x=[1, 2], y=[3, 4], mode="markers"), go.Scattergl(x=[1, 2], y=[3, 4])
    assert plotly_light.bundle_for(go.Figure(scatter)) is plotly_light.BASIC
    assert plotly_light.bundle_for(go.Figure([go.Bar(x=[1], y=["a"]), go.Pie(values=[1, 2])])) is plotly_light.BASIC
    assert plotly_light.bundle_for(go.Figure([gl, scatter])) is plotly_light.GL2D  # the large map: WebGL points, SVG star
    assert not plotly_light.usable(go.Figure(go.Heatmap(z=[[1]])))
    assert not plotly_light.usable(go.Figure([gl, go.Bar(x=[1], y=["a"])]))  # in no one bundle
    assert not plotly_light.usable(go.Figure([go.Scatter(x=[1], y=[1]), go.Scatter3d(x=[1], y=[1], z=[1])]))
    monkeypatch.setattr(plotly_light, "STATIC", plotly_light.STATIC / "missing")
    assert not plotly_light.usable(go.Figure(go.Scatter(x=[1], y=[1])))
    assert not plotly_light.usable(go.Figure(gl))


def test_the_vendored_bundles_register_exactly_the_traces_usable_accepts():
    import re

    for bundle in plotly_light.BUNDLES:
        kind, version = re.fullmatch(r"plotly-(\w+)-([\d.]+)\.min\.js", bundle.file).groups()
        text = bundle.path.read_text(encoding="utf-8")
        assert f"plotly.js ({kind} - minified) v{version}" in text[:300]
        assert set(re.findall(r'moduleType:"trace",name:"(\w+)"', text)) == bundle.traces
        assert bundle.path.with_name(bundle.file.replace(".min.js", ".LICENSE")).is_file()


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
    assert data["config"]["typesetMath"] is False  # "$...$" in a label is text, not TeX
    assert data["config"]["toImageButtonOptions"]["filename"] == "persona-explorer-chart"  # image export kept
    assert [t["type"] for t in json.loads(data["spec"])["data"]] == ["scatter"]
    assert data["bundle"] == "./app/static/" + plotly_light.BASIC.file
    assert "selected: 0" in at.markdown[0].value  # no selection yet, in st.plotly_chart's shape

    (chart,) = _charts_app(light=True, webgl=True).get("bidi_component")  # WebGL points: the gl2d bundle
    assert json.loads(chart.proto.json)["bundle"] == "./app/static/" + plotly_light.GL2D.file
    at = _charts_app(light=False, webgl=False)
    assert len(at.get("plotly_chart")) == 1 and not at.get("bidi_component")
    assert json.loads(at.get("plotly_chart")[0].proto.config)["typesetMath"] is False


THEMED_APP = """import pandas as pd, plotly.express as px, streamlit as st
from app_pages import charts
frame = pd.DataFrame({"method": ["a", "b", "c"], "accuracy": [0.5, 0.6, 0.7]})
charts.show(px.bar(frame, x="accuracy", y="method", color="method", orientation="h"), key="bars")
"""


def test_light_chart_draws_in_the_streamlit_themes_colours_in_chromium(tmp_path):
    """Plotly Express figures built under Streamlit carry its template's placeholder colours
    ("#000001" ...); the component swaps them for the theme's chart colours, as st.plotly_chart does."""
    from tests.app import e2e

    with e2e.scratch_page(tmp_path, THEMED_APP, viewport={"width": 1000, "height": 700}) as (page, url, errors):
        e2e.open_map(page, url, chart=".st-key-bars .pe-plotly .main-svg")
        fills = page.evaluate("""() => [...document.querySelectorAll('.st-key-bars .bars path')]
            .map((p) => getComputedStyle(p).fill)""")
        theme = page.evaluate("""() => getComputedStyle(document.querySelector('.pe-plotly'))
            .getPropertyValue('--st-chart-categorical-colors')""")
    assert not errors, errors
    assert len(fills) == 3 and len(set(fills)) == 3, fills
    assert "rgb(0, 0, 1)" not in fills and "rgb(0, 0, 2)" not in fills  # no placeholder left

    def rgb(hex_colour: str) -> str:
        h = hex_colour.strip().lstrip("#")
        return "rgb({}, {}, {})".format(*(int(h[i:i + 2], 16) for i in (0, 2, 4)))

    assert fills == [rgb(c) for c in theme.split(",")[:3]], (fills, theme)


TWO_BUNDLES_APP = """import plotly.graph_objects as go, streamlit as st
from app_pages import charts
charts.show(go.Figure(go.Bar(x=[1, 2], y=["a", "b"], orientation="h")), key="bars")
xs, ys = [i % 20 for i in range(400)], [i // 20 for i in range(400)]
gl = go.Figure(go.Scattergl(x=xs, y=ys, mode="markers", customdata=[[str(i)] for i in range(400)]))
event = charts.show(gl.update_layout(dragmode="lasso", height=500), key="gl", on_select="rerun")
st.write(f"selected: {len(event['selection']['points'])}")
"""


def test_a_page_with_svg_and_webgl_charts_loads_both_bundles_and_lassos_the_webgl_one_in_chromium(tmp_path):
    """Bars (basic bundle) and WebGL points (gl2d bundle) on one page: each bundle is loaded once,
    each chart drawn by its own plotly.js, and a lasso around the WebGL points selects them all."""
    from playwright.sync_api import expect

    from tests.app import e2e

    with e2e.scratch_page(tmp_path, TWO_BUNDLES_APP, viewport={"width": 1000, "height": 1200}) as (page, url, errors):
        e2e.open_map(page, url, chart=".st-key-gl .pe-plotly .main-svg")
        e2e.wait_drawn(page, ".st-key-bars .pe-plotly .main-svg")
        assert page.locator(".st-key-bars .bars path").count() == 2
        assert page.locator(".st-key-gl .pe-plotly canvas").count() > 0, "WebGL points are drawn on a canvas"
        versions = page.evaluate("""async () => Object.fromEntries(await Promise.all(Object.entries(window.__pePlotlyBundles)
            .map(async ([url, p]) => [url.split('/').pop(), (await p).version])))""")
        assert versions == {"plotly-basic-4.1.1.min.js": "4.1.1", "plotly-gl2d-3.7.0.min.js": "3.7.0"}, versions
        e2e.lasso(page, ".st-key-gl", margin=0.01)
        expect(page.get_by_text("selected: 400")).to_be_visible()
    assert not errors, errors
