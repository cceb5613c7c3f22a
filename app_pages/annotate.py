"""Annotate: preference pairs shown blind (random left/right order, nothing telling which side is
steered); A better / B better / tie / both bad, an optional rationale, keyboard shortcuts,
progress, undo; the annotator's induced persona and the statistics. The work happens in
:mod:`persona_core.preferences`; the database is reached through
:mod:`persona_core.service.annotation`."""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from app_pages import common
from persona_core.preferences import order as blind
from persona_core.preferences import store
from persona_core.preferences.personas import induced_persona_text
from persona_core.service import annotation

ANNOTATOR = "annotator"  # session_state keys
CURRENT = "annotate_current"  # {"pair_id", "order", "token", "shown_at"} of the pair on screen
SKIPPED = "annotate_skipped"
MESSAGE = "annotate_message"
CHOICE, RATIONALE = "annotate_choice", "annotate_rationale"
LABELS = {"left": "1 · A is better", "right": "2 · B is better", "tie": "3 · Tie", "both_bad": "4 · Both bad"}

KEYS_JS = """
<script>
(() => {  // runs in the app's document on every rerun: no globals but the one handler
const doc = window.parent.document;
const click = (selector) => { const el = doc.querySelector(selector); if (el && !el.disabled) { el.click(); return true; } return false; };
const typing = (t) => t && (t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT'
  || (t.tagName === 'INPUT' && !['radio', 'checkbox', 'button', 'submit'].includes((t.type || '').toLowerCase())));
const handler = (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
  if (e.key === 'Enter' && e.target && e.target.tagName === 'BUTTON') return;  // the focused button clicks itself
  if (!doc.querySelector('.st-key-annotate_submit')) return;  // another page
  let done = false;
  if (['1', '2', '3', '4'].includes(e.key)) {
    const options = doc.querySelectorAll('.st-key-annotate_choice [role="radiogroup"] label');
    if (options.length >= +e.key) {
      options[+e.key - 1].click();
      if (doc.activeElement) doc.activeElement.blur();  // keep focus off the radio (it would take Enter)
      done = true;
    }
  } else if (e.key === 'Enter') {
    done = click('.st-key-annotate_submit button');
  } else if (e.key === 's' || e.key === 'S') {
    done = click('.st-key-annotate_skip button');
  }
  if (done) e.preventDefault();
};
// one listener on the app's document; each rerun's script replaces the previous one
// capture phase: widgets that stop a key's propagation (the radio takes Enter) do not swallow it
if (doc.__annotateKeys) doc.removeEventListener('keydown', doc.__annotateKeys, true);
doc.__annotateKeys = handler;
doc.addEventListener('keydown', handler, true);
})();
</script>
"""


@st.cache_resource(show_spinner=False)
def _migrated(url: str | None) -> str:
    """Create the annotation tables if this database has not got them yet (once per URL)."""
    return annotation.prepare_database(url)


# ------------------------------------------------------------------ callbacks
def _show(pair_id: int, order: str | None = None) -> None:
    """Put ``pair_id`` on screen: a fresh random order (kept across reruns) and submission token."""
    st.session_state[CURRENT] = {"pair_id": pair_id, "order": order or blind.draw_order(), "token": store.new_token(),
                                 "shown_at": time.time()}
    st.session_state[CHOICE] = None
    st.session_state[RATIONALE] = ""


def _next() -> None:
    st.session_state.pop(CURRENT, None)
    st.session_state[CHOICE] = None
    st.session_state[RATIONALE] = ""


def _submit(url: str | None, annotator: str) -> None:
    current = st.session_state.get(CURRENT)
    shown = st.session_state.get(CHOICE)
    if current is None:
        return
    if shown is None:
        st.session_state[MESSAGE] = ("warning", "Choose first: 1 (A better), 2 (B better), 3 (tie) or 4 (both bad).")
        return
    try:
        result = store.submit_vote(
            url, pair_id=current["pair_id"], annotator=annotator, choice=blind.shown_to_choice(shown, current["order"]),
            displayed_order=current["order"], token=current["token"], rationale=st.session_state.get(RATIONALE) or "",
            seconds=max(0.0, time.time() - current["shown_at"]), extra_facts={"via": "page", "shown_choice": shown},
        )
    except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
        st.session_state[MESSAGE] = ("error", f"The vote could not be stored: {exc}")
        return
    note = " (replacing your earlier vote)" if result.replaced_id else ""
    st.session_state[MESSAGE] = ("success", f"Saved your vote on pair {current['pair_id']}{note}.")
    st.session_state.get(SKIPPED, set()).discard(current["pair_id"])
    _next()


def _skip() -> None:
    current = st.session_state.get(CURRENT)
    if current is not None:
        st.session_state.setdefault(SKIPPED, set()).add(current["pair_id"])
        st.session_state[MESSAGE] = ("info", f"Skipped pair {current['pair_id']}; it comes back at the end.")
    _next()


def _undo(url: str | None, annotator: str) -> None:
    vote = store.undo_last(url, annotator)
    if vote is None:
        st.session_state[MESSAGE] = ("info", "Nothing to undo.")
        return
    _show(vote.pair_id, vote.displayed_order)
    st.session_state[MESSAGE] = ("success", f"Withdrew your last vote (pair {vote.pair_id}); it is back on screen.")


def _set_annotator() -> None:
    st.session_state[ANNOTATOR] = (st.session_state.get("annotate_name") or "").strip()
    _next()


