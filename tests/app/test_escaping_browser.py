"""In headless Chromium: text from data files, models, annotators and users is shown as the
characters it is. A survey whose question text, answer options (so the cohort titles, i.e. the
personas), a respondent attribute's values (so the persona description) and a numeric attribute's
name (the Cohorts page's table of means) carry Markdown and HTML, an
annotator name, a typed respondent id and a stored pair's prompt and answers carrying the same:
every page that shows them shows the text literally, and no link, image or bold element comes
from it (nor any request to the address in it)."""
from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from db.session import dispose_engine, session_scope, upgrade_database
from persona_core.data.survey import Question, Survey
from persona_core.preferences import store
from tests.app import e2e
from tests.app.synthetic import app_survey, fast_config

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# nothing listens on port 9 (discard); a link, image or request to it can only come from this text
TARGET = "http://127.0.0.1:9/"
# "$x^2$": TeX to Streamlit's Markdown (KaTeX) and to plotly.js (MathJax, where a page loads it)
PAYLOAD = f'[x]({TARGET}) ![i]({TARGET}i.png) <b>b</b> <a href="{TARGET}">a</a> $x^2$'
MARKED_QUESTION = "parks"
MAX_NEW = 8

# Everything in the document that would be the payload rendered live: an element pointing at the
# target (link, image, SVG link, CSS url), an element whose whole text is "b" shown bold (an
# HTML <b>/<strong>, or Plotly's bold <tspan> for <b> in a chart label), or typeset math (KaTeX's
# markup, or plotly.js's group for a TeX label).
LIVE_JS = """(target) => {
  const live = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of ['href', 'xlink:href', 'src', 'srcset', 'poster', 'data', 'style']) {
      const v = el.getAttribute(attr);
      if (v && v.includes(target)) live.push(`${attr}: ${el.outerHTML.slice(0, 200)}`);
    }
    if (el.childElementCount === 0 && el.textContent.trim() === 'b') {
      const weight = parseInt(getComputedStyle(el).fontWeight, 10);
      if (['B', 'STRONG'].includes(el.tagName.toUpperCase()) || weight >= 600 || /bold/.test(el.getAttribute('style') || ''))
        live.push(`bold: ${el.outerHTML.slice(0, 200)}`);
    }
    const cls = el.getAttribute('class') || '';
    if (/katex|-math-group/.test(cls)) live.push(`math: ${el.outerHTML.slice(0, 200)}`);
  }
  return live;
}"""


SHORT = "<b>b</b>"  # survives the cohort labels' shortening of answer options (20 characters)


def hostile_survey() -> Survey:
    """:func:`app_survey` with the payload in one question's text, after every answer option (and
    the short bold tag before it, so the shortened cohort titles carry markup too) and after every
    value of the ``party`` attribute (same answers, so the same planted groups)."""
    base = app_survey()
    questions = [
        Question(q.id, f"{q.text} {PAYLOAD}" if q.id == MARKED_QUESTION else q.text,
                 tuple(f"{SHORT} {o} {PAYLOAD}" for o in q.options), ordinal=q.ordinal)
        for q in base.questions
    ]
    attributes = base.attributes.assign(party=[f"{p} {PAYLOAD}" for p in base.attributes["party"]])
    attributes = attributes.rename(columns={"age": f"age {PAYLOAD}"})  # a numeric one: the Cohorts page's table
    return replace(base, questions=questions, attributes=attributes)


@pytest.fixture(scope="module")
def hostile_space(tmp_path_factory):
    from persona_core.pipeline import build_and_store
    from persona_core.service.catalog import load_space_view

    root = tmp_path_factory.mktemp("hostile_space")
    url = f"sqlite:///{root / 'persona.db'}"
    result = build_and_store(hostile_survey(), db_url=url, config=fast_config(), artifact_dir=root / "artifacts" / "space")
    upgrade_database(url)
    with session_scope(url, write_lock=True) as s:
        pair_id = store.add_pair(s, prompt=f"Prompt {PAYLOAD}", response_a=f"Answer A {PAYLOAD}",
                                 response_b=f"Answer B {PAYLOAD}", source="browser",
                                 meta={"steered_side": "b", "persona": {"title": f"Cohort 0 {PAYLOAD}"}})
    view = load_space_view(url, result.run_id)
    yield {"url": url, "artifacts": root / "artifacts", "view": view, "pair_id": pair_id}
    dispose_engine(url)


def _assert_nothing_live(page, where: str) -> None:
    live = page.evaluate(LIVE_JS, TARGET)
    assert not live, (where, live)


