"""Compare: the unsteered and the steered answer to one question, side by side, streamed from
one batch; option probabilities against the real answers; send the pair to annotation."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages import charts, common, jobs_panel, permalink
from persona_core.llm import GenerationSettings
from persona_core.preferences.personas import induced_persona_texts
from persona_core.service import views
from persona_core.service.compare import METHODS, SteeringUnavailable
from persona_core.service.personas import (
    cohort_persona,
    describe_persona,
    persona_by_members,
    respondent_persona,
    selection_persona,
)

RESULT = "comparison"


@st.cache_data(show_spinner=False, max_entries=256)
def _description(url, run_id, kind, key, members) -> str:
    """The persona in words (cached: it scans every answer of the survey)."""
    view = common.space_view(url, run_id)
    return describe_persona(view, persona_by_members(view, kind, key, members))


def _md(text: str, streaming: bool = False) -> str:
    """Model text as markdown that keeps its line breaks (a cursor while streaming)."""
    if streaming:
        return common.literal(text) + " ▌"
    return common.literal(text) if text.strip() else "*(empty answer)*"


ctx = common.require_space()
view = ctx.view
st.title("Compare: unsteered vs steered")

# ------------------------------------------------------------------ persona
if permalink.adopt_persona("compare", view):  # ?persona=cohort:3&question=<id> opens that comparison
    st.session_state.pop(common.PERSONA, None)


def _question_id(raw: str) -> str:
    view.survey.question_index(raw)  # KeyError if unknown
    st.session_state["compare_source"] = "bank"
    return raw


permalink.adopt("compare", "question", "compare_question", _question_id)
current = st.session_state.get(common.PERSONA)
kinds = {"respondent": "Respondent", "cohort": "Cohort", "selection": "Current map selection"}
if "compare_kind" not in st.session_state:
    st.session_state["compare_kind"] = current.kind if current is not None else "cohort"
kind = st.radio("Persona", list(kinds), format_func=kinds.get, horizontal=True, key="compare_kind")
persona = None
if kind == "respondent":
    if "compare_respondent" not in st.session_state:
        st.session_state["compare_respondent"] = current.key if current is not None and current.kind == "respondent" \
            else view.survey.respondent_ids[0]
    rid = st.text_input("Respondent id", key="compare_respondent")
    try:
        persona = respondent_persona(view, rid)
    except KeyError:
        st.error(f"No respondent with id {common.literal(repr(rid.strip()))} in {common.literal(view.dataset_name)}. "
                 f"Ids look like {common.literal(', '.join(view.survey.respondent_ids[:3]))}.")
elif kind == "cohort":
    if not view.cohorts:
        st.warning("This persona space has no cohorts.")
    else:
        if st.session_state.get("compare_cohort") not in view.cohorts:
            st.session_state["compare_cohort"] = int(current.key) if current is not None and current.kind == "cohort" \
                else view.cohorts[0]
        label = st.selectbox("Cohort", view.cohorts, format_func=view.cohort_title, key="compare_cohort")
        persona = cohort_persona(view, label)
else:
    known, _ = views.resolve_ids(view, st.session_state.get(common.SELECTION) or [])
    if not known:
        st.warning("The selection is empty: select respondents with the box or lasso tool on the Opinion map first.")
    else:
        persona = selection_persona(view, known)
        st.caption(f"Centroid of the {len(known)} respondents selected on the map.")
if persona is not None and not persona.same_as(current):
    common.set_persona(persona)
    st.rerun()  # so the sidebar shows the new steering target

# ----------------------------------------------------------------- question
questions = {q.id: q for q in view.survey.questions}
source = st.radio("Question", ["bank", "free"], horizontal=True, key="compare_source",
                  format_func={"bank": "From the survey", "free": "Free text"}.get)
question = None
if source == "bank":
    qid = st.selectbox("Survey question", list(questions), key="compare_question",
                       format_func=lambda i: f"{i}: {questions[i].text[:90]}")
    question = questions[qid]
    st.markdown("**Options:** " + " · ".join(f"{chr(65 + k)}\\. {common.literal(o)}" for k, o in enumerate(question.options)))
else:
    text = st.text_area("Your question", key="compare_free", placeholder="e.g. What should the government do about crime?")
    question = text.strip() or None
    if question is None:
        st.info("Type a question, or pick one from the survey. A free-text question has no options, so "
                "there are no option probabilities for it.")

query = permalink.publish("compare", persona=permalink.persona_param(persona),
                          question=question.id if source == "bank" else None)
permalink.link(query)

real = None
if persona is not None and source == "bank":
    real = views.real_answers(view, persona.members, question.id)
    if persona.kind == "respondent":
        if real.chosen is None:
            st.caption(f"Respondent {common.literal(persona.key)} did not answer this question.")
        else:
            where = "held out from the factorization" if real.heldout else "used to fit the embedding"
            st.markdown(f"**Real answer of respondent {common.literal(persona.key)}:** {chr(65 + real.chosen)}\\. "
                        f"{common.literal(real.options[real.chosen])} *({where})*")
    elif real.n:
        st.markdown(f"**Real answers of the {len(persona.members)} members:** {real.n} answered · "
                    + " · ".join(f"{common.literal(o)} {s:.0%}" for o, s in zip(real.options, real.shares)))
    else:
        st.caption("None of the members answered this question.")

# ------------------------------------------------------------------ settings
comparer = common.selected_comparer(view.run_key)
methods = comparer.methods if comparer is not None else ["text"]
if comparer is not None and "spm" not in methods and not jobs_panel.training_notice(view.run_id):
    st.info("No steering model (SPM) is trained for this persona space yet, so the steered side is steered by "
            "describing the persona in the prompt. Train one with `python -m persona_core train` "
            "and pick it in the sidebar to steer with the persona's embedding.")
s1, s2, s3, s4 = st.columns([2, 1, 1, 1])
method = s1.radio("Steering", methods, format_func=METHODS.get, key="compare_method") if len(methods) > 1 else methods[0]
if len(methods) == 1:
    s1.markdown(f"**Steering:** {METHODS[method]}")
temperature = s2.slider("Temperature", 0.0, 1.5, 0.7, 0.05, key="compare_temperature")
max_new = s3.number_input("Max new tokens", 8, 512, 64, 8, key="compare_max_new")
seed = s4.number_input("Seed", 0, 2**31 - 1, 0, key="compare_seed")
answer_first = source == "bank" and st.toggle(
    "Start each answer with its option", value=True, key="compare_answer_first",
    help="Each side first names the option it picks from its own option probabilities (the bars below; the "
         "likeliest at temperature 0, else a draw at this temperature), then explains it. Off: the model answers "
         "in free text, and on a survey question the 135M model seldom names an option by itself.")
description = None
if persona is not None and method == "text":
    with st.expander("Persona text (what the steered side is told)"):
        induced = induced_persona_texts(ctx.url)  # SynthesizeMe personas from annotators' choices
        origin = st.selectbox("Start from", ["survey", *induced], key="compare_persona_origin",
                              format_func=lambda o: "this persona's survey answers" if o == "survey"
                              else f"persona induced from {o}'s preference pairs")
        default = (_description(ctx.url, view.run_id, persona.kind, persona.key, persona.members)
                   if origin == "survey" else induced[origin])
        description = st.text_area("Persona description", value=default, height=120,
                                   key=f"persona_text_{view.run_key}_{persona.kind}_{persona.key}_{origin}")

ready = persona is not None and question is not None and comparer is not None
clicked = st.button("Generate", type="primary", disabled=not ready, key="compare_go")
title = persona.title if persona is not None else "persona"
left, right = st.columns(2)
with left:
    st.markdown("#### Unsteered")
    box_plain = st.container(key="answer_unsteered", border=True)
with right:
    st.markdown(f"#### Steered toward {common.literal(title)}")
    box_steered = st.container(key="answer_steered", border=True)

if clicked and ready:
    settings = GenerationSettings(temperature=float(temperature), max_new_tokens=int(max_new), seed=int(seed))
    slot_a, slot_b = box_plain.empty(), box_steered.empty()

    def show(a: str, b: str) -> None:
        slot_a.markdown(_md(a, streaming=True))
        slot_b.markdown(_md(b, streaming=True))

    try:
        result = comparer.compare(question, method, persona, description, settings, on_piece=show,
                                  answer_first=answer_first)
    except (SteeringUnavailable, ValueError) as exc:
        st.error(str(exc))
        result = None
    if result is not None:
        slot_a.markdown(_md(result.unsteered))
        slot_b.markdown(_md(result.steered))
        probs = None
        if source == "bank":
            try:
                probs = comparer.option_probabilities(question, method, persona, description)
            except (SteeringUnavailable, ValueError) as exc:
                st.warning(f"No option probabilities: {exc}")
        st.session_state[RESULT] = {"result": result, "probs": probs, "real": real, "run_id": view.run_id,
                                    "options": list(question.options) if source == "bank" else None}
else:
    stored = st.session_state.get(RESULT)
    if stored is not None and stored["run_id"] == view.run_id:
        box_plain.markdown(_md(stored["result"].unsteered))
        box_steered.markdown(_md(stored["result"].steered))

stored = st.session_state.get(RESULT)
if stored is not None and stored["run_id"] == view.run_id:
    result = stored["result"]
    ttft = " · ".join(f"{side} {t:.2f} s" for side, t in zip(("unsteered", "steered"), result.first_token_s) if t is not None)
    st.caption(f"Generated in {result.total_s:.1f} s (first token: {ttft}) · {METHODS[result.method]} · "
               f"question: {common.literal(result.prompt.splitlines()[0][:80])}")
    if stored["probs"] is not None:
        plain, steered = stored["probs"]
        options = stored["options"]
        frame = pd.DataFrame({"option": [f"{chr(65 + k)}. {o}" for k, o in enumerate(options)],
                              "unsteered": plain, "steered": steered})
        groups = ("unsteered", "steered")
        real_s = stored["real"]
        if real_s is not None and real_s.n:
            frame["real answers"] = real_s.shares
            groups = groups + ("real answers",)
        charts.show(charts.paired_bars(frame, "option", groups, title="Option probabilities"), key="compare_probs")
    elif stored["options"] is None:
        st.caption("Free-text question: no options, so no option probabilities.")
    if st.button("Send to annotation", key="compare_send"):
        from persona_core.service.annotation import store_comparison

        try:
            pair_id = store_comparison(ctx.url, view.run_id, result,
                                       model=st.session_state.get(common.MODEL) or None)
            st.success(f"Stored as pair {pair_id} in the annotation queue.")
        except Exception as exc:  # noqa: BLE001 - shown, not raised
            st.error(f"Could not store the pair: {exc}")

if ready and not clicked:
    # Last in the run, once everything is drawn: run the comparison's prompt now (the persona text
    # is the costly part), so that Generate starts from the first token.
    try:
        comparer.prepare(question, method, persona, description, answer_first=answer_first)
    except (SteeringUnavailable, ValueError):
        pass  # Generate shows why
