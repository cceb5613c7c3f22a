"""Evaluation: the stored evaluation runs of the current embedding run, so a user sees whether
steering works: methods table, accuracy by method, per-cohort alignment."""
from __future__ import annotations

import plotly.express as px
import streamlit as st

from app_pages import charts, common
from persona_core.service import evaluation

ctx = common.require_space()
view = ctx.view
st.title("Evaluation")
try:
    runs = evaluation.list_evaluations(ctx.url, run_id=view.run_id)
except Exception as exc:  # noqa: BLE001
    st.error(f"Cannot read the evaluation runs: {exc}")
    st.stop()
if not runs:
    st.info(f"No evaluation is stored for embedding run {view.run_id} of {common.literal(view.dataset_name)} yet. "
            "Run `python -m persona_core eval` (after `python -m persona_core train`): it scores the unsteered "
            "model, the prompting baselines, a shared soft prompt, the SPM and the collaborative-filtering "
            "predictor on the same held-out answers and stores the results here.")
    st.stop()

labels = {r.id: f"Evaluation {r.id} · {r.model_name} · {r.created_at:%Y-%m-%d %H:%M}" for r in runs}
chosen = st.selectbox("Evaluation run", list(labels), format_func=labels.get, key="eval_run")
run = next(r for r in runs if r.id == chosen)
results = run.results
facts = evaluation.headline(results)
cols = st.columns(4)
for col, (key, title) in zip(cols, [("spm_relative_improvement", "SPM vs best baseline"), ("n_respondents", "Respondents"),
                                    ("n_heldout", "Held-out answers")]):
    if key in facts:
        value = facts[key]
        col.metric(title, f"{value:+.1%}" if key == "spm_relative_improvement" else f"{value:,}")
cols[3].caption(f"Checkpoint: {run.checkpoint or '—'}")

methods = evaluation.methods_frame(results)
if methods.empty:
    st.warning("This evaluation run holds no per-method results.")
else:
    st.subheader("Methods")
    st.dataframe(methods, hide_index=True, width="stretch")
    if "accuracy" in methods:
        errors = {}
        if "accuracy_ci95_low" in methods:  # 95 % bootstrap interval over respondents
            methods = methods.assign(ci_plus=methods["accuracy_ci95_high"] - methods["accuracy"],
                                     ci_minus=methods["accuracy"] - methods["accuracy_ci95_low"])
            errors = {"error_x": "ci_plus", "error_x_minus": "ci_minus"}
        fig = px.bar(methods, x="accuracy", y="description", orientation="h", text=methods["accuracy"].map("{:.1%}".format),
                     color="method", labels={"description": "", "accuracy": "accuracy (per respondent, averaged)"}, **errors)
        fig.update_layout(showlegend=False, height=80 + 40 * len(methods), margin={"l": 10, "r": 30, "t": 10, "b": 10},
                          xaxis={"tickformat": ".0%"}, yaxis={"autorange": "reversed"})
        charts.show(fig, key="eval_accuracy")

align = evaluation.alignment_frame(results)
st.subheader("Per-cohort alignment")
if align.empty:
    st.caption("This run stores no cohort alignment.")
else:
    st.caption("1 − Wasserstein distance (ordered options) or 1 − total variation between the model's option "
               "distribution and the cohort's real answers; 1 is perfect.")
    fig = px.bar(align, x="cohort", y="alignment", color="method", barmode="group", hover_data=["n_answers"])
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis={"range": [0, 1]})
    charts.show(fig, key="eval_alignment")
with st.expander("Raw results (JSON)"):
    st.json(results, expanded=False)
