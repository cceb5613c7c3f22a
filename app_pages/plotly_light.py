"""Plotly charts drawn with a plotly.js partial bundle (:data:`BUNDLES`: the basic one for
scatter, bar and pie traces, the gl2d one for the large map's WebGL points), through a Streamlit
v2 component, instead of ``st.plotly_chart``.

Why not ``st.plotly_chart``: it always loads Streamlit's whole plotly.js (4.7 MB), and in
Chromium evaluating that bundle is most of what opening the map costs. A bare app showing the
map's figure (GSS 2016, 2,867 SVG points), 12 warm-browser opens each, side by side, opened in
1.26 s p50 with ``st.plotly_chart``, 0.89 s with this component and the cartesian bundle (1.5 MB,
which adds heatmaps, box plots, histograms ...) and 0.75 s with the basic one (1.2 MB), all of
plotly.js 4.1.1, the release Streamlit ships. It also serialises the figure on every rerun, where
:func:`show` takes a cached spec (0.34 s a run for the 100,000-point map). No library draws a
Plotly figure in Streamlit with a partial bundle, hence this small component.

The bundles are served by Streamlit's static file serving (``server.enableStaticServing`` in
``.streamlit/config.toml``; the files sit in ``static/`` beside ``app.py``). Where that is off,
or a figure has a trace no bundle has (no page draws one today), :func:`usable` says no and
``charts.show`` falls back to ``st.plotly_chart``; this component draws in that chart's look (the
Streamlit theme's colours, transparent background, the page's font).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from app_pages.common import STATIC


@dataclass(frozen=True)
class Bundle:
    """A plotly.js partial bundle vendored in ``static/`` and the trace types it registers (its
    ``moduleType:"trace"`` entries; tests check the files)."""

    file: str
    traces: frozenset[str]

    @property
    def path(self) -> Path:
        return STATIC / self.file

    @property
    def url(self) -> str:
        """Where the page fetches it (relative to the app's base URL)."""
        return f"./app/static/{self.file}"


BASIC = Bundle("plotly-basic-4.1.1.min.js", frozenset({"scatter", "bar", "pie"}))
# plotly.js 4 has no gl2d bundle (3.7.0 is its last); the map's WebGL figure (scattergl points,
# a legend, lasso selection) uses nothing that release lacks. 1.6 MB against the whole 4.1.1's 4.8.
GL2D = Bundle("plotly-gl2d-3.7.0.min.js", frozenset({"scatter", "scattergl", "splom", "parcoords"}))
BUNDLES = (BASIC, GL2D)  # the first whose traces cover a figure's draws it
CSS_CLASS = "pe-plotly"  # the chart's <div>; Plotly draws its .main-svg inside

# The figure arrives as Plotly's own JSON (numpy arrays as typed-array blocks, which plotly.js
# decodes); it is drawn again only when that JSON changes, so a rerun keeps the user's box or
# lasso on the chart. Selections come back as the component's "selection" state, in
# st.plotly_chart's shape ({"points": [{"customdata": [...], ...}]}).
_JS = """
// Each bundle is loaded once per page, one at a time: every bundle sets window.Plotly as it
// runs, so each one's Plotly is read right after its own script has run, and kept apart.
function loadPlotly(url) {
  const loaded = window.__pePlotlyBundles = window.__pePlotlyBundles || {};
  if (!loaded[url]) {
    const previous = window.__pePlotlyQueue || Promise.resolve();
    loaded[url] = window.__pePlotlyQueue = previous.catch(() => {}).then(() => new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => { delete loaded[url]; reject(new Error("cannot load " + url)); };
      document.head.appendChild(script);
    }));
  }
  return loaded[url];
}

// Streamlit makes its own Plotly template the default (streamlit/elements/lib/streamlit_plotly_theme.py),
// whose colours are placeholders, "#000001" to "#000040", that st.plotly_chart's front end swaps
// for the theme's. The same swap, from the theme's CSS variables given to components.
function themeColors(style) {
  const list = (name, fallback) => (style.getPropertyValue(name).trim() || fallback).split(",").map((c) => c.trim());
  const categorical = list("--st-chart-categorical-colors", "#0068c9,#83c9ff,#ff2b2b,#ffabab,#29b09d,#7defa1,#ff8700,#ffd16a,#6d3fc0,#d5dae5");
  const sequential = list("--st-chart-sequential-colors", "#e4f5ff,#c7ebff,#a6dcff,#83c9ff,#60b4ff,#3d9df3,#1c83e1,#0068c9,#0054a3,#004280");
  const diverging = list("--st-chart-diverging-colors", "#7d353b,#bd4043,#ff4b4b,#ff8c8c,#ffc7c7,#a6dcff,#60b4ff,#1c83e1,#0054a3,#004280");
  const text = style.color, grey = "rgba(128,128,128,0.5)";
  const colors = {};
  for (let i = 0; i < 10; i++) {
    colors[i + 1] = categorical[i %% categorical.length];
    colors[i + 11] = sequential[i %% sequential.length];
    colors[i + 21] = diverging[i %% diverging.length];
  }
  Object.assign(colors, {32: categorical[4 %% categorical.length], 33: categorical[2 %% categorical.length],
                         34: categorical[0], 35: grey, 36: grey, 37: text, 38: "rgba(0,0,0,0)", 39: grey, 40: grey});
  return colors;
}

function themed(spec, style) {
  const colors = themeColors(style);
  return spec.replace(/"#0000([0-4][0-9])"/g, (match, n) => (colors[+n] ? JSON.stringify(colors[+n]) : match));
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
  if (!div.__peResize) {  // the column changes width without a window resize (sidebar, layout)
    let pending = false;
    div.__peResize = new ResizeObserver(() => {
      if (pending || !div.__pePlotly || !div._fullLayout) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        if (div.isConnected && div.offsetParent !== null) div.__pePlotly.Plots.resize(div).catch(() => {});
      });
    });
    div.__peResize.observe(div);
  }
  if (div.__peSpec === data.spec) return;
  div.__peSpec = data.spec;
  loadPlotly(data.bundle).then((Plotly) => {
    if (div.__peSpec !== data.spec) return;  // a newer figure came while the bundle loaded
    if (div.__pePlotly && div.__pePlotly !== Plotly) {  // drawn by the other bundle before
      div.__pePlotly.purge(div);
      div.__peBound = false;
    }
    div.__pePlotly = Plotly;
    const style = getComputedStyle(div);
    const fig = JSON.parse(themed(data.spec, style));
    // the rest of what st.plotly_chart's theme does: transparent background, the page's font,
    // labels given the room they need, a grey grid that reads on light and dark pages
    const layout = fig.layout || {};
    layout.template = layout.template || {};
    const look = layout.template.layout = layout.template.layout || {};
    Object.assign(look, {paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
                         font: Object.assign({}, look.font, {family: style.fontFamily, color: style.color})});
    for (const axis of ["xaxis", "yaxis"]) {
      look[axis] = Object.assign({automargin: true}, look[axis], {gridcolor: "rgba(128,128,128,0.2)", zerolinecolor: "rgba(128,128,128,0.4)"});
    }
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
""" % {"css_class": CSS_CLASS}

COMPONENT = "persona_explorer.plotly_light"
_component = st.components.v2.component(COMPONENT, js=_JS, isolate_styles=False)


def bundle_for(fig: go.Figure) -> Bundle | None:
    """The first of :data:`BUNDLES` that is there and has every trace of ``fig``, else None."""
    types = {trace.type for trace in fig.data}
    return next((b for b in BUNDLES if types <= b.traces and b.path.is_file()), None)


def usable(fig: go.Figure) -> Bundle | None:
    """The bundle :func:`show` would draw ``fig`` with, if it can (static serving is on and a
    bundle has its traces), else None."""
    return bundle_for(fig) if st.get_option("server.enableStaticServing") else None


def _keep_state() -> None:
    """The selection's change callback: nothing to do, but it declares the state key."""


def show(fig: go.Figure, key: str, config: dict, on_select: bool = False, spec: str | None = None,
         bundle: Bundle | None = None) -> dict:
    """Draw ``fig`` (see :func:`usable`) full width; with ``on_select`` a box or lasso selection
    reruns the script and comes back as ``{"selection": {"points": [...]}}``, as st.plotly_chart's
    event does. ``spec`` is ``fig.to_json()`` where the caller has it cached (a figure never changed);
    ``bundle``, what :func:`usable` gave, spares looking it up again."""
    bundle = bundle or bundle_for(fig)
    if bundle is None:
        raise ValueError(f"no plotly.js bundle in {STATIC} draws traces {sorted({t.type for t in fig.data})}")
    data = {"spec": fig.to_json() if spec is None else spec, "config": config, "selectable": on_select,
            "bundle": bundle.url}
    if on_select:
        result = _component(key=key, data=data, width="stretch", default={"selection": None},
                            on_selection_change=_keep_state)
    else:
        _component(key=key, data=data, width="stretch")
        result = {}
    return {"selection": result.get("selection") or {"points": [], "point_indices": []}}
