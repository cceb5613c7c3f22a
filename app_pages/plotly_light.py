"""Plotly charts drawn with plotly.js's *basic* bundle (scatter, bar and pie traces only),
through a Streamlit v2 component, instead of ``st.plotly_chart``.

Why not ``st.plotly_chart``: it always loads Streamlit's whole plotly.js (4.7 MB), and in
Chromium evaluating that bundle is most of what opening the map costs. A bare app showing the
map's figure (GSS 2016, 2,867 SVG points) opened in 1.26 s p50 with ``st.plotly_chart`` and in
0.74 s with this component and the basic bundle (1.2 MB, the same plotly.js release, 4.1.1),
12 warm-browser opens each, side by side. No library draws a Plotly figure in Streamlit with a
partial bundle, hence this small component.

The bundle is served by Streamlit's static file serving (``server.enableStaticServing`` in
``.streamlit/config.toml``; the file sits in ``static/`` beside ``app.py``). Where that is off,
or a figure has a trace the basic bundle lacks (the map's WebGL points above
``charts.SVG_MAX_POINTS``), :func:`usable` says no and ``charts.show`` falls back to
``st.plotly_chart``.
"""
from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

BUNDLE = "plotly-basic-4.1.1.min.js"
BUNDLE_PATH = Path(__file__).resolve().parents[1] / "static" / BUNDLE
BASIC_TRACES = frozenset({"scatter", "bar", "pie"})
CSS_CLASS = "pe-plotly"  # the chart's <div>; Plotly draws its .main-svg inside

# The figure arrives as Plotly's own JSON (numpy arrays as typed-array blocks, which plotly.js
# decodes); it is drawn again only when that JSON changes, so a rerun keeps the user's box or
# lasso on the chart. Backgrounds are transparent and the font is the page's, like
# st.plotly_chart's Streamlit theme. Selections come back as the component's "selection" state, in
# st.plotly_chart's shape ({"points": [{"customdata": [...], ...}]}).
_JS = """
const BUNDLE_URL = "./app/static/%(bundle)s";

function loadPlotly() {
  if (!window.__pePlotlyBasic) {
    window.__pePlotlyBasic = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = BUNDLE_URL;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => { window.__pePlotlyBasic = null; reject(new Error("cannot load " + BUNDLE_URL)); };
      document.head.appendChild(script);
    });
  }
  return window.__pePlotlyBasic;
}

function selectionOf(event) {
  const points = ((event && event.points) || []).map((p) => ({
    curve_number: p.curveNumber, point_number: p.pointNumber, point_index: p.pointIndex,
    x: p.x, y: p.y, customdata: p.customdata,
  }));
  return {points: points, point_indices: points.map((p) => p.point_index)};
}

export default function (component) {
  const { parentElement, data, setStateValue } = component;
  let div = parentElement.querySelector(".%(css_class)s");
  if (!div) {
    div = document.createElement("div");
    div.className = "%(css_class)s";
    parentElement.appendChild(div);
  }
  div.__peSetState = setStateValue;
  if (div.__peSpec === data.spec) return;
  div.__peSpec = data.spec;
  loadPlotly().then((Plotly) => {
    if (div.__peSpec !== data.spec) return;  // a newer figure came while the bundle loaded
    const fig = JSON.parse(data.spec);
    const style = getComputedStyle(div);
    const layout = Object.assign({}, fig.layout, {
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: Object.assign({family: style.fontFamily, color: style.color}, (fig.layout || {}).font || {}),
    });
    return Plotly.react(div, fig.data || [], layout, Object.assign({responsive: true}, data.config)).then(() => {
      if (data.selectable && !div.__peBound) {
        div.__peBound = true;
        div.on("plotly_selected", (event) => { if (event) div.__peSetState("selection", selectionOf(event)); });
        div.on("plotly_deselect", () => div.__peSetState("selection", selectionOf(null)));
      }
    });
  }).catch((err) => {
    div.textContent = "The chart could not be drawn: " + err.message;
  });
}
""" % {"bundle": BUNDLE, "css_class": CSS_CLASS}

_component = st.components.v2.component("persona_explorer.plotly_basic", js=_JS, isolate_styles=False)


def usable(fig: go.Figure) -> bool:
    """Whether :func:`show` can draw ``fig``: static serving is on, the bundle is there and every
    trace is one the basic bundle has."""
    return (bool(st.get_option("server.enableStaticServing")) and BUNDLE_PATH.is_file()
            and all(trace.type in BASIC_TRACES for trace in fig.data))


def _keep_state() -> None:
    """The selection's change callback: nothing to do, but it declares the state key."""


def show(fig: go.Figure, key: str, config: dict, on_select: bool = False) -> dict:
    """Draw ``fig`` (see :func:`usable`) full width; with ``on_select`` a box or lasso selection
    reruns the script and comes back as ``{"selection": {"points": [...]}}``, as st.plotly_chart's
    event does."""
    data = {"spec": fig.to_json(), "config": config, "selectable": on_select}
    if not on_select:
        _component(key=key, data=data, width="stretch")
        return {"selection": {"points": [], "point_indices": []}}
    result = _component(key=key, data=data, width="stretch", default={"selection": None},
                        on_selection_change=_keep_state)
    return {"selection": result.get("selection") or {"points": [], "point_indices": []}}