def test_markdown_and_html_in_data_model_and_user_text_are_shown_literally(hostile_space):
    from playwright.sync_api import sync_playwright

    from persona_core.service.compare import question_text

    view = hostile_space["view"]
    cohort = view.cohorts[0]
    title = view.cohort_title(cohort)
    # the persona's title carries markup from its distinctive answers (the full payload is cut by
    # the labels' shortening; it is checked in full in the charts, descriptions and pairs below)
    assert SHORT in title, title
    question = view.survey.questions[view.survey.question_index(MARKED_QUESTION)]
    env = {"PERSONA_DB_URL": hostile_space["url"], "PERSONA_ARTIFACTS_DIR": str(hostile_space["artifacts"])}
    with e2e.streamlit_server(env) as url, sync_playwright() as pw:
        browser = e2e.launch(pw)
        page = e2e.new_page(browser, viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        requested: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("request", lambda req: requested.append(req.url) if req.url.startswith(TARGET) else None)
        # plotly.js reads a label with two "$" as TeX unless told not to (charts.PLOTLY_CONFIG);
        # without MathJax on the page it then warns, and with MathJax it would typeset the label
        tex_warnings: list[str] = []
        page.on("console", lambda msg: tex_warnings.append(msg.text) if "MathJax" in msg.text else None)
        main = page.locator('[data-testid="stMain"]')
        charts = page.locator(e2e.CHARTS)

        # Opinion map: cohort titles in the legend, party values when coloured by party, a typed id
        e2e.open_map(page, url)
        expect(charts.first).to_contain_text(title)
        _assert_nothing_live(page, "map")
        search = page.get_by_label("Find respondent by id", exact=True)
        with e2e.rerun(page):
            search.fill(PAYLOAD)
            search.press("Enter")
        expect(main.get_by_text(f"No respondent with id {PAYLOAD!r}")).to_be_visible()
        _assert_nothing_live(page, "map, unknown respondent id")
        with e2e.rerun(page):
            search.fill("")
            search.press("Enter")
        e2e.select_option(page, "Colour by", "Attribute · party")
        expect(charts.first).to_contain_text(f"Democrat {PAYLOAD}")
        _assert_nothing_live(page, "map by party")

        # Cohorts: the persona's title, options and party values in the charts, the confirmation
        e2e.go_to(page, "Cohorts")
        expect(page.get_by_role("combobox", name="Cohort", exact=True)).to_have_value(title)
        expect(charts.filter(has_text=PAYLOAD).first).to_be_visible()
        expect(charts.filter(has_text=f"Democrat {PAYLOAD}").first).to_be_visible()
        expect(main.locator('[data-testid="stTable"]')).to_contain_text(f"age {PAYLOAD}")  # st.table reads Markdown
        with e2e.rerun(page):
            page.get_by_role("button", name="Steer toward this cohort").click()
        expect(main.get_by_text(f"Persona set to {title}; open Compare to generate.")).to_be_visible()
        expect(page.locator('[data-testid="stSidebar"]').get_by_text(f"Steering toward: {title}")).to_be_visible()
        _assert_nothing_live(page, "cohorts")

        # Compare: the question, its options, the persona's title and description, the prompt
        e2e.go_to(page, "Compare")
        expect(page.get_by_role("combobox", name="Survey question")).to_have_value(f"{question.id}: {question.text[:90]}")
        expect(main.get_by_text("Options: " + " · ".join(f"{chr(65 + k)}. {o}" for k, o in enumerate(question.options)))).to_be_visible()
        expect(main.get_by_text(f"Steered toward {title}")).to_be_visible()
        expect(main.get_by_text(f"Real answers of the {len(view.members(cohort))} members")).to_be_visible()
        page.get_by_text("Persona text (what the steered side is told)").click()
        expect(page.get_by_label("Persona description")).to_have_value(re.compile(r"party: mostly \w+ " + re.escape(PAYLOAD)))
        _assert_nothing_live(page, "compare")
        e2e.set_number(page, "Max new tokens", MAX_NEW)
        with e2e.rerun(page, timeout=300_000):
            page.get_by_role("button", name="Generate").click()
        expect(main.get_by_text(f"question: {question_text(question).splitlines()[0][:80]}")).to_be_visible()
        expect(charts.filter(has_text="Option probabilities")).to_contain_text(f"A. {question.options[0]}")
        _assert_nothing_live(page, "compare, generated")

        # Annotate: the annotator's name from the link, the stored pair's prompt and answers
        e2e.open_app(page, f"{url}/annotate?annotator={quote(PAYLOAD)}")
        expect(main.get_by_text(f"Annotating as {PAYLOAD}")).to_be_visible()
        expect(main.get_by_text(f"Pair {hostile_space['pair_id']} ·")).to_be_visible()
        expect(page.locator(".st-key-annotate_prompt")).to_have_text(f"Prompt {PAYLOAD}")
        shown = {page.locator(f".st-key-annotate_{side}").inner_text().strip() for side in ("left", "right")}
        assert shown == {f"Answer A {PAYLOAD}", f"Answer B {PAYLOAD}"}
        _assert_nothing_live(page, "annotate")

        e2e.ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(e2e.ARTIFACTS / "escaping_annotate.png"), full_page=True)
        assert not page.locator('[data-testid="stException"]').count()
        assert not errors, errors
        assert not tex_warnings, tex_warnings[:3]
        browser.close()
    assert not requested, requested

