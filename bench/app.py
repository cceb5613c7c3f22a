"""App speed in headless Chromium: time until the map page is interactive, a page switch, the
time from the Generate click to the first token of each side of a comparison, and the wall time of
a comparison's one batch against the unsteered answer alone. Prints one JSON object with p50/p95.

    .venv/bin/python bench/app.py                      # the default database (builds GSS 2016 if empty)
    .venv/bin/python bench/app.py --db sqlite:///x.db  # another database
    .venv/bin/python bench/app.py --synthetic          # a small synthetic space in a temporary folder
    .venv/bin/python bench/app.py --synthetic --tiny-spm   # ... with a briefly trained SPM (suffix_kv)
    .venv/bin/python bench/app.py --only map           # one part: map, switch, first_token, batch, floor, select

Map times: from navigation start until the map chart is drawn and the script run is over (one
in-page condition checked every animation frame: Playwright's ``wait_for_selector`` polls from
outside the page with a backoff that reaches 500 ms, and until stop 26 it added 0-0.5 s here);
the first open loads the persona space into the cache, later opens (new sessions) find it
cached, each in a fresh browser context (the app's static files fetched again, as on a first
visit) and, as ``cached_warm_browser``, each in a new tab of one context (a returning user). Page switches: sidebar click until the new page's run is over and drawn (the map's chart
included); before them, the first switch to Compare after ``--dwell`` seconds on the map
(``compare_page_first_open_s``; the app loads the language model in the background meanwhile,
unless ``PERSONA_WARM_UP=0``). First-token times are browser timestamps: click -> first text in each answer box; each
comparison asks the next survey question (``--same-question``: the first one every time), picked
before the click as a user would; per steering method with the page's default (each answer starts
with its picked option) and, as ``<method>_free_text``, with that toggle off.
Floor (``--only floor``): the same map-open measurement on a bare Streamlit app holding only a
title and a 10-point Plotly chart, so the part of the map's time that Streamlit and Plotly take
before any of the app's work is known: drawn by ``st.plotly_chart`` (Streamlit's whole plotly.js)
and, as ``floor_bare_streamlit_plotly_basic``, by the map's own component
(``app_pages/plotly_light.py``, plotly.js's basic bundle; above 5,000 points the map's WebGL
points are drawn by the same component with the gl2d bundle).
Select (``--only select``): a lasso around nearly every point of the map, each repeat in a new
app server (``selection.first``: the first selection summary since the server started, which
pays for any import or cache its code path needs) and then in a new session of that server
(``selection.later``): seconds from releasing the mouse until the selection's summary is shown,
and, apart, the drag itself (Plotly selects and restyles the points at every mouse move; in
software WebGL, as headless Chromium draws, that dominates above a few thousand points).
Batch: in this process, the comparer's stream of both sides against the unsteered side alone,
the same number of tokens each (end of turn ignored), wall time per generation.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.app import e2e  # noqa: E402


def prepare(args) -> tuple[dict[str, str], dict]:
    """Environment for the app and facts about the space it will show."""
    from persona_core.service.catalog import database_status

    env: dict[str, str] = {}
    if args.synthetic:
        from tests.app.synthetic import build_app_space

        root = Path(tempfile.mkdtemp(prefix="bench_app_"))
        space = build_app_space(root)
        if args.tiny_spm:
            from tests.app.synthetic import train_tiny_spm

            train_tiny_spm(space)
        env = {"PERSONA_DB_URL": space.url, "PERSONA_ARTIFACTS_DIR": str(space.artifacts)}
    else:
        if args.db:
            env["PERSONA_DB_URL"] = args.db
        status = database_status(args.db)
        if not status.ok:
            raise SystemExit(f"cannot read the database: {status.error}")
        if status.empty:
            print("the database holds no persona space: building the GSS 2016 wave (minutes)", file=sys.stderr)
            from persona_core.data.loaders import load_survey
            from persona_core.pipeline import build_and_store

            build_and_store(load_survey("gss", wave="2016"), db_url=args.db, kind="gss")
    os.environ.update(env)
    status = database_status(env.get("PERSONA_DB_URL") or args.db)
    run = status.runs[0]
    return env, {"dataset": run.dataset_name, "embedding_run": run.id, "respondents": run.n_respondents,
                 "cohorts": run.n_cohorts}


PARTS = ("map", "switch", "first_token", "batch", "floor", "select")
ANSWER_FIRST_LABEL = "Start each answer with its option"
FLOOR_APP = """import streamlit as st, plotly.graph_objects as go
st.title("Opinion map")
st.plotly_chart(go.Figure(go.Scatter(x=list(range(10)), y=[i % 3 for i in range(10)], mode="markers")))
"""
FLOOR_LIGHT_APP = """import streamlit as st, plotly.graph_objects as go
from app_pages import charts
st.title("Opinion map")
charts.show(go.Figure(go.Scatter(x=list(range(10)), y=[i % 3 for i in range(10)], mode="markers")), key="floor")
"""
METHOD_LABELS = {"spm": "Soft prompt (SPM) from the persona's embedding", "text": "Persona described in the prompt (text)"}


def quantiles(values: list[float]) -> dict:
    """p50/p95 (linear interpolation) of ``values`` and how many there are."""
    import numpy as np

    vals = [v for v in values if v is not None]
    if not vals:
        return {"n": 0}
    return {"n": len(vals), "p50": round(float(np.percentile(vals, 50)), 3), "p95": round(float(np.percentile(vals, 95)), 3)}


VIEWPORT = {"width": 1400, "height": 1000}


def warm_browser_opens(browser, url: str, repeats: int, chart: str = e2e.MAP_CHART) -> list[float]:
    """``repeats`` map opens, each a new tab (a new session) of one browser context whose HTTP
    cache already holds the app's static files (a returning user); one untimed open warms it."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        times = []
        for _ in range(repeats + 1):
            page = e2e.new_page(context)
            times.append(round(e2e.open_map(page, url, chart=chart), 3))
            page.close()
        return times[1:]
    finally:
        context.close()


