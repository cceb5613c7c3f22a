"""Votes: one current vote per annotator and pair, re-votes replace with history kept, the
same token never stores twice, undo restores the replaced vote; hidden facts are stored."""
from __future__ import annotations

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from db.models import Annotation
from db.session import session_scope
from db.store import NotFoundError, StoreError
from persona_core.preferences import store


def _vote(url, pair_id, annotator="ana", choice="a", order="ab", token=None, **kw):
    return store.submit_vote(url, pair_id=pair_id, annotator=annotator, choice=choice, displayed_order=order,
                             token=token or store.new_token(), **kw)


def test_vote_stores_hidden_facts_and_time(pairs):
    url, ids = pairs
    r = _vote(url, ids[0], choice="b", order="ba", rationale="  shorter  ", seconds=12.5)
    assert r.created and r.replaced_id is None
    v = r.vote
    assert (v.choice, v.displayed_order, v.shown_choice, v.rationale, v.seconds) == ("b", "ba", "left", "shorter", 12.5)
    assert v.facts["steered_side"] == "b" and v.facts["steered_shown"] == "left"
    assert v.facts["persona"]["title"] == "Cohort 1" and v.facts["checkpoint"] == "/ckpt/spm-1"
    assert v.facts["model"] == "smollm2-135m-instruct" and v.facts["displayed_order"] == "ba"
    with session_scope(url) as s:
        assert store.list_votes(s) == [v]


def test_revote_replaces_and_keeps_history(pairs):
    url, ids = pairs
    first = _vote(url, ids[0], choice="a").vote
    second = _vote(url, ids[0], choice="tie")
    assert second.replaced_id == first.id and second.vote.replaces_id == first.id
    with session_scope(url) as s:
        current = store.list_votes(s, annotator="ana")
        history = store.list_votes(s, annotator="ana", status=None)
    assert [v.choice for v in current] == ["tie"]
    assert [(v.id, v.status) for v in history] == [(first.id, "replaced"), (second.vote.id, "current")]


def test_same_token_is_stored_once(pairs):
    url, ids = pairs
    first = _vote(url, ids[1], token="tok-1")
    again = _vote(url, ids[1], token="tok-1", choice="b")
    assert first.created and not again.created and again.vote.id == first.vote.id and again.vote.choice == "a"
    with pytest.raises(StoreError, match="already used"):
        _vote(url, ids[2], token="tok-1")
    with session_scope(url) as s:
        assert len(store.list_votes(s, status=None)) == 1


def test_database_allows_one_current_vote_per_annotator_and_pair(pairs):
    url, ids = pairs
    _vote(url, ids[0])
    row = dict(pair_id=ids[0], annotator="ana", choice="b", displayed_order="ab", rationale="", status="current",
               token="raw", facts={})
    with pytest.raises(IntegrityError):
        with session_scope(url) as s:
            s.execute(insert(Annotation).values(**row))
    with session_scope(url) as s:  # a non-current row of the same pair is fine
        s.execute(insert(Annotation).values(**{**row, "status": "replaced"}))


def test_undo_withdraws_last_and_restores_replaced(pairs):
    url, ids = pairs
    a = _vote(url, ids[0], choice="a").vote
    b = _vote(url, ids[1], choice="b").vote
    c = _vote(url, ids[0], choice="both_bad").vote  # re-vote on the first pair
    assert store.undo_last(url, "ana").id == c.id
    with session_scope(url) as s:
        current = {v.pair_id: v for v in store.list_votes(s, annotator="ana")}
    assert current[ids[0]].id == a.id and current[ids[0]].status == "current" and current[ids[1]].id == b.id
    assert store.undo_last(url, "ana").id == b.id
    assert store.undo_last(url, "ana").id == a.id
    assert store.undo_last(url, "ana") is None
    with session_scope(url) as s:
        assert store.list_votes(s) == []
        assert sorted(v.status for v in store.list_votes(s, status=None)) == ["undone", "undone", "undone"]


def test_progress_counts_current_votes(pairs):
    url, ids = pairs
    with session_scope(url) as s:
        assert store.progress(s, "ana").label == "0 of 5"
    _vote(url, ids[3])
    _vote(url, ids[3])  # re-vote: still one pair done
    _vote(url, ids[0], annotator="bo")
    with session_scope(url) as s:
        p = store.progress(s, "ana")
        assert p.label == "1 of 5" and p.pending == [ids[0], ids[1], ids[2], ids[4]]
        assert store.annotators(s) == ["ana", "bo"]


def test_bad_votes_raise(pairs):
    url, ids = pairs
    with pytest.raises(NotFoundError):
        _vote(url, 999_999)
    with pytest.raises(ValueError, match="choice"):
        _vote(url, ids[0], choice="A")
    with pytest.raises(ValueError, match="annotator"):
        _vote(url, ids[0], annotator="  ")
    with pytest.raises(ValueError, match="displayed_order"):
        _vote(url, ids[0], order="ac")
    with session_scope(url) as s:
        assert store.list_votes(s, status=None) == []
