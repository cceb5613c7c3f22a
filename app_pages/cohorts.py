"""Cohorts: size and label of each, its most distinctive opinions and demographic make-up
against everybody, a similarity view of the cohort centroids, and "steer toward this cohort"."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app_pages import charts, common, permalink
from persona_core.service import exports, views
from persona_core.service.personas import cohort_persona

ctx = common.require_space()
view = ctx.view
st.title("Cohorts")
table = views.cohort_table(view)
if not view.cohorts:
    st.warning("HDBSCAN found no cohorts in this persona space: every respondent is an outlier. "
               "Rebuild with a smaller min_cluster_size (SpaceConfig.cohorts) to get cohorts.")
    st.stop()

left, right = st.columns([3, 2])
with left:
    st.dataframe(table.assign(share=(table["share"] * 100).round(1)).rename(columns={"share": "share %"}),
                 hide_index=True, width="stretch")
with right:
    labels, sim = views.cohort_similarity(view)
    if len(labels) >= 2:
        names = [f"Cohort {c}" for c in labels]
        fig = go.Figure(go.Heatmap(z=sim, x=names, y=names, colorscale="RdBu", zmid=0, zmin=-1, zmax=1,
                                   text=[[f"{v:.2f}" for v in row] for row in sim], texttemplate="%{text}"))
        fig.update_layout(title="Centroid similarity (cosine)", height=320,
                          margin={"l": 10, "r": 10, "t": 40, "b": 10}, yaxis={"autorange": "reversed"})
        charts.show(fig, key="cohort_similarity")

options = view.cohorts


def _cohort(raw: str) -> int:
    label = int(raw)
    if label not in options:
        raise KeyError(label)
    return label


if not permalink.adopt("cohorts", "cohort", "cohort_pick", _cohort) and st.query_params.get("cohort") not in (
        None, str(st.session_state.get("cohort_pick"))):
    st.warning(f"No cohort {common.literal(st.query_params['cohort'])} in this persona space; showing another.")
default = st.session_state.get("cohort_pick")
if default not in options:
    st.session_state["cohort_pick"] = options[0]
label = st.selectbox("Cohort", options, format_func=view.cohort_title, key="cohort_pick")
query = permalink.publish("cohorts", cohort=label)
profile = view.profiles.get(label, {})
members = view.members(label)
a, b, c = st.columns([1, 1, 2])
a.metric("Size", len(members))
b.metric("Share of respondents", f"{len(members) / view.survey.n_respondents:.1%}")
with c:
    if st.button("Steer toward this cohort", type="primary", key="steer_cohort",
                 on_click=common.set_persona, args=(cohort_persona(view, label),)):
        st.success(f"Persona set to {common.literal(view.cohort_title(label))}; open Compare to generate.")
    d1, d2 = st.columns([1, 1])
    with d1:
        st.download_button("Download the profile (CSV)", data=exports.cohort_profile_csv(view, label), on_click="ignore",
                           file_name=f"{view.dataset_name}-run{view.run_id}-cohort{label}.csv", mime="text/csv",
                           key="cohort_download", icon=":material/download:")
    with d2:
        permalink.link(query)

st.subheader("Most distinctive opinions (this cohort vs everybody)")
distinctive = profile.get("distinctive_questions") or []
if distinctive:
    charts.show_opinions(views.opinion_frame(distinctive), key=f"coh{label}_op")
else:
    st.caption("No question has enough answers from this cohort to compare.")
st.subheader("Demographic make-up (this cohort vs everybody)")
cat, num = views.demographics_frame(profile.get("demographics") or {})
charts.show_demographics(cat, num, key=f"coh{label}_demo")
