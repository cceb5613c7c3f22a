"""Saving and loading surveys: round trip, idempotence, conflicts, replace, all-or-nothing."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

import db.bulk
import db.store as store
from db.models import Answer, Dataset, Option, Question, Respondent
from db.session import session_scope
from db.store import DatasetConflictError, NotFoundError, delete_dataset, list_datasets
from persona_core.data.errors import DataError
from persona_core.data.survey import Survey
from persona_core.data.survey_db import load_survey, save_survey


def _counts(url: str) -> dict[str, int]:
    with session_scope(url) as s:
        return {
            m.__tablename__: s.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (Dataset, Question, Option, Respondent, Answer)
        }


def _assert_same_survey(a: Survey, b: Survey) -> None:
    assert b.name == a.name
    assert b.fingerprint() == a.fingerprint()
    assert b.questions == a.questions
    assert b.respondent_ids == a.respondent_ids
    for field in ("respondent", "question", "option"):
        np.testing.assert_array_equal(getattr(b.answers, field), getattr(a.answers, field))
    pd.testing.assert_frame_equal(b.attributes, a.attributes)
    assert b.source == a.source


def test_round_trip_gives_an_equal_survey(db_url, make_survey, monkeypatch):
    monkeypatch.setattr(db.bulk, "CHUNK_ROWS", 7)  # several chunks on the executemany path
    survey = make_survey()
    with session_scope(db_url) as s:
        dataset_id = save_survey(s, survey)
    with session_scope(db_url) as s:
        back = load_survey(s, survey.name)
    assert isinstance(dataset_id, int)
    _assert_same_survey(survey, back)
    assert back.attributes["degree"].cat.ordered
    assert pd.isna(back.attributes.loc["R1001", "age"])
    assert _counts(db_url) == {
        "dataset": 1, "question": survey.n_questions, "option": int(survey.n_options_per_question.sum()),
        "respondent": survey.n_respondents, "answer": survey.n_answers,
    }


def test_round_trip_without_attributes(db_url, make_survey):
    base = make_survey()
    survey = Survey.from_codes("bare", base.questions, base.respondent_ids, base.answers)
    with session_scope(db_url) as s:
        save_survey(s, survey)
    with session_scope(db_url) as s:
        back = load_survey(s, "bare")
    _assert_same_survey(survey, back)
    assert list(back.attributes.columns) == []


def test_list_datasets(db_url, make_survey):
    a, b = make_survey("b-survey", seed=1), make_survey("a-survey", seed=2, n_respondents=7)
    with session_scope(db_url) as s:
        save_survey(s, a)
        save_survey(s, b, kind="csv")
    with session_scope(db_url) as s:
        infos = list_datasets(s)
    assert [i.name for i in infos] == ["a-survey", "b-survey"]
    assert infos[0].kind == "csv" and infos[1].kind == "test"  # explicit kind, else source["kind"]
    assert (infos[0].n_respondents, infos[0].n_questions, infos[0].n_answers) == (7, b.n_questions, b.n_answers)
    assert infos[1].fingerprint == a.fingerprint()
    assert infos[1].created_at.tzinfo is not None


def test_saving_the_same_survey_twice_does_not_duplicate(db_url, make_survey):
    survey = make_survey()
    with session_scope(db_url) as s:
        first = save_survey(s, survey)
    before = _counts(db_url)
    with session_scope(db_url) as s:
        second = save_survey(s, make_survey())  # an equal survey built anew
    assert second == first
    assert _counts(db_url) == before


def test_same_name_other_content_is_refused(db_url, make_survey):
    with session_scope(db_url) as s:
        save_survey(s, make_survey(seed=0))
    before = _counts(db_url)
    with pytest.raises(DatasetConflictError, match="replace=True"):
        with session_scope(db_url) as s:
            save_survey(s, make_survey(seed=5))
    assert _counts(db_url) == before


def test_replace_swaps_the_dataset(db_url, make_survey):
    old, new = make_survey(seed=0), make_survey(seed=5, n_respondents=20)
    with session_scope(db_url) as s:
        old_id = save_survey(s, old)
    with session_scope(db_url) as s:
        new_id = save_survey(s, new, replace=True)
    assert new_id != old_id
    with session_scope(db_url) as s:
        _assert_same_survey(new, load_survey(s, new.name))
        assert [d.id for d in list_datasets(s)] == [new_id]
    counts = _counts(db_url)
    assert counts["respondent"] == 20 and counts["answer"] == new.n_answers


def _fail_after_answers(monkeypatch):
    real = store.bulk_insert

    def bulk_insert_then_fail(session, table, columns, **kw):
        n = real(session, table, columns, **kw)
        if table.name == "answer":
            raise RuntimeError("injected failure after the answers were inserted")
        return n

    monkeypatch.setattr(store, "bulk_insert", bulk_insert_then_fail)


def test_failure_after_answers_leaves_nothing(db_url, make_survey, monkeypatch):
    _fail_after_answers(monkeypatch)
    with pytest.raises(RuntimeError, match="injected"):
        with session_scope(db_url) as s:
            save_survey(s, make_survey())
    assert _counts(db_url) == dict.fromkeys(("dataset", "question", "option", "respondent", "answer"), 0)


def test_failed_replace_keeps_the_old_dataset(db_url, make_survey, monkeypatch):
    old = make_survey(seed=0)
    with session_scope(db_url) as s:
        save_survey(s, old)
    before = _counts(db_url)
    _fail_after_answers(monkeypatch)
    with pytest.raises(RuntimeError, match="injected"):
        with session_scope(db_url) as s:
            save_survey(s, make_survey(seed=5), replace=True)
    assert _counts(db_url) == before
    with session_scope(db_url) as s:
        _assert_same_survey(old, load_survey(s, old.name))


def _with_duplicate_last_answer(survey: Survey) -> Survey:
    """Make the last answer row repeat an earlier (respondent, question) pair."""
    a = survey.answers
    a.respondent[-1], a.question[-1] = a.respondent[0], a.question[0]
    return survey


def test_bad_last_row_is_rejected_before_writing(db_url, make_survey):
    survey = _with_duplicate_last_answer(make_survey())
    with pytest.raises(DataError, match="duplicate"):
        with session_scope(db_url) as s:
            save_survey(s, survey)
    assert _counts(db_url)["dataset"] == 0


def test_database_rejects_duplicate_answer_and_rolls_back(db_url, make_survey, monkeypatch):
    """Even when validation is bypassed, the answer primary key refuses the bad last row and
    the whole load (dataset, questions, respondents, answers) is rolled back."""
    survey = _with_duplicate_last_answer(make_survey())
    monkeypatch.setattr(Survey, "validate", lambda self: None)
    with pytest.raises(IntegrityError):
        with session_scope(db_url) as s:
            save_survey(s, survey)
    assert _counts(db_url) == dict.fromkeys(("dataset", "question", "option", "respondent", "answer"), 0)


def test_load_unknown_dataset(db_url):
    with session_scope(db_url) as s:
        with pytest.raises(NotFoundError, match="nope"):
            load_survey(s, "nope")


def test_delete_dataset(db_url, make_survey):
    with session_scope(db_url) as s:
        save_survey(s, make_survey("keep", seed=1))
        save_survey(s, make_survey("drop", seed=2))
    with session_scope(db_url) as s:
        assert delete_dataset(s, "drop") is True
        assert delete_dataset(s, "drop") is False
    with session_scope(db_url) as s:
        assert [d.name for d in list_datasets(s)] == ["keep"]
        kept = load_survey(s, "keep")
    assert _counts(db_url)["answer"] == kept.n_answers
