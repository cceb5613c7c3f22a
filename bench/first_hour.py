"""The first hour, as a new user meets it: ``make app`` on a fresh database and artifacts folder,
until the first answer steered by the trained steering model (SPM); prints one JSON object.

Runs ``make app`` (``PERSONA_DB_URL`` and ``PERSONA_ARTIFACTS_DIR`` in a new temporary folder, the
virtual environment as already set up: its time is ``make setup``'s) and records, from the moment
it starts: the app answering, the training job done, then, in Chromium on Compare (steered toward
the largest cohort by the checkpoint the sidebar picks by itself), the first token of each side.
It waits for the rest of the chain (evaluation, starter pairs) and saves a screenshot of every
page to ``test-artifacts/first_hour/``.

    .venv/bin/python bench/first_hour.py [--tiny]      # --tiny: the tiny configuration (a check, minutes)
    .venv/bin/python bench/first_hour.py --ask-on /tmp/first_hour_XXXX

``--ask-on`` reopens the app on the folder of an earlier run and, on Ask everyone, asks one survey
question of every cohort by the SPM, then simulates the whole survey from the page's button (the
``simulate`` command as a background job) and prints that job's JSON summary, with screenshots.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.app import e2e  # noqa: E402

PAGES = ("Opinion map", "Cohorts", "Compare", "Ask everyone", "Evaluation", "Annotate", "Jobs")


def wait_until(condition, timeout: float, what: str, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(every)


def answering(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="train the tiny configuration (checks the path only)")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--ask-on", type=Path, default=None, help="the folder of an earlier run: Ask everyone only")
    args = parser.parse_args()
    if args.ask_on is not None:
        print(json.dumps(ask_everyone(args.ask_on, args.timeout)))
        return

    root = Path(tempfile.mkdtemp(prefix="first_hour_"))
    db_url = f"sqlite:///{root / 'persona.db'}"
    env = {**os.environ, "PERSONA_DB_URL": db_url, "PERSONA_ARTIFACTS_DIR": str(root / "artifacts")}
    os.environ.update({k: env[k] for k in ("PERSONA_DB_URL", "PERSONA_ARTIFACTS_DIR")})
    port = e2e.free_port()
    url = f"http://127.0.0.1:{port}"
    with open("/proc/loadavg") as f:
        load = float(f.read().split()[0])
    make = ["make", "app", f"PORT={port}", *(["FIRST_RUN_ARGS=--tiny"] if args.tiny else [])]
    log = open(root / "make_app.log", "w")
    t0 = time.monotonic()
    proc = subprocess.Popen(make, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    marks: dict[str, float] = {}
    try:
        from persona_core.service import jobs

        wait_until(lambda: answering(url), args.timeout, "the app")
        marks["app_answering"] = time.monotonic() - t0
        train = wait_until(lambda: next(iter(jobs.list_jobs(db_url, kind="train")), None), 60, "the training job")
        done = jobs.wait(db_url, train.id, args.timeout, every=2.0)
        if done.status != "done":
            raise SystemExit(f"training failed: {done.error}")
        marks["train_done"] = time.monotonic() - t0
        first = steered_answer(url)
        marks["first_spm_steered_token"] = first.pop("clicked_at") - t0 + first["first_token_s"]["steered"]
        chain = [j for j in jobs.list_jobs(db_url) if j.kind in ("eval", "pairs generate")]
        for job in chain:
            end = jobs.wait(db_url, job.id, args.timeout, every=2.0)
            marks[f"{job.kind.replace(' ', '_')}_{end.status}"] = time.monotonic() - t0
        shots = screenshots(url)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
    print(json.dumps({"load_before": load, "config": "tiny" if args.tiny else "default",
                      "seconds_from_make_app": {k: round(v, 1) for k, v in marks.items()},
                      "train_seconds": round(done.seconds or 0.0, 1), "first_answer": first, "screenshots": shots}))


def steered_answer(url: str) -> dict:
    """Open Compare, steer toward the largest cohort, generate once; the click's time and both
    sides' first-token delays."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = e2e.launch(pw)
        page = e2e.new_page(browser, viewport={"width": 1400, "height": 1000})
        e2e.open_app(page, f"{url}/cohorts")
        with e2e.rerun(page):
            page.get_by_role("button", name="Steer toward this cohort").click()
        e2e.go_to(page, "Compare")
        page.get_by_text("Soft prompt (SPM) from the persona's embedding").wait_for(timeout=120_000)
        e2e.set_number(page, "Max new tokens", 32)
        clicked = time.monotonic()
        result = e2e.generate(page)
        result["clicked_at"] = clicked
        e2e.ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(e2e.ARTIFACTS / "first_hour_compare.png"), full_page=True)
        browser.close()
    return result


def screenshots(url: str) -> list[str]:
    from playwright.sync_api import sync_playwright

    out = e2e.ARTIFACTS / "first_hour"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with sync_playwright() as pw:
        browser = e2e.launch(pw)
        page = e2e.new_page(browser, viewport={"width": 1400, "height": 1000})
        e2e.open_map(page, url)
        for title in PAGES:
            if title != PAGES[0]:
                e2e.go_to(page, title)
            path = out / f"{title.lower().replace(' ', '_')}.png"
            page.screenshot(path=str(path), full_page=True)
            paths.append(str(path.relative_to(REPO)))
        browser.close()
    return paths


def ask_everyone(root: Path, timeout: float) -> dict:
    """Ask everyone on the space of an earlier run in ``root``: one question by the SPM, then the
    whole survey as a job; screenshots of both; the job's summary (what ``simulate --json`` prints)."""
    from playwright.sync_api import sync_playwright

    from persona_core.service import jobs

    env = {"PERSONA_DB_URL": f"sqlite:///{root / 'persona.db'}", "PERSONA_ARTIFACTS_DIR": str(root / "artifacts")}
    os.environ.update(env)
    out = e2e.ARTIFACTS / "first_hour"
    out.mkdir(parents=True, exist_ok=True)
    with e2e.streamlit_server(env) as url, sync_playwright() as pw:
        browser = e2e.launch(pw)
        page = e2e.new_page(browser, viewport={"width": 1400, "height": 1400})
        e2e.open_app(page, f"{url}/ask")
        page.get_by_text("Steering model (SPM) from each cohort's centroid").wait_for(timeout=120_000)
        t = time.monotonic()
        with e2e.rerun(page, timeout=600_000):
            page.get_by_role("button", name="Ask everyone").click()
        asked = time.monotonic() - t
        page.locator(e2e.CHARTS, has_text="Simulated answers").wait_for(timeout=60_000)
        page.screenshot(path=str(out / "ask_everyone_question.png"), full_page=True)
        with e2e.rerun(page):
            page.get_by_role("button", name="Simulate the whole survey").click()
        job = wait_until(lambda: next(iter(jobs.list_jobs(env["PERSONA_DB_URL"], kind="simulate")), None), 60, "the job")
        done = jobs.wait(env["PERSONA_DB_URL"], job.id, timeout, every=2.0)
        if done.status != "done":
            raise SystemExit(f"simulation failed: {done.error}")
        page.get_by_text("Per question").wait_for(timeout=60_000)  # the fragment shows the tables
        page.screenshot(path=str(out / "ask_everyone_survey.png"), full_page=True)
        browser.close()
    return {"ask_one_question_seconds": round(asked, 2), "simulate_job": done.id, "simulate_args": done.args,
            "simulate_summary": done.result}


if __name__ == "__main__":
    main()
