"""In headless Chromium: annotate three pairs with the keyboard only (1/2 to choose, Enter to
submit, S to skip) on the Annotate page, then find exactly those votes in the DPO export."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from db.session import dispose_engine, session_scope, upgrade_database
from persona_core.preferences import store
from persona_core.preferences.io import dpo_records
from tests.app import e2e

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def pair_db(tmp_path):
    url = upgrade_database(f"sqlite:///{tmp_path / 'pairs.db'}")
    with session_scope(url, write_lock=True) as s:
        for i in range(5):
            store.add_pair(s, prompt=f"Keyboard prompt {i}", response_a=f"answer A{i}", response_b=f"answer B{i}",
                           source="browser", meta={"steered_side": "b", "persona": {"title": "Cohort 0"}})
    yield url
    dispose_engine(url)


def _texts(page) -> tuple[str, str, str]:
    return tuple(page.locator(f".st-key-annotate_{k}").inner_text().strip() for k in ("prompt", "left", "right"))


def test_keyboard_annotation_ends_up_in_the_export(pair_db, tmp_path):
    from playwright.sync_api import sync_playwright

    env = {"PERSONA_DB_URL": pair_db, "PERSONA_ARTIFACTS_DIR": str(tmp_path / "artifacts")}
    with e2e.streamlit_server(env) as url, sync_playwright() as pw:
        browser = e2e.launch(pw)
        page = e2e.new_page(browser, viewport={"width": 1300, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        e2e.open_app(page, f"{url}/annotate?annotator=keyboard-kim")
        expect(page.locator(".st-key-annotate_submit button")).to_be_visible()
        page.wait_for_function("() => !!document.__annotateKeys")  # the page's key handler is installed
        expect(page.get_by_text("Annotating as")).to_be_visible()
        expect(page.get_by_text("keys: 1–4 choose, Enter submit, S skip")).to_be_visible()
        expect(page.get_by_text("0 of 5 annotated")).to_be_visible()

        skipped = _texts(page)
        with e2e.rerun(page):
            page.keyboard.press("s")
        expect(page.get_by_text("Skipped pair")).to_be_visible()
        expect(page.locator(".st-key-annotate_prompt")).not_to_have_text(skipped[0])

        expected = []
        for n, key in enumerate(["1", "2", "1"], start=1):
            prompt, left, right = _texts(page)
            with e2e.rerun(page):
                page.keyboard.press(key)
            expect(page.locator('.st-key-annotate_choice input[type="radio"]').nth(int(key) - 1)).to_be_checked()
            with e2e.rerun(page):
                page.keyboard.press("Enter")
            expect(page.get_by_text(f"{n} of 5 annotated")).to_be_visible()
            chosen, rejected = (left, right) if key == "1" else (right, left)
            expected.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
        e2e.ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(e2e.ARTIFACTS / "annotate.png"), full_page=True)
        assert not page.locator('[data-testid="stException"]').count()
        assert not errors, errors
        browser.close()

    with session_scope(pair_db) as s:
        export = dpo_records(s, annotator="keyboard-kim")
        votes = store.list_votes(s, annotator="keyboard-kim")
    assert export.records == expected
    assert len(votes) == 3 and all(v.facts["via"] == "page" and v.seconds > 0 for v in votes)
    assert {v.displayed_order for v in votes} <= {"ab", "ba"}