def map_opens(browser, url: str, repeats: int) -> dict:
    """First open (loads the space), then ``repeats`` opens in new pages (sessions) with it cached:
    each in a fresh browser context (``cached``: the browser fetches the app's static files
    again, a first visit) and each in a new tab of one context (``cached_warm_browser``)."""
    page = e2e.new_page(browser, viewport=VIEWPORT)
    first = round(e2e.open_map(page, url), 3)
    page.close()
    cached = []
    for _ in range(repeats):
        fresh = e2e.new_page(browser, viewport=VIEWPORT)
        cached.append(round(e2e.open_map(fresh, url), 3))
        fresh.close()
    warm = warm_browser_opens(browser, url, repeats) if repeats else []
    return {"first_open_s": first, "cached_s": cached, "cached": quantiles(cached),
            "cached_warm_browser_s": warm, "cached_warm_browser": quantiles(warm)}


def floor_opens(browser, repeats: int, light: bool = False) -> dict:
    """Map-open times of the bare Streamlit + Plotly app (:data:`FLOOR_APP`; ``light``:
    :data:`FLOOR_LIGHT_APP`, its static folder holding the basic bundle), new page each time."""
    with tempfile.TemporaryDirectory(prefix="bench_floor_") as tmp:
        script = e2e.scratch_app(Path(tmp), FLOOR_LIGHT_APP if light else FLOOR_APP)
        with e2e.streamlit_server({}, script=script) as url:
            times = []
            for _ in range(repeats + 1):  # the first open warms the server
                page = e2e.new_page(browser, viewport=VIEWPORT)
                times.append(round(e2e.open_map(page, url, chart=e2e.ANY_CHART), 3))
                page.close()
            warm = warm_browser_opens(browser, url, repeats, chart=e2e.ANY_CHART)
    return {"cached_s": times[1:], "cached": quantiles(times[1:]),
            "cached_warm_browser_s": warm, "cached_warm_browser": quantiles(warm)}


def selected_count(page) -> int:
    """The "Selected respondents" figure the selection summary shows."""
    return int(page.locator('[data-testid="stMetricValue"]').first.inner_text().replace(",", ""))


def selection_times(env: dict[str, str], browser, repeats: int, margin: float = 0.02) -> dict:
    """See the module's "Select": per repeat a new server, the map opened (the space loaded into
    its cache), a lasso ``margin`` inside the plot's edges, then the same in a new session."""
    first, later, drags, counts = [], [], [], []
    for _ in range(repeats):
        with e2e.streamlit_server(env) as url:
            for times in (first, later):
                page = e2e.new_page(browser, viewport=VIEWPORT)
                e2e.open_map(page, url)
                drag, after_release = e2e.lasso(page, ".st-key-map_chart", margin=margin)
                counts.append(selected_count(page))
                drags.append(round(drag, 3))
                times.append(round(after_release, 3))
                page.close()
    return {"selected": sorted(set(counts)), "first_s": first, "first": quantiles(first), "later_s": later,
            "later": quantiles(later), "drag_s": drags, "drag": quantiles(drags)}


def timed_switch(page, title: str) -> float:
    t = time.perf_counter()
    e2e.go_to(page, title)
    if title == "Opinion map":
        e2e.wait_drawn(page)
    return time.perf_counter() - t


