"""Ask everyone: one question (typed or from the survey) put to every cohort at once; their
steered answer distributions side by side with the population's, the unsteered model's and the
real answers. The work happens in :mod:`persona_core.service.ask`."""
from __future__ import annotations

import streamlit as st

from app_pages import charts, common, jobs_panel
from persona_core.data.errors import DataError
from persona_core.service import ask, jobs
from persona_core.service.first_run import simulate_step, space_for_run

RESULT = "ask_result"
NUMBER = st.column_config.NumberColumn(format="%.3f")


@st.cache_data(show_spinner="Describing the cohorts…", max_entries=8)
def _descriptions(url, run_id) -> list[str]:
    """Each persona in words, for steering by text (cached: it scans every answer)."""
    view = common.space_view(url, run_id)
    return ask.text_descriptions(view, ask.cohort_personas(view))


ctx = common.require_space()
view = ctx.view
st.title("Ask everyone")
st.caption("One question put to every cohort and to the population persona (the mean of everybody's embedding): "
           "each cohort's steered answer distribution beside the others, the unsteered model's and, for a survey "
           "question, the real answers.")
if not view.cohorts:
    st.warning("This persona space has no cohorts to ask.")
    st.stop()

# ----------------------------------------------------------------- question
questions = {q.id: q for q in view.survey.questions}
source = st.radio("Question", ["survey", "typed"], horizontal=True, key="ask_source",
                  format_func={"survey": "From the survey", "typed": "Type a new one"}.get)
question: str | object | None = None
if source == "survey":
    qid = st.selectbox("Survey question", list(questions), key="ask_question",
                       format_func=lambda i: f"{i}: {questions[i].text[:90]}")
    question = qid
    q = questions[qid]
    st.markdown(f"**{common.literal(q.text)}**  \n" + " · ".join(f"{chr(65 + k)}\\. {common.literal(o)}"
                                                               for k, o in enumerate(q.options)))
else:
    text = st.text_area("Your question", key="ask_text", placeholder="e.g. Should the city build more bike lanes?")
    options = st.text_area(f"Answer options, one per line ({ask.MIN_OPTIONS}–{ask.MAX_OPTIONS})", key="ask_options",
                           placeholder="Yes\nNo")
    ordinal = st.checkbox("The options are in order (e.g. from 'much less' to 'much more')", key="ask_ordinal")
    try:
        question = ask.typed_question(text, options, ordinal)
    except ask.InvalidQuestion as exc:
        if text.strip() or options.strip():
            st.error(common.literal(str(exc)))
        else:
            st.info(f"Type a question and {ask.MIN_OPTIONS} to {ask.MAX_OPTIONS} answer options, one per line. "
                    "A new question has no real answers to compare with.")

# --------------------------------------------------------------- steering
spm_path = common.selected_spm_path()
comparer = common.selected_comparer(view.run_key)
methods = ["spm", "text"] if comparer is not None and comparer.spm is not None else ["text"]
if comparer is not None and "spm" not in methods:
    st.info("The cohorts need a steering model (SPM) to be steered by their place in the persona space, and none "
            "is selected for this space: each cohort is described in the prompt instead (text steering). Train one "
            "with `python -m persona_core train` and pick it in the sidebar.")
c1, c2 = st.columns(2)
method = c1.radio("Steering", methods, format_func=ask.METHODS.get, key="ask_method")
sorts = [s for s in ask.SORTS if s != "real" or source == "survey"]
sort = c2.radio("Sort cohorts by", sorts, format_func=ask.SORTS.get, key="ask_sort")

