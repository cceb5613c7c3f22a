"""Cohorts: size and label of each, optional LLM-written names beside their evidence, its most
distinctive opinions and demographic make-up against everybody, a similarity view of the cohort
centroids, and "steer toward this cohort"."""
from __future__ import annotations

import streamlit as st

from app_pages import charts, common, permalink
from persona_core.service import cohort_names, exports, views
from persona_core.service.personas import cohort_persona

ctx = common.require_space()
view = ctx.view
st.title("Cohorts")
model = st.session_state.get(common.MODEL) or None
llm_names = cohort_names.stored(ctx.url, view.run_id, model)
table = views.cohort_table(view, {c: rec.name for c, rec in llm_names.items()} if llm_names else None)
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
        fig = charts.similarity_tiles([f"Cohort {c}" for c in labels], sim, title="Centroid similarity (cosine)")
        charts.show(fig, key="cohort_similarity")

with st.expander("Cohort names written by the language model", expanded=not llm_names):
    st.caption("Optional. The language model names each cohort from its three most distinctive answers, shown "
               "beside each name. The default model (SmolLM2-135M) is small, so read every name against its "
               "evidence. A reply that is no name (a copied answer, a sentence), a name two cohorts got, and a name "
               "the model itself reads as another cohort's are left out; the answer-based label stays. Names are "
               "stored, so this runs once per model.")
    if [c for c in view.cohorts if c not in llm_names] and st.button("Name the cohorts with the LLM", key="name_cohorts"):
        bar = st.progress(0.0, text="Loading the language model…")
        cohort_names.ensure(ctx.url, view, lambda: common.language_model(model), model,
                            progress=lambda done, total: bar.progress(done / total, text=f"Named {done} of {total} cohorts"))
        st.rerun()
    if llm_names:
        st.caption(f"{sum(r.name is not None for r in llm_names.values())} of {len(view.cohorts)} cohorts have a name "
                   f"from {common.literal(cohort_names.model_key(model))}.")

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
named = llm_names.get(label)
if named is not None:
    if named.name:
        st.markdown(f"**LLM name:** {common.literal(named.name)}")
    else:
        st.markdown(f"**LLM name:** none, {common.literal(named.reason)} (the model wrote: "
                    f"{common.literal(named.raw or 'nothing')})")
    st.caption("Written from: " + common.literal(" · ".join(named.evidence)))
a, b, c = st.columns([1, 1, 2])
a.metric("Size", len(members))
b.metric("Share of respondents", f"{len(members) / view.survey.n_respondents:.1%}")
with c:
    if st.button("Steer toward this cohort", type="primary", key="steer_cohort",
                 on_click=common.set_persona, args=(cohort_persona(view, label),)):
        st.success(f"Persona set to {common.literal(view.cohort_title(label))}; open Compare to generate.")
    d1, d2 = st.columns([1, 1])
    with d1:
        st.download_button("Download the profile (CSV)", data=lambda: exports.cohort_profile_csv(view, label),
                           on_click="ignore", file_name=f"{view.dataset_name}-run{view.run_id}-cohort{label}.csv", mime="text/csv",
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
