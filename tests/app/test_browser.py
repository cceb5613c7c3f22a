"""End to end in headless Chromium: the app against a small built space with a briefly trained
SPM. Open the map, pick a cohort, steer toward it, generate on Compare, and check that both
answers appear and differ. Screenshots of every page go to test-artifacts/ (git-ignored)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from persona_core.llm import GenerationSettings
from persona_core.service import exports
from tests.app import e2e
from tests.app.synthetic import train_tiny_spm

pytestmark = [pytest.mark.browser, pytest.mark.slow]
MAX_NEW = 24
QUESTION = "parks"


@pytest.fixture(scope="module")
def steered_space(built_space):
    """The built space with a tiny SPM, and a cohort whose greedy steered answer differs from the
    unsteered one (found with the same service call the page makes)."""
    from persona_core.llm import LLM
    from persona_core.service.catalog import load_space_view
    from persona_core.service.checkpoints import load_spm
    from persona_core.service.compare import Comparer
    from persona_core.service.personas import cohort_persona

    path = train_tiny_spm(built_space)
    view = load_space_view(built_space.url, built_space.run_id)
    llm = LLM.from_config()
    spm, _ = load_spm(path, view.run_key, llm)
    comparer = Comparer(llm, spm, path)
    question = view.survey.questions[view.survey.question_index(QUESTION)]
    settings = GenerationSettings(temperature=0.0, max_new_tokens=MAX_NEW, seed=0)
    for label in view.cohorts:
        # as the page asks it by default: each side starts with the option it picks
        result = comparer.compare(question, "spm", cohort_persona(view, label), settings=settings, answer_first=True)
        if result.steered != result.unsteered:
            return built_space, view, label, result
    raise AssertionError("the tiny SPM steers no cohort's greedy answer away from the unsteered one")


def test_map_cohort_compare_in_chromium(steered_space):
    from playwright.sync_api import sync_playwright

    space, view, label, expected = steered_space
    shots = e2e.ARTIFACTS
    shots.mkdir(exist_ok=True)
    env = {"PERSONA_DB_URL": space.url, "PERSONA_ARTIFACTS_DIR": str(space.artifacts)}
    with e2e.streamlit_server(env) as url, sync_playwright() as pw:
        browser = e2e.launch(pw)
        page = e2e.new_page(browser, viewport={"width": 1400, "height": 1000})
        page.add_init_script("performance.setResourceTimingBufferSize(5000)")  # every request is listed (default 250)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # plotly.js's own warnings ("WARN: ..."), each logged with a stack trace, cost drawing time
        plotly_warnings: list[str] = []
        page.on("console", lambda msg: plotly_warnings.append(msg.text) if msg.text.startswith("WARN:") else None)
        # nothing is fetched from another host (a ":material/...:" page icon came from fonts.gstatic.com)
        elsewhere: list[str] = []
        page.on("request", lambda r: elsewhere.append(r.url) if not r.url.startswith((url, "data:", "blob:")) else None)

        e2e.open_map(page, url)
        # while the map is shown, the Cohorts page's element modules are loaded (app_pages/preload.py)
        page.wait_for_function("() => performance.getEntriesByType('resource').some((e) => /[/]static[/]js[/]DataFrame[.]/.test(e.name))",
                               timeout=30_000)
        # drawn by the basic plotly.js bundle (app_pages/plotly_light.py), not st.plotly_chart's whole one
        assert page.locator(".st-key-map_chart .pe-plotly").count() == 1
        assert page.locator('[data-testid="stPlotlyChart"]').count() == 0
        expect(page.get_by_text("No respondents selected")).to_be_visible()
        page.screenshot(path=str(shots / "map.png"), full_page=True)
        e2e.select_option(page, "Colour by", "Answer · climate")
        page.screenshot(path=str(shots / "map_by_answer.png"))

        e2e.go_to(page, "Cohorts")
        e2e.select_option(page, "Cohort", view.cohort_title(label))
        with e2e.rerun(page):
            page.get_by_role("button", name="Steer toward this cohort").click()
        expect(page.get_by_text(f"Persona set to {view.cohort_title(label)}")).to_be_visible()
        # the data frame module was fetched once: Streamlit's own import found the preloaded one
        assert page.evaluate("() => performance.getEntriesByType('resource').filter((e) => /[/]static[/]js[/]DataFrame[.]/.test(e.name)).length") == 1
        # and its style sheet, linked by the preload, was not linked again
        assert page.locator('link[rel="stylesheet"][href*="/static/css/DataFrame."]').count() == 1
        page.screenshot(path=str(shots / "cohorts.png"), full_page=True)
        assert not plotly_warnings, plotly_warnings[:3]
        assert not elsewhere, elsewhere[:3]
        assert page.locator('link[rel="shortcut icon"][href^="data:image/svg+xml"], link[rel="icon"][href^="data:image/svg+xml"]').count() >= 1
        # the profile's CSV is written only when asked for (a deferred download), and is that cohort's
        with page.expect_download() as download:
            page.get_by_role("button", name="Download the profile (CSV)").click()
        assert download.value.suggested_filename.endswith(f"-cohort{label}.csv")
        assert download.value.path().read_text(encoding="utf-8") == exports.cohort_profile_csv(view, label)

        e2e.go_to(page, "Compare")
        # the persona picked on the Cohorts page is preselected; the tiny SPM is found and used
        expect(page.get_by_text(f"Steered toward {view.cohort_title(label)}")).to_be_visible()
        expect(page.get_by_text("Soft prompt (SPM) from the persona's embedding")).to_be_visible()
        e2e.select_option(page, "Survey question", f"{QUESTION}: {view.survey.questions[view.survey.question_index(QUESTION)].text}")
        page.get_by_role("slider", name="Temperature").focus()
        with e2e.rerun(page):
            page.keyboard.press("Home")  # temperature 0: greedy, so only steering makes the sides differ
        e2e.set_number(page, "Max new tokens", MAX_NEW)
        out = e2e.generate(page)
        page.screenshot(path=str(shots / "compare.png"), full_page=True)
        plain, steered = out["texts"]["unsteered"], out["texts"]["steered"]
        assert plain and steered and plain != steered
        # the page shows exactly what the service computes for this persona (greedy decoding)
        assert plain.split() == expected.unsteered.split() and steered.split() == expected.steered.split()
        assert set(out["first_token_s"]) == {"unsteered", "steered"}
        assert page.get_by_text("Option probabilities").count() >= 1

        with e2e.rerun(page):
            page.get_by_role("button", name="Send to annotation").click()
        expect(page.get_by_text("Stored as pair")).to_be_visible()

        e2e.go_to(page, "Evaluation")
        page.screenshot(path=str(shots / "evaluation.png"), full_page=True)
        assert page.get_by_text("python -m persona_core eval").count() >= 1
        assert not page.locator('[data-testid="stException"]').count()
        assert not errors, errors
        browser.close()


def test_lasso_on_the_map_selects_respondents_in_chromium(built_space):
    """A lasso drawn around nearly the whole map (SVG below charts.SVG_MAX_POINTS points) selects
    nearly everybody, and the selection summary shows them."""
    from playwright.sync_api import sync_playwright

    from persona_core.service.catalog import load_space_view

    n = load_space_view(built_space.url, built_space.run_id).survey.n_respondents

    env = {"PERSONA_DB_URL": built_space.url, "PERSONA_ARTIFACTS_DIR": str(built_space.artifacts)}
    with e2e.streamlit_server(env) as url, sync_playwright() as pw:
        browser = e2e.launch(pw)
        page = e2e.new_page(browser, viewport={"width": 1400, "height": 1000})
        e2e.open_map(page, url)
        chart = page.locator(".st-key-map_chart")
        assert chart.locator(".scatterlayer .point").count() > 0, "the map is drawn as SVG points"
        e2e.lasso(page, ".st-key-map_chart", margin=0.02)
        expect(page.get_by_text("Selected respondents").first).to_be_visible()
        shown = page.locator('[data-testid="stMetricValue"]').first.inner_text()
        assert 0.5 * n <= int(shown.replace(",", "")) <= n
        assert not page.locator('[data-testid="stException"]').count()
        browser.close()
