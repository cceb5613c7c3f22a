"""LLM-written cohort names: stored per (cohort, model, prompt), replaced whole, gone with their run."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from db.cohort_names import CohortNameError, CohortNameRecord, load_cohort_names, save_cohort_names
from db.models import CohortName
from db.session import session_scope
from db.store import delete_dataset, save_embedding_run
from persona_core.data.survey_db import save_survey
from tests.concurrent import run_in_threads
from tests.db.test_store_runs import _run_args


@pytest.fixture
def run(db_url, make_survey):
    survey = make_survey()
    with session_scope(db_url) as s:
        dataset_id = save_survey(s, survey)
        run_id = save_embedding_run(s, dataset_id=dataset_id, **_run_args(survey))
    return db_url, run_id, survey


def _names(*pairs) -> list[CohortNameRecord]:
    return [CohortNameRecord(label, name, raw=name or "Sterter-", evidence=(f"Q{label}: yes", "Pet: dog"))
            for label, name in pairs]


def test_names_round_trip_per_model_and_prompt(run):
    url, run_id, _ = run
    with session_scope(url) as s:
        assert save_cohort_names(s, run_id, "m1", "p1", _names((0, "Dog owners"), (2, None))) == 2
        save_cohort_names(s, run_id, "m2", "p1", _names((0, "Cat people")))
    with session_scope(url) as s:
        got = load_cohort_names(s, run_id, "m1", "p1")
        assert got == {0: _names((0, "Dog owners"))[0], 2: _names((2, None))[0]}
        assert load_cohort_names(s, run_id, "m2", "p1")[0].name == "Cat people"
        assert load_cohort_names(s, run_id, "m1", "p2") == {}


def test_saving_again_replaces_that_keys_names_only(run):
    url, run_id, _ = run
    with session_scope(url) as s:
        save_cohort_names(s, run_id, "m1", "p1", _names((0, "Dog owners"), (1, "Readers")))
    with session_scope(url) as s:
        save_cohort_names(s, run_id, "m1", "p1", _names((0, "Dog lovers")))
    with session_scope(url) as s:
        got = load_cohort_names(s, run_id, "m1", "p1")
    assert {c: r.name for c, r in got.items()} == {0: "Dog lovers", 1: "Readers"}


def test_a_name_for_an_unknown_cohort_stores_nothing(run):
    url, run_id, _ = run
    with pytest.raises(CohortNameError, match=r"no cohort\(s\) \[7\]"):
        with session_scope(url) as s:
            save_cohort_names(s, run_id, "m1", "p1", _names((0, "Dog owners"), (7, "Ghosts")))
    with session_scope(url) as s:
        assert load_cohort_names(s, run_id, "m1", "p1") == {}


def test_names_go_with_their_dataset(run):
    url, run_id, survey = run
    with session_scope(url) as s:
        save_cohort_names(s, run_id, "m1", "p1", _names((0, "Dog owners")))
    with session_scope(url) as s:
        delete_dataset(s, survey.name)
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(CohortName)) == 0


def test_writers_of_the_same_names_queue_and_the_last_one_wins_whole(run):
    """Two tabs naming the same cohorts at once: no unique-key error, and no mix of two writers."""
    url, run_id, _ = run
    def write(k: int) -> None:
        for _ in range(3):
            with session_scope(url, write_lock=True) as s:
                save_cohort_names(s, run_id, "m1", "p1", _names((0, f"writer {k}"), (1, f"writer {k}"), (2, f"writer {k}")))

    assert run_in_threads(write, 6) == []
    with session_scope(url) as s:
        got = load_cohort_names(s, run_id, "m1", "p1")
    assert sorted(got) == [0, 1, 2] and len({r.name for r in got.values()}) == 1
