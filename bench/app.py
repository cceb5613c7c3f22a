"""App speed in headless Chromium: time until the map page is interactive, and time from the
Generate click to the first token of each side of a comparison. Prints one JSON object.

    .venv/bin/python bench/app.py                      # the default database (builds GSS 2016 if empty)
    .venv/bin/python bench/app.py --db sqlite:///x.db  # another database
    .venv/bin/python bench/app.py --synthetic          # a small synthetic space in a temporary folder
    .venv/bin/python bench/app.py --synthetic --tiny-spm   # ... with a briefly trained SPM (suffix_kv)

Map times: from navigation start until the map chart is drawn and the script run is over;
the first open loads the persona space into the cache, later opens (new sessions) find it
cached. First-token times are browser timestamps: click -> first text in each answer box.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="database URL (default: PERSONA_DB_URL, else var/persona.db)")
    parser.add_argument("--synthetic", action="store_true", help="bench a small synthetic space instead")
    parser.add_argument("--tiny-spm", action="store_true", help="with --synthetic: train a tiny SPM (a few steps) first")
    parser.add_argument("--opens", type=int, default=3, help="map opens with the space cached")
    parser.add_argument("--repeats", type=int, default=3, help="comparisons per steering method")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    env, facts = prepare(args)
    out: dict = {"space": facts, "cpus": os.cpu_count(), "load_avg_before": [round(x, 2) for x in os.getloadavg()]}
    with e2e.streamlit_server(env) as url, sync_playwright() as pw:
        browser = e2e.launch(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        out["map_first_open_s"] = round(e2e.open_map(page, url), 3)
        cached = []
        for _ in range(args.opens):
            fresh = browser.new_page(viewport={"width": 1400, "height": 1000})
            cached.append(round(e2e.open_map(fresh, url), 3))
            fresh.close()
        out["map_open_cached_s"] = cached
        out["map_open_cached_median_s"] = statistics.median(cached)

        t = time.perf_counter()
        e2e.go_to(page, "Compare")  # loads the language model (and SPM) into the cache
        out["compare_page_first_open_s"] = round(time.perf_counter() - t, 3)
        page.get_by_role("slider", name="Temperature").focus()
        page.keyboard.press("Home")
        e2e.wait_idle(page)
        e2e.set_number(page, "Max new tokens", args.max_new_tokens)
        methods = ["Soft prompt (SPM) from the persona's embedding", "Persona described in the prompt (text)"]
        radios = page.locator('[data-testid="stRadio"]', has_text="Steering")
        has_choice = radios.count() > 0
        available = [m for m in methods if page.get_by_text(m).count()]
        out["comparisons"] = {}
        for method in available:
            if has_choice:
                radios.first.get_by_text(method, exact=True).click()
                e2e.wait_idle(page)
            runs = [e2e.generate(page) for _ in range(args.repeats)]
            ttft = {side: [r["first_token_s"].get(side) for r in runs] for side in ("unsteered", "steered")}
            out["comparisons"][method] = {
                "first_token_s": ttft,
                "first_token_median_s": {s: statistics.median([v for v in vals if v is not None] or [float("nan")])
                                         for s, vals in ttft.items()},
                "max_new_tokens": args.max_new_tokens,
            }
        browser.close()
    out["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