def page_switches(page, repeats: int) -> dict:
    """``repeats`` rounds of map -> Cohorts -> Compare -> map in one session (Compare loaded once before)."""
    per: dict[str, list[float]] = {"Cohorts": [], "Compare": [], "Opinion map": []}
    for _ in range(repeats):
        for title in per:
            per[title].append(round(timed_switch(page, title), 3))
    every = [v for vals in per.values() for v in vals]
    return {"all": quantiles(every), **{title: quantiles(vals) for title, vals in per.items()}, "raw_s": per}


def next_question(page) -> None:
    """Pick the next survey question in the Compare page's question box (and wait for the run)."""
    box = page.locator('[data-testid="stSelectbox"]', has_text="Survey question").first
    before = box.get_by_role("combobox").input_value()
    with e2e.rerun(page):
        box.get_by_role("combobox").click()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
    if box.get_by_role("combobox").input_value() == before:
        raise AssertionError(f"the question box stayed on {before!r}")


def first_tokens(page, repeats: int, max_new_tokens: int, new_questions: bool = True) -> dict:
    """``repeats`` comparisons per steering method offered, from the Compare page; with
    ``new_questions`` each asks the next survey question (picked before the click, as a user
    would), otherwise all ask the same one."""
    page.get_by_role("slider", name="Temperature").focus()
    with e2e.rerun(page):
        page.keyboard.press("Home")
    e2e.set_number(page, "Max new tokens", max_new_tokens)
    radios = page.locator('[data-testid="stRadio"]', has_text="Steering")
    has_choice = radios.count() > 0
    out = {}
    for method, label in METHOD_LABELS.items():
        if not page.get_by_text(label).count():
            continue
        if has_choice and not radios.first.get_by_role("radio", name=label).is_checked():
            with e2e.rerun(page):
                radios.first.get_by_text(label, exact=True).click()
        # the page's default (each side starts with its picked option) and free text, one after the other
        for answer_first in (True, False):
            set_answer_first(page, answer_first)
            runs = []
            for _ in range(repeats):
                if new_questions:
                    next_question(page)
                runs.append(e2e.generate(page))
            ttft = {side: [r["first_token_s"].get(side) for r in runs] for side in ("unsteered", "steered")}
            out[method if answer_first else f"{method}_free_text"] = {
                "first_token": {side: quantiles(vals) for side, vals in ttft.items()}, "raw_s": ttft,
                "max_new_tokens": max_new_tokens, "new_question_each_time": new_questions, "answer_first": answer_first}
        set_answer_first(page, True)
    return out


def set_answer_first(page, on: bool) -> None:
    """Set the Compare page's "Start each answer with its option" toggle (and wait for the run)."""
    toggle = page.locator('[data-testid="stCheckbox"]', has_text=ANSWER_FIRST_LABEL)
    box = toggle.locator("input[type=checkbox]")
    if box.is_checked() != on:
        with e2e.rerun(page):
            toggle.get_by_text(ANSWER_FIRST_LABEL).click()
    if box.is_checked() != on:
        raise AssertionError(f"the answer-first toggle did not turn {'on' if on else 'off'}")


