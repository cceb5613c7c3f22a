"""Opinion map: every respondent on the 2-D map, coloured by cohort, attribute or answer;
box/lasso selection with a summary; search by id; steer toward a selection."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app_pages import common, charts, permalink
from persona_core.service import exports, views
from persona_core.service.personas import respondent_persona, selection_persona

ctx = common.require_space()
view = ctx.view
st.title("Opinion map")
st.caption(
    f"{view.survey.n_respondents} respondents of {common.literal(view.dataset_name)}, placed by their answers "
    f"(UMAP of the persona embeddings); {len(view.cohorts)} cohorts, each point faded by how strongly it belongs. "
    "Draw a box or lasso around respondents to select them."
)


@st.cache_data(show_spinner=False, max_entries=32)
def frame(url, run_id, kind, key, outliers):
    return views.map_frame(common.space_view(url, run_id), views.ColorChoice(kind, key), outlier_strategy=outliers)


@st.cache_resource(show_spinner=False, max_entries=32)
def figure(url, run_id, kind, key, outliers, highlight) -> tuple[go.Figure, str]:
    """The map's figure and its Plotly JSON, built once per choice and shared by every session
    (never changed after): Plotly Express took 50 of the script's 60 ms on GSS 2016, and the
    JSON 0.34 s a run at 100,000 points, before the chart could be sent."""
    fig = charts.map_figure(common.space_view(url, run_id), frame(url, run_id, kind, key, outliers),
                            views.ColorChoice(kind, key), highlight)
    return fig, fig.to_json()


permalink.adopt("map", "respondent", "map_search")  # ?respondent=<id> opens that respondent
choices = views.color_choices(view)
by_label = {c.label: c for c in choices}
left, right = st.columns([2, 1])
with left:
    picked = st.selectbox("Colour by", list(by_label), key="map_color",
                          help="Cohort, any respondent attribute, or the answer to any question")
with right:
    search = st.text_input("Find respondent by id", key="map_search", placeholder="e.g. " + view.survey.respondent_ids[0])

color = by_label[picked]
outliers = None
if color.kind == "cohort":
    outliers = st.radio("HDBSCAN's outliers", list(views.OUTLIER_LABELS), format_func=views.OUTLIER_LABELS.get,
                        horizontal=True, key="map_outliers",
                        help="Respondents HDBSCAN leaves out of every cohort: shown in their most likely cohort, "
                             "the nearest cohort centroid's, or grey. Points are faded by how strongly they belong.")
data = frame(ctx.url, view.run_id, color.kind, color.key, outliers)
highlight = None
if search.strip():
    try:
        highlight = view.survey.respondent_ids[view.respondent_index(search)]
    except KeyError:
        st.warning(f"No respondent with id {common.literal(repr(search.strip()))} in {common.literal(view.dataset_name)}.")
query = permalink.publish("map", respondent=highlight)

hover = views.key_attributes(view)
fig, spec = figure(ctx.url, view.run_id, color.kind, color.key, outliers, highlight)
event = charts.show(fig, key="map_chart", spec=spec, on_select="rerun", selection_mode=("box", "lasso"))
st.download_button("Download the points (CSV)", data=lambda: exports.map_points_csv(view), on_click="ignore",
                   file_name=f"{view.dataset_name}-run{view.run_id}-points.csv", mime="text/csv", key="map_download",
                   icon=":material/download:", help="Every respondent: id, map position, cohort and attributes")

points = (event or {}).get("selection", {}).get("points", []) if event else []
ids = [p["customdata"][0] for p in points if p.get("customdata")]
if ids != st.session_state.get("_map_points_seen", []):  # a new selection on the chart (or a cleared one)
    st.session_state["_map_points_seen"] = ids
    st.session_state[common.SELECTION] = ids
if highlight is not None:
    i = view.respondent_index(highlight)
    st.subheader(f"Respondent {common.literal(highlight)}")
    st.markdown(f"{common.literal(view.cohort_title(int(view.cohort_labels[i])))} · most likely cohort {int(view.likely_cohorts[i])}")
    st.dataframe(view.survey.attributes.iloc[[i]], width="stretch")
    permalink.link(query)
    if st.button(f"Steer toward respondent {common.literal(highlight)}", key="steer_respondent",
                 on_click=common.set_persona, args=(respondent_persona(view, highlight),)):
        st.success(f"Persona set to respondent {common.literal(highlight)}; open Compare to generate.")

selected = st.session_state.get(common.SELECTION) or []
st.subheader("Selection")
if not selected:
    st.info("No respondents selected. Use the box or lasso tool on the map to select some.")
    st.stop()
known, unknown = views.resolve_ids(view, selected)
if not known:
    st.warning("The selection holds no respondents of this embedding run; select again.")
    st.stop()
summary = views.selection_summary(view, known)
c1, c2 = st.columns([1, 1])
with c1:
    st.metric("Selected respondents", len(summary.ids))
    if st.button("Steer toward this selection", type="primary", key="steer_selection",
                 on_click=common.set_persona, args=(selection_persona(view, summary.ids),)):
        st.success(f"Persona set to the centroid of {len(summary.ids)} respondents; open Compare to generate.")
    if st.button("Clear selection", key="clear_selection"):
        st.session_state.pop(common.SELECTION, None)
        st.rerun()
with c2:
    charts.show(charts.paired_bars(summary.cohort_mix.rename(columns={"share_selected": "selection",
                                                                           "share_everybody": "everybody"}),
                                       category="cohort", groups=("selection", "everybody"), title="Cohort mix"),
                    width="stretch", key="mix_chart")
with st.expander(f"Selected respondents ({len(summary.ids)})"):
    st.dataframe(data.set_index("id").loc[summary.ids, ["cohort", *hover]], width="stretch")
cat, num = views.demographics_frame(summary.demographics)
st.markdown("**Attributes: selection vs everybody**")
charts.show_demographics(cat, num, key="sel_demo")
if summary.distinctive:
    st.markdown("**Most distinctive answers of the selection**")
    charts.show_opinions(views.opinion_frame(summary.distinctive), key="sel_op")
