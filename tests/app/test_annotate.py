"""AppTest runs of the Annotate page: annotator identity (typed or ?annotator=), blind order
(random, stored as shown), one stored vote per submission however often the page reruns,
skip, undo, the induced persona and the statistics."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from db.session import dispose_engine, session_scope, upgrade_database
from persona_core.preferences import store

PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "annotate.py")


@pytest.fixture
def pair_db(tmp_path, monkeypatch):
    """A SQLite database with 12 pairs (response_b steered); the page reads it from the environment."""
    url = upgrade_database(f"sqlite:///{tmp_path / 'pairs.db'}")
    with session_scope(url, write_lock=True) as s:
        ids = [store.add_pair(s, prompt=f"Prompt number {i}", response_a=f"first answer {i}", response_b=f"second answer {i}",
                              source="test", meta={"steered_side": "b", "persona": {"title": "Cohort 2"}, "model": "m"})
               for i in range(12)]
    monkeypatch.setenv("PERSONA_DB_URL", url)
    yield url, ids
    dispose_engine(url)


def _run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _page(name: str | None = "ana") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    if name:
        at.query_params["annotator"] = name
    return _run(at)


def _shown(at: AppTest) -> tuple[str, str]:
    texts = [t.value for t in at.text]
    return texts[1], texts[2]  # prompt, left, right


def _votes(url, **kw):
    with session_scope(url) as s:
        return store.list_votes(s, **kw)


def test_typed_name_then_progress(pair_db):
    at = _page(None)
    assert at.text_input(key="annotate_name") is not None and not at.radio
    at.text_input(key="annotate_name").set_value("  Bea ")
    _run(at)
    assert at.session_state["annotator"] == "Bea"
    assert any("Annotating as **Bea**" in m.value for m in at.markdown)
    assert "0 of 12" in at.get("progress")[0].proto.text
    assert "keys: 1–4 choose, Enter submit, S skip" in at.caption[0].value


def test_vote_is_stored_once_with_the_order_shown(pair_db):
    url, ids = pair_db
    at = _page()
    current = dict(at.session_state["annotate_current"])
    for _ in range(2):  # reruns keep the same pair and order
        _run(at)
        assert at.session_state["annotate_current"] == current
    left, right = _shown(at)
    at.radio(key="annotate_choice").set_value("left")
    at.text_area(key="annotate_rationale").set_value("clearer")
    at.button(key="annotate_submit").click()
    _run(at)
    assert any("Saved your vote" in s.value for s in at.success)
    for _ in range(3):
        _run(at)
    (vote,) = _votes(url, status=None)
    assert vote.pair_id == current["pair_id"] and vote.displayed_order == current["order"]
    assert vote.token == current["token"] and vote.rationale == "clearer" and vote.seconds >= 0
    with session_scope(url) as s:
        pair = store.get_pair(s, vote.pair_id)
    chosen = pair.response_a if vote.choice == "a" else pair.response_b
    assert chosen == left  # the stored choice is the text that was on the left
    assert vote.facts["steered_shown"] == ("right" if current["order"] == "ab" else "left")
    assert at.session_state["annotate_current"]["pair_id"] != current["pair_id"]
    assert at.radio(key="annotate_choice").value is None
    # the same submission again (a resent click) stores nothing new
    store.submit_vote(url, pair_id=vote.pair_id, annotator="ana", choice=vote.choice, displayed_order=vote.displayed_order,
                      token=vote.token)
    assert len(_votes(url, status=None)) == 1


def test_blind_order_randomizes_and_matches_what_was_shown(pair_db, monkeypatch):
    import random

    from persona_core.preferences import order as blind

    url, ids = pair_db
    rng = random.Random(7)  # seeded: both orders occur among the 12 draws (unseeded, 1 run in 2,000 showed one order only)
    monkeypatch.setattr(blind, "draw_order", lambda r=None, _draw=blind.draw_order: _draw(rng))
    at = _page()
    shown = {}
    for _ in range(len(ids)):
        cur = at.session_state["annotate_current"]
        shown[cur["pair_id"]] = (cur["order"], _shown(at))
        at.radio(key="annotate_choice").set_value("right")
        at.button(key="annotate_submit").click()
        _run(at)
    assert any("All 12 pairs are annotated" in s.value for s in at.success)
    votes = _votes(url)
    assert len(votes) == 12
    assert {o for o, _ in shown.values()} == {"ab", "ba"}
    for v in votes:
        order, (left, right) = shown[v.pair_id]
        assert v.displayed_order == order and v.shown_choice == "right"
        n = left.split()[-1]
        assert {left, right} == {f"first answer {n}", f"second answer {n}"}
        assert (right == f"first answer {n}") == (v.choice == "a")


def test_skip_undo_and_revote(pair_db):
    url, ids = pair_db
    at = _page()
    first = at.session_state["annotate_current"]["pair_id"]
    at.button(key="annotate_skip").click()
    _run(at)
    assert at.session_state["annotate_current"]["pair_id"] != first
    assert any("Skipped pair" in i.value for i in at.info)
    second = at.session_state["annotate_current"]["pair_id"]
    at.button(key="annotate_submit").click()  # nothing chosen yet: a warning, no vote
    _run(at)
    assert any("Choose first" in w.value for w in at.warning) and not _votes(url)
    at.radio(key="annotate_choice").set_value("tie")
    at.button(key="annotate_submit").click()
    _run(at)
    assert [v.pair_id for v in _votes(url)] == [second]
    at.button(key="annotate_undo").click()
    _run(at)
    assert _votes(url) == [] and at.session_state["annotate_current"]["pair_id"] == second
    at.radio(key="annotate_choice").set_value("both_bad")
    at.button(key="annotate_submit").click()
    _run(at)
    assert [(v.pair_id, v.choice) for v in _votes(url)] == [(second, "both_bad")]
    assert [v.status for v in _votes(url, status=None)] == ["undone", "current"]
    assert "1 of 12" in at.get("progress")[0].proto.text


def test_induced_persona_and_statistics_are_shown(pair_db):
    url, ids = pair_db
    from persona_core.preferences.personas import save_induced_persona

    with session_scope(url, write_lock=True) as s:
        save_induced_persona(s, annotator="ana", text="This person likes short answers.", demos=[], metrics={},
                             config={}, model_name="m")
    for who in ("ana", "bo"):
        store.submit_vote(url, pair_id=ids[0], annotator=who, choice="b", displayed_order="ab", token=store.new_token())
    at = _page("ana")
    assert any(t.value == "This person likes short answers." for t in at.text)  # plain text, not Markdown
    assert "1 of 12" in at.get("progress")[0].proto.text
    text = "\n".join(m.value for m in at.markdown)
    assert "raw agreement 100.0%" in text and "12 pairs, 2 current votes" in text
    assert len(at.dataframe) == 2
    wins = at.dataframe[1].value
    assert wins["persona"].tolist() == ["Cohort 2"] and wins["steered wins (95% CI)"].tolist() == ["100% [100%, 100%]"]
    other = _page("bo")
    assert not any("likes short answers" in m.value for m in other.markdown)