def _change_annotator() -> None:
    st.session_state.pop(ANNOTATOR, None)
    st.query_params.pop("annotator", None)
    _next()


# ------------------------------------------------------------------------ page
st.title("Annotate")
url = common.db_url()
try:
    _migrated(url)
except Exception as exc:  # noqa: BLE001
    st.error(f"Cannot open the database: {exc}")
    st.stop()

from_link = (st.query_params.get("annotator") or "").strip()
if from_link and not st.session_state.get(ANNOTATOR):
    st.session_state[ANNOTATOR] = from_link[: store.MAX_NAME]
annotator = st.session_state.get(ANNOTATOR)
if not annotator:
    st.write("Judge pairs of answers to the same prompt. Your name is stored with your votes.")
    st.text_input("Your name", key="annotate_name", max_chars=store.MAX_NAME, on_change=_set_annotator,
                  placeholder="type your name and press Enter")
    st.caption("Crowd-work links can pass it as `?annotator=NAME`.")
    st.stop()

prog = annotation.annotator_progress(url, annotator)
who, change = st.columns([4, 1])
who.markdown(f"Annotating as **{common.literal(annotator)}**")
change.button("Change name", key="annotate_change", on_click=_change_annotator)
st.progress(prog.done / prog.total if prog.total else 0.0, text=f"{prog.label} annotated")

message = st.session_state.pop(MESSAGE, None)
if message is not None:
    getattr(st, message[0])(message[1])

persona_text = induced_persona_text(url, annotator)
if persona_text:
    with st.expander("Your induced persona (SynthesizeMe)"):
        st.text(persona_text)  # model-written: shown as text, never as Markdown

# the pair on screen: the current one while it is still pending, else the next pending one
skipped = st.session_state.setdefault(SKIPPED, set())
current = st.session_state.get(CURRENT)
if current is not None and current["pair_id"] not in prog.pending:
    current = None
if current is None and prog.pending:
    fresh = [p for p in prog.pending if p not in skipped] or prog.pending
    if not [p for p in prog.pending if p not in skipped]:
        skipped.clear()
    _show(fresh[0])
    current = st.session_state[CURRENT]

if current is None:
    if prog.total:
        st.success(f"All {prog.total} pairs are annotated. Thank you!")
    else:
        st.info("No pairs to annotate yet: send one from the Compare page, or run "
                "`python -m persona_core pairs generate ...` or `pairs import FILE.jsonl`.")
    st.button("Undo last", key="annotate_undo", on_click=_undo, args=(url, annotator))
else:
    pair = annotation.load_pair(url, current["pair_id"])
    left, right = blind.displayed(pair.response_a, pair.response_b, current["order"])
    st.caption(f"Pair {pair.id} · {len(prog.pending)} left · keys: 1–4 choose, Enter submit, S skip")
    st.markdown("**Prompt**")
    with st.container(border=True, key="annotate_prompt"):
        st.text(pair.prompt)
    col_a, col_b = st.columns(2)
    with col_a:
        st.markdown("**A**")
        with st.container(border=True, key="annotate_left"):
            st.text(left)
    with col_b:
        st.markdown("**B**")
        with st.container(border=True, key="annotate_right"):
            st.text(right)
    st.radio("Which answer is better?", list(LABELS), format_func=LABELS.get, index=None, horizontal=True, key=CHOICE)
    st.text_area("Rationale (optional)", key=RATIONALE, height=80,
                 help="Why you chose so. Click outside the box before pressing Enter to submit.")
    submit, skip, undo, _ = st.columns([1, 1, 1, 3])
    submit.button("Submit (Enter)", type="primary", key="annotate_submit", on_click=_submit, args=(url, annotator))
    skip.button("Skip (S)", key="annotate_skip", on_click=_skip)
    undo.button("Undo last", key="annotate_undo", on_click=_undo, args=(url, annotator))
    st.html(KEYS_JS, unsafe_allow_javascript=True)

# --------------------------------------------------------------------- statistics
with st.expander("Statistics"):
    from persona_core.preferences.stats import database_summary

    summary = database_summary(url)
    st.write(f"{summary['pairs']} pairs, {summary['votes']} current votes.")
    if summary["votes_per_annotator"]:
        st.dataframe(pd.DataFrame.from_dict(summary["votes_per_annotator"], orient="index"), key="annotate_votes_table")
    agree = summary["agreement"]
    if agree["pairs"]:
        alpha = "undefined (one category only)" if agree["alpha"] is None else f"{agree['alpha']:.3f}"
        st.write(f"Agreement on {agree['pairs']} pairs with two or more annotators: Krippendorff's alpha {alpha}, "
                 f"raw agreement {agree['raw']:.1%}.")
    else:
        st.caption("Agreement needs pairs with two or more annotators.")
    if summary["win_rates"]:
        pct = lambda x: "–" if x is None else f"{x:.0%}"  # noqa: E731
        rates = pd.DataFrame([{
            "persona": w["persona"], "steered wins (95% CI)": f"{pct(w['rate'])} [{pct(w['low'])}, {pct(w['high'])}]",
            "votes": w["votes"], "W / L / T": f"{w['wins']} / {w['losses']} / {w['ties']}", "both bad": w["both_bad"],
        } for w in summary["win_rates"]])
        st.caption("Steered vs unsteered answers: a win counts 1, a tie 1/2; both-bad votes are left out.")
        st.dataframe(rates, key="annotate_win_table", hide_index=True)