ready = question is not None and comparer is not None
if st.button("Ask everyone", type="primary", disabled=not ready, key="ask_go") and ready:
    n = len(view.cohorts) + 1
    bar = st.progress(0.0, text=f"Scoring {n} personas…")

    def on_progress(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Scored {done} of {total} personas")

    try:
        descriptions = _descriptions(ctx.url, view.run_id) if method == "text" else None
        result = ask.ask_everyone(view, comparer.llm.model, comparer.llm.tokenizer, question, spm=comparer.spm,
                                  method=method, descriptions=descriptions, progress=on_progress)
    except (DataError, ValueError) as exc:
        st.error(common.literal(str(exc)))
        result = None
    if result is not None:
        bar.progress(1.0, text=f"Scored {len(result.keys)} personas in {result.seconds:.1f} s")
        st.session_state[RESULT] = {"result": result, "run_id": view.run_id}

# ------------------------------------------------------------------ result
stored = st.session_state.get(RESULT)
if stored is not None and stored["run_id"] == view.run_id:
    result: ask.AskResult = stored["result"]
    by = sort if sort != "real" or result.real is not None else "steered"
    st.subheader(common.literal(result.question.text[:200]))
    st.caption(f"{ask.METHODS[result.method]} · {'survey question ' + common.literal(result.question.id) if result.in_survey else 'new question'}"
               f" · {'ordered options: distances are 1-Wasserstein' if result.question.ordinal else 'unordered options: distances are total variation'}")
    shares = result.shares(by)
    rows = [ask.UNSTEERED_TITLE] + [result.titles[i] for i in result.order(by)]
    options = list(result.question.options)
    left, right = st.columns(2)
    with left:
        charts.show(charts.stacked_shares(shares[shares["source"] == "simulated"], rows, options,
                                          result.question.ordinal, title="Simulated answers"), key="ask_simulated")
    with right:
        if result.real is None:
            st.info("A new question has no real answers: only the simulated distributions are shown.")
        else:
            charts.show(charts.stacked_shares(shares[shares["source"] == "real"], rows, options,
                                              result.question.ordinal, title="Real answers"), key="ask_real")
    table = result.table(by)
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={c: NUMBER for c in table.columns if c.startswith(("differs", "alignment"))})
    st.caption("'Differs from population' is the distance (0 = the same, 1 = as far apart as possible) between a "
               "cohort's distribution and the population's; alignment is 1 − that distance between a cohort's "
               "simulated and real distributions, shown where it has at least "
               f"{ask.MIN_ANSWERS} real answers.")


# ------------------------------------------------------------ whole survey
st.divider()
st.subheader("The whole survey, every cohort")
st.caption("Every survey question put to every cohort and the population persona by the steering model, in a "
           "background job (`python -m persona_core simulate --personas cohorts --questions all`); when it is done, "
           "how close each cohort's steered answers come to its members' real ones, against the unsteered model's.")


def _latest_simulation(url, run_id):
    found = jobs.list_jobs(url, run_id=run_id, kind="simulate", limit=1)
    return found[0] if found else None


if spm_path is None:
    st.info("Simulating the whole survey needs a steering model (SPM) for this space: pick one in the sidebar.")
elif st.button("Simulate the whole survey", key="ask_simulate", icon=":material/play_arrow:"):
    try:
        step = simulate_step(space_for_run(ctx.url, view.run_id), spm_path)
        job_id = jobs.submit(ctx.url, step.kind, step.args, label=step.label, run_id=view.run_id,
                             dedupe_key=step.dedupe_key)
    except (DataError, jobs.JobSubmitError) as exc:
        st.error(common.literal(str(exc)))
    else:
        st.success(f"Job {job_id} simulates the whole survey; follow it here or on the Jobs page.")


@st.fragment(run_every=jobs_panel.REFRESH_SECONDS)
def whole_survey_status() -> None:
    """The newest whole-survey job of this space, live; its alignment tables once it is done."""
    job = _latest_simulation(ctx.url, view.run_id)
    if job is None:
        return
    jobs_panel.job_card(job, compact=True)
    if job.status != "done":
        return
    tables = ask.simulation_tables(job.result, view)
    if tables is None:
        st.info("No survey question had enough real answers per cohort to compare with.")
        return
    per_cohort, per_question = tables
    align = job.result["alignment"]
    st.markdown(f"Over {align['pairs']} (cohort, question) pairs the steered distribution is closer to the real one "
                f"for **{align['steered_better_share']:.0%}**; mean alignment {align['steered']:.3f} steered, "
                f"{align['unsteered']:.3f} unsteered.")
    columns = {c: NUMBER for c in ("alignment steered", "alignment unsteered", "gain", "steered closer (share of pairs)")}
    by_cohort, by_question = st.tabs(["Per cohort", "Per question"])
    by_cohort.dataframe(per_cohort, hide_index=True, width="stretch", column_config=columns)
    by_question.dataframe(per_question, hide_index=True, width="stretch", column_config=columns)


whole_survey_status()