def one_batch(env: dict[str, str], repeats: int, max_new_tokens: int) -> dict:
    """Wall time of a comparison (both sides) against the unsteered side alone, in this process
    with the app's service objects; every generation runs ``max_new_tokens`` steps. Both ways of
    decoding the comparison's two rows, interleaved, each with the whole prompt in the timed call and
    with the prompt run ahead (``_prepared``, as the page does): ``side_by_side`` (two batch-1
    streams in two threads, ``parallel_rows=True``) and ``one_batch`` (one batch of two: the app's)."""
    from persona_core.llm import LLM, GenerationSettings
    from persona_core.service.catalog import database_status, load_space_view
    from persona_core.service.checkpoints import find_checkpoints, load_spm
    from persona_core.service.compare import Comparer
    from persona_core.service.personas import cohort_persona, describe_persona, respondent_persona

    url = env.get("PERSONA_DB_URL") or None
    run = database_status(url).runs[0]
    view = load_space_view(url, run.id)
    llm = LLM.from_config()
    found = find_checkpoints(view.run_key)
    spm = load_spm(found[0].path, view.run_key, llm)[0] if found else None
    comparer = Comparer(llm, spm=spm, spm_path=found[0].path if found else None, parallel_rows=True)
    batched = Comparer(llm, spm=spm, spm_path=found[0].path if found else None, parallel_rows=False)
    persona = cohort_persona(view, view.cohorts[0]) if view.cohorts else respondent_persona(view, view.survey.respondent_ids[0])
    description = describe_persona(view, persona)
    question = view.survey.questions[0]
    settings = GenerationSettings(temperature=0.7, max_new_tokens=max_new_tokens, seed=0, ignore_eos=True)

    def wall(stream) -> float:
        t = time.perf_counter()
        for _ in stream:
            pass
        return time.perf_counter() - t

    out = {"max_new_tokens": max_new_tokens, "checkpoint": found[0].label if found else None}
    for method in comparer.methods:
        wall(comparer.unsteered_stream(question, settings))  # warm-up: question head cached, code paths run
        for c in (comparer, batched):
            wall(c.stream(question, method, persona, description, settings))
        alone, both, side, both_prepared, prepared = [], [], [], [], []
        for _ in range(repeats):  # interleaved, so drifts in machine speed hit all alike
            alone.append(round(wall(comparer.unsteered_stream(question, settings)), 4))
            for c, times in ((batched, both), (comparer, side)):
                c.forget_prepared()  # the whole prompt runs in the timed call, as for the unsteered side
                times.append(round(wall(c.stream(question, method, persona, description, settings)), 4))
            # as the page does: the prompt run ahead once the persona and question are shown
            for c, times in ((batched, both_prepared), (comparer, prepared)):
                c.forget_prepared()
                c.prepare(question, method, persona, description)
                times.append(round(wall(c.stream(question, method, persona, description, settings)), 4))
        times = {"unsteered_alone": alone, "one_batch": both, "side_by_side": side,
                 "one_batch_prepared": both_prepared, "side_by_side_prepared": prepared}
        out[method] = {**{k: quantiles(v) for k, v in times.items()},
                       "ratio_p50": round(statistics.median(both) / statistics.median(alone), 3),
                       "ratio_side_by_side_p50": round(statistics.median(side) / statistics.median(alone), 3),
                       "ratio_one_batch_prepared_p50": round(statistics.median(both_prepared) / statistics.median(alone), 3),
                       "ratio_side_by_side_prepared_p50": round(statistics.median(prepared) / statistics.median(alone), 3),
                       "raw_s": times}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="database URL (default: PERSONA_DB_URL, else var/persona.db)")
    parser.add_argument("--synthetic", action="store_true", help="bench a small synthetic space instead")
    parser.add_argument("--tiny-spm", action="store_true", help="with --synthetic: train a tiny SPM (a few steps) first")
    parser.add_argument("--repeats", type=int, default=20, help="repetitions of every measurement")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--same-question", action="store_true",
                        help="first tokens: ask the same question every time (default: the next survey question each time)")
    parser.add_argument("--dwell", type=float, default=0.0,
                        help="seconds on the map before the first switch to Compare (compare_page_first_open_s)")
    parser.add_argument("--only", choices=PARTS, action="append", help="measure only this part (repeatable)")
    args = parser.parse_args()
    parts = args.only or list(PARTS)

    from playwright.sync_api import sync_playwright

    env, facts = prepare(args)
    if args.db:
        env = {**env, "PERSONA_DB_URL": args.db}
    if os.environ.get("PERSONA_DB_URL"):
        env.setdefault("PERSONA_DB_URL", os.environ["PERSONA_DB_URL"])
    out: dict = {"space": facts, "cpus": os.cpu_count(), "repeats": args.repeats, "parts": parts,
                 "load_avg_before": [round(x, 2) for x in os.getloadavg()]}
    browser_parts = [p for p in parts if p not in ("batch", "floor", "select")]
    if browser_parts:
        with e2e.streamlit_server(env) as url, sync_playwright() as pw:
            browser = e2e.launch(pw)
            out["map_open"] = map_opens(browser, url, args.repeats if "map" in parts else 0)
            if "switch" in parts or "first_token" in parts:
                page = e2e.new_page(browser, viewport=VIEWPORT)
                e2e.open_map(page, url)
                time.sleep(args.dwell)  # a user reading the map; the app loads the model meanwhile
                t = time.perf_counter()
                e2e.go_to(page, "Compare")  # loads the language model (and SPM), unless loaded already
                out["compare_page_first_open_s"] = round(time.perf_counter() - t, 3)
                out["dwell_s"] = args.dwell
                if "switch" in parts:
                    e2e.go_to(page, "Opinion map")
                    out["page_switch"] = page_switches(page, args.repeats)  # ends on the map
                    e2e.go_to(page, "Compare")
                if "first_token" in parts:
                    out["comparisons"] = first_tokens(page, args.repeats, args.max_new_tokens,
                                                     new_questions=not args.same_question)
            browser.close()
    if "select" in parts:
        with sync_playwright() as pw:
            browser = e2e.launch(pw)
            out["selection"] = selection_times(env, browser, args.repeats)
            browser.close()
    if "floor" in parts:
        with sync_playwright() as pw:
            browser = e2e.launch(pw)
            out["floor_bare_streamlit_plotly"] = floor_opens(browser, args.repeats)
            out["floor_bare_streamlit_plotly_basic"] = floor_opens(browser, args.repeats, light=True)
            browser.close()
    if "batch" in parts:
        out["batch"] = one_batch(env, args.repeats, args.max_new_tokens)
    out["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
