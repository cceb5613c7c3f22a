"""Plotly figures shared by the pages (paired bars, colour maps). Presentation only."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from app_pages import common, plotly_light
from persona_core.service import views

OUTLIER_GREY = "#b8b8b8"
GROUP_COLORS = {"this group": "#1f77b4", "selection": "#1f77b4", "everybody": "#b8b8b8",
                "unsteered": "#8c8c8c", "steered": "#d62728", "real answers": "#2ca02c"}
# Plotly's modebar (shown on hover in st.plotly_chart) keeps its camera button, "Download plot as
# a png"; every chart of the app is shown through show() with this one config. typesetMath off:
# plotly.js reads any label with two "$" as TeX (GSS income options: "$20,000 to $24,999"), which
# it would typeset where a page loads MathJax and otherwise warns about on every page that shows one
PLOTLY_CONFIG = {"displaylogo": False, "displayModeBar": "hover", "typesetMath": False,
                 "toImageButtonOptions": {"format": "png", "filename": "persona-explorer", "scale": 2}}


SVG_MAX_POINTS = 5_000


def scatter_render_mode(n_points: int) -> str:
    """"svg" up to :data:`SVG_MAX_POINTS` points, "webgl" above. Headless Chromium draws WebGL in
    software: on GSS 2016 (2,867 points) the switch to the map took p50/p95 0.97/1.80 s with
    WebGL and 0.73/0.92 s with SVG (bench/app.py); past a few thousand points SVG slows down and
    WebGL keeps the map interactive (100k points: bench/map_scale.py)."""
    return "svg" if n_points <= SVG_MAX_POINTS else "webgl"


MAP_HEIGHT = 620
MARKER_SIZE = 6  # px, up to SVG_MAX_POINTS points
MIN_MARKER_SIZE = 3


def marker_size(n_points: int) -> int:
    """The map's marker size: :data:`MARKER_SIZE` up to :data:`SVG_MAX_POINTS` points, then
    shrinking so the points cover about the same area (size ~ 1/sqrt(n)), down to
    :data:`MIN_MARKER_SIZE` (from about 15,000 points). Where the points overlap anyway, smaller ones
    show the density better. And in software WebGL (headless Chromium), where Plotly redraws every
    point at each mouse move of a lasso, the cost follows the pixels drawn: at 100,000 points a
    lasso's drag took 11.4 s with size 3 against 20.0 s with 6 (0.57x; opening the map took the
    same time, 3.53 against 3.43 s p50; interleaved runs, see the closing note of stop 33)."""
    if n_points <= SVG_MAX_POINTS:
        return MARKER_SIZE
    return max(MIN_MARKER_SIZE, round(MARKER_SIZE * math.sqrt(SVG_MAX_POINTS / n_points)))


def map_figure(view, data: pd.DataFrame, color: views.ColorChoice, highlight: str | None = None) -> go.Figure:
    """The opinion map: every respondent of ``data`` (:func:`views.map_frame`) coloured by
    ``color``, faded by cohort membership when coloured by cohort; ``highlight`` (an id) starred."""
    hover = views.key_attributes(view)
    order = views.color_order(view, color)
    numeric = color.kind == "attribute" and views.is_numeric_attribute(view, color.key)
    colors = cohort_colors(view) if color.kind == "cohort" else answer_colors(order)
    # Every point's hover data travels as JSON: the cohort there is its tag ("Cohort 2"; the legend has
    # the titles), and the colour is left to the trace's name (one per trace, not one per point); this
    # cut the map's figure from 689 to 278 KB on GSS 2016.
    # Plotly reads <b>, <a href> ... in labels as markup: plot escaped text (ids stay as they are: selections read them)
    # Positions as float32 and membership to the 2 decimals the hover shows: at 100,000 points the
    # figure's JSON fell from 7.1 MB (bench/app.py --only map on a synthetic survey)
    points = data.assign(cohort=[view.cohort_tag(int(c)) for c in data["cohort_label"]], strength=data["strength"].round(2),
                         x=data["x"].astype("float32"), y=data["y"].astype("float32"))
    render_mode = scatter_render_mode(len(points))
    fig = px.scatter(
        plain_frame(points, keep=("id",)), x="x", y="y", color="color", custom_data=["id", "strength"], render_mode=render_mode,
        hover_data={"x": False, "y": False, "id": True, "cohort": True, "strength": ":.2f", **{h: True for h in hover}},
        category_orders={"color": [plain(o) for o in order]} if order else None,
        color_discrete_map={plain(k): v for k, v in colors.items()} if colors else None,
        color_continuous_scale="Viridis" if numeric else None,
        labels={"color": plain(color.label), "strength": "membership"},
    )
    fig.update_traces(marker={"size": marker_size(len(points)), "opacity": 0.8})
    if color.kind == "cohort":  # faded by membership strength (one opacity per point)
        for trace in fig.data:
            trace.marker.opacity = [round(views.MIN_OPACITY + (1 - views.MIN_OPACITY) * float(c[1]), 2) for c in trace.customdata]
    if highlight is not None:
        row = data[data["id"] == highlight].iloc[0]
        fig.add_trace((go.Scattergl if render_mode == "webgl" else go.Scatter)(
            x=[row.x], y=[row.y], mode="markers+text", text=[f"  {plain(highlight)}"], textposition="middle right",
            marker={"size": 18, "symbol": "star", "color": "#d62728", "line": {"width": 1, "color": "black"}},
            name=f"respondent {plain(highlight)}", customdata=[[highlight]], hoverinfo="skip"))
    # legend symbols at a readable size, however small the map's markers (marker_size)
    fig.update_layout(height=MAP_HEIGHT, margin={"l": 10, "r": 10, "t": 10, "b": 10}, dragmode="lasso",
                      legend_itemsizing="constant",
                      legend_title_text=plain(color.label), xaxis={"visible": False}, yaxis={"visible": False})
    return fig


def show(fig: go.Figure, key: str, light: bool = True, spec: str | None = None, **kwargs):
    """A Plotly chart with the app's config (image export on every chart), full width unless
    ``width`` is given; returns the selection with ``on_select`` (``{"selection": {"points": ...}}``).
    Drawn with a plotly.js partial bundle (:mod:`app_pages.plotly_light`, about 0.5 s faster to
    open) where the figure allows it and ``light`` is left on, else by ``st.plotly_chart``;
    ``spec``, ``fig.to_json()`` cached by the caller, spares the light chart serialising it again."""
    config = {**PLOTLY_CONFIG, "toImageButtonOptions": {**PLOTLY_CONFIG["toImageButtonOptions"], "filename": f"persona-explorer-{key}"}}
    bundle = plotly_light.usable(fig) if light else None
    if bundle is not None:
        return plotly_light.show(fig, key=key, config=config, on_select=kwargs.get("on_select", "ignore") != "ignore",
                                 spec=spec, bundle=bundle)
    kwargs.setdefault("width", "stretch")
    return st.plotly_chart(fig, key=key, config=config, **kwargs)


def plain(text):
    """A label from data files as Plotly shows it: Plotly reads <b>, <i>, <br>, <a href> ... in every
    title, legend entry, tick and hover label as markup, so & < > become entities (which it shows as
    the characters they are). Anything but a string is returned as it is."""
    if not isinstance(text, str):
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain_frame(frame: pd.DataFrame, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """``frame`` with the text of every string or categorical column but ``keep`` passed through
    :func:`plain` (for a Plotly Express figure; ``keep`` the columns read back, e.g. ids)."""
    out = frame.copy()
    for col in out.columns:
        if col in keep:
            continue
        values = out[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            out[col] = values.cat.rename_categories([plain(c) for c in values.cat.categories])
        elif values.dtype == object or pd.api.types.is_string_dtype(values):
            out[col] = values.map(plain)
    return out


def cohort_colors(view) -> dict[str, str]:
    """Cohort title -> colour, outliers grey."""
    palette = px.colors.qualitative.Bold + px.colors.qualitative.Safe + px.colors.qualitative.Vivid
    colors = {view.cohort_title(c): palette[i % len(palette)] for i, c in enumerate(view.cohorts)}
    colors[view.cohort_title(-1)] = OUTLIER_GREY
    return colors


def answer_colors(order: list[str] | None) -> dict[str, str] | None:
    """Option -> colour on a diverging scale (ordered options), '(no answer)' light grey."""
    if not order:
        return None
    options = [o for o in order if o != "(no answer)"]
    scale = px.colors.sample_colorscale("RdYlBu", [i / max(len(options) - 1, 1) for i in range(len(options))])
    colors = dict(zip(options, scale))
    colors["(no answer)"] = "#e4e4e4"
    return colors


def paired_bar_traces(frame: pd.DataFrame, category: str, groups: tuple[str, ...], percent: bool = True,
                      **bar) -> list[go.Bar]:
    """One horizontal bar trace per share column of ``groups`` (``bar``: more go.Bar settings)."""
    return [go.Bar(y=[plain(v) for v in frame[category]], x=frame[g], name=g, orientation="h",
                   marker_color=GROUP_COLORS.get(g), text=[f"{v:.0%}" if percent else f"{v:.2f}" for v in frame[g]],
                   textposition="outside", cliponaxis=False, **bar) for g in groups]


def paired_bars(frame: pd.DataFrame, category: str, groups: tuple[str, ...], title: str = "",
                height: int = 300, percent: bool = True) -> go.Figure:
    """Horizontal bars of several share columns (``groups``) side by side per ``category``."""
    fig = go.Figure(paired_bar_traces(frame, category, groups, percent))
    fig.update_layout(barmode="group", title=plain(title) or None, height=max(height, 60 + 28 * len(frame) * len(groups)),
                      margin={"l": 10, "r": 40, "t": 40 if title else 10, "b": 10},
                      yaxis={"autorange": "reversed"}, xaxis={"tickformat": ".0%" if percent else None},
                      legend={"orientation": "h", "y": -0.15})
    return fig


def similarity_tiles(names: list[str], sim: np.ndarray, title: str = "", height: int = 320) -> go.Figure:
    """A heatmap of the square matrix ``sim`` (values in [-1, 1]; rows and columns ``names``, the
    first row on top): one bar per cell, from its row's index to the next, coloured here on the RdBu
    scale, the values as a text trace, and the colour bar drawn by one invisible marker. A
    ``go.Heatmap`` needs Streamlit's whole plotly.js (4.7 MB): the Cohorts page's first visit took
    2.1-2.5 s with it and 1.3-1.5 s with these tiles in the basic bundle (1.2 MB, the one every
    other chart uses; ``bench/app.py --only switch``, GSS 2016, headless Chromium). The values as
    the bars' own inside text took longer (Plotly fits each text into its bar). Bars coloured by
    number on a colour scale drew the same, but plotly.js 4.1.1 first reads each bar's number as a
    colour and logs two stack-traced warnings per bar (242 at 11 cohorts): drawing took 330 ms
    against 250 ms with the colours given (p50 of 14 opens each, scratch, headless Chromium)."""
    shown = [plain(n) for n in names]
    values = np.asarray(sim, dtype=float)
    cells = [(i, j) for i in range(len(names)) for j in range(len(names))]
    columns, rows = [shown[j] for _, j in cells], [i for i, _ in cells]
    flat = [float(values[i, j]) for i, j in cells]
    scale = {"colorscale": "RdBu", "cmin": -1, "cmax": 1}
    fig = go.Figure([
        go.Bar(x=columns, y=[1] * len(cells), base=rows, customdata=[[shown[i], v] for (i, _), v in zip(cells, flat)],
               marker={"color": px.colors.sample_colorscale(scale["colorscale"], [(min(max(v, -1.0), 1.0) + 1) / 2 for v in flat]),
                       "line": {"width": 1, "color": "white"}},
               hovertemplate="%{customdata[0]} · %{x}: %{customdata[1]:.2f}<extra></extra>"),
        go.Scatter(x=columns, y=[i + 0.5 for i in rows], mode="text", text=[f"{v:.2f}" for v in flat],
                   textfont={"size": 10, "color": ["white" if abs(v) > 0.55 else "#262730" for v in flat]},
                   hoverinfo="skip"),
        go.Scatter(x=shown[:1], y=[0.5], mode="markers", hoverinfo="skip",  # the colour bar
                   marker={"color": [0.0], "opacity": 0, "showscale": True, "colorbar": {"thickness": 12}, **scale}),
    ])
    fig.update_layout(title=plain(title) or None, height=height, bargap=0, barmode="overlay", showlegend=False,
                      margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
                      xaxis={"type": "category", "categoryorder": "array", "categoryarray": shown, "showgrid": False},
                      yaxis={"range": [len(names), 0], "tickvals": [i + 0.5 for i in range(len(names))],
                             "ticktext": shown, "showgrid": False, "zeroline": False})
    return fig


def longest_label(frame: pd.DataFrame, category: str) -> int:
    """Characters in the longest ``category`` value of ``frame``."""
    return max((len(str(v)) for v in frame[category]), default=0)


def paired_bars_grid(panels: list[tuple[str, pd.DataFrame]], category: str, groups: tuple[str, ...],
                     cols: int = 1, min_height: int = 220, width_px: int = 870) -> go.Figure:
    """Several :func:`paired_bars` panels (title, frame) in one figure, ``cols`` to a row: one
    Plotly chart draws in the browser much faster than one chart per panel. The gap between columns
    is sized for the longest category label (``width_px``: the chart's expected width), so keep
    panels with long labels for a one-column grid."""
    from plotly.subplots import make_subplots

    cols = max(1, min(cols, len(panels)))
    rows_of = [panels[i:i + cols] for i in range(0, len(panels), cols)]
    row_px = [max(min_height, max(60 + 28 * len(f) * len(groups) for _, f in row)) for row in rows_of]
    plot_px, gap = sum(row_px), 50
    label_px = 40 + 6.5 * max(longest_label(f, category) for _, f in panels)
    fig = make_subplots(rows=len(rows_of), cols=cols, subplot_titles=[plain(t) for t, _ in panels],
                        row_heights=row_px, vertical_spacing=min(0.3, gap / plot_px) if len(rows_of) > 1 else 0.0,
                        horizontal_spacing=min(0.4, label_px / width_px) if cols > 1 else 0.02)
    for i, (_, frame) in enumerate(panels):
        r, c = i // cols + 1, i % cols + 1
        for trace in paired_bar_traces(frame, category, groups, showlegend=i == 0):
            fig.add_trace(trace.update(legendgroup=trace.name), row=r, col=c)
        fig.update_yaxes(autorange="reversed", automargin=True, row=r, col=c)
        fig.update_xaxes(tickformat=".0%", row=r, col=c)
    plot_px += gap * (len(rows_of) - 1)
    fig.update_layout(barmode="group", height=plot_px + 90, margin={"l": 10, "r": 40, "t": 80, "b": 10},
                      legend={"orientation": "h", "x": 0, "y": 1 + 45 / plot_px, "yanchor": "bottom"})
    return fig


@st.cache_resource(show_spinner=False, max_entries=128)
def paired_bars_chart(panels: tuple[tuple[str, pd.DataFrame], ...], category: str, groups: tuple[str, ...],
                      cols: int = 1) -> tuple[go.Figure, str]:
    """:func:`paired_bars_grid`'s figure and its Plotly JSON, built once per content and shared by
    every session (never changed after): building them was most of a Cohorts page's script run
    (0.28-0.44 s a run in AppTest before, 0.14-0.26 s after)."""
    fig = paired_bars_grid(list(panels), category, groups, cols=cols)
    return fig, fig.to_json()


def show_paired_bars(panels: list[tuple[str, pd.DataFrame]], category: str, key: str, cols: int = 1) -> None:
    """A group's shares against everybody's, one panel per (title, frame), from the cache."""
    fig, spec = paired_bars_chart(tuple(panels), category, ("this group", "everybody"), cols)
    show(fig, key=key, spec=spec)


def show_opinions(frame: pd.DataFrame, key: str, max_questions: int = 6) -> None:
    """Paired bars (group vs everybody) for each distinctive question, in one chart."""
    panels = []
    for qid, part in frame.groupby("question_id", sort=False):
        if len(panels) >= max_questions:
            break
        wide = part.pivot_table(index="option", columns="group", values="share", sort=False).reset_index()
        panels.append((f"{qid}: {part['question'].iloc[0]}", wide))
    if panels:
        show_paired_bars(panels, "option", key)


def show_demographics(categorical: pd.DataFrame, numeric: pd.DataFrame, key: str, top: int = 6) -> None:
    """Paired bars of the ``top`` categorical attributes where the group differs most from
    everybody (two to a row in one chart, those with long values in a second), more on request,
    and a table of the numeric ones. Fewer panels draw much faster: 20 panels took ~0.6 s of a
    page switch in Chromium."""
    ranked = views.demographic_panels(categorical)
    if ranked:
        rest = [attr for attr, _ in ranked[top:]]
        if rest:
            st.caption(f"The {top} of {len(ranked)} attributes where the group differs most from everybody "
                       "(total variation distance); add others below the chart.")
        charts_area = st.container()
        more = st.multiselect("More attributes", rest, key=f"{key}_more") if rest else []
        panels = ranked[:top] + [(attr, frame) for attr, frame in ranked[top:] if attr in more]
        # attributes with long values (over 28 characters) get full-width rows, in a second chart
        is_long = [longest_label(frame, "value") > 28 for _, frame in panels]
        short = [p for p, too_long in zip(panels, is_long) if not too_long]
        long = [p for p, too_long in zip(panels, is_long) if too_long]
        with charts_area:
            if short:
                show_paired_bars(short, "value", key, cols=2)
            if long:
                show_paired_bars(long, "value", f"{key}_long")
    if not numeric.empty:
        common.literal_table(numeric.set_index("attribute"))
    if not ranked and numeric.empty:
        st.caption("This survey has no respondent attributes.")


def stacked_shares(frame: pd.DataFrame, rows: list[str], options: list[str], ordinal: bool, title: str = "") -> go.Figure:
    """One horizontal 100 % bar per row (``frame``: ``persona``, ``option``, ``share``), segments
    in option order; ``rows`` fixes the bar order (rows missing from ``frame`` stay as gaps, so
    two such figures side by side line up)."""
    palette = answer_colors(options) if ordinal else dict(zip(options, px.colors.qualitative.Safe * 3))
    fig = go.Figure(go.Bar(y=[plain(r) for r in rows], x=[0.0] * len(rows), orientation="h", showlegend=False,
                           hoverinfo="skip", marker_color="rgba(0,0,0,0)"))  # every row on the axis, even without bars
    for option in options:
        part = frame[frame["option"] == option]
        fig.add_trace(go.Bar(y=[plain(v) for v in part["persona"]], x=part["share"], name=plain(option), orientation="h",
                             marker_color=palette.get(option), text=[f"{v:.0%}" if v >= 0.08 else "" for v in part["share"]],
                             textposition="inside", insidetextanchor="middle", hovertemplate="%{y}: %{x:.1%}"))
    fig.update_layout(barmode="stack", title=plain(title) or None, height=90 + 34 * len(rows),
                      margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
                      xaxis={"tickformat": ".0%", "range": [0, 1]},
                      yaxis={"categoryorder": "array", "categoryarray": [plain(r) for r in rows], "autorange": "reversed"},
                      legend={"orientation": "h", "y": -0.12, "traceorder": "normal"})
    return fig
