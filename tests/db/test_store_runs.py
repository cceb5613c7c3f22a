"""Embedding runs and evaluation runs: round trips, latest/list, validation, cascades."""
from __future__ import annotations

import time
from datetime import timezone

import numpy as np
import pytest
from sqlalchemy import func, select

from db.models import Cohort, EmbeddingRun, EvaluationRun, RespondentEmbedding
from db.session import session_scope
from db.store import (
    NotFoundError,
    StoreError,
    delete_dataset,
    latest_embedding_run,
    list_embedding_runs,
    list_evaluation_runs,
    load_embedding_run,
    save_embedding_run,
    save_evaluation_run,
)
from persona_core.data.survey_db import save_survey


def _run_args(survey, *, seed: int = 0, dim: int = 4, ids=None) -> dict:
    rng = np.random.default_rng(seed)
    ids = list(reversed(survey.respondent_ids)) if ids is None else ids  # not the survey's order
    n = len(ids)
    labels = rng.integers(-1, 3, n)
    labels[:3] = [-1, 0, 2]
    return {
        "params": {"dim": np.int64(dim), "lr": 0.05, "seed": seed, "layers": (32, 16)},
        "metrics": {"heldout_accuracy": np.float32(0.6875), "logloss": float("nan")},
        "seconds": {"embed": 1.5, "project": 0.25},
        "artifact_path": f"/tmp/run-{seed}",
        "respondent_ids": ids,
        "embeddings": rng.normal(size=(n, dim)).astype(np.float32),
        "coords": rng.normal(size=(n, 2)),
        "cohort_labels": labels,
        "cohort_probabilities": rng.random(n),
        "likely_cohorts": np.where(labels >= 0, labels, rng.integers(0, 3, n)),
        "cohorts": [
            {"label": k, "size": int((labels == k).sum()), "name": f"cohort {k}",
             "centroid": rng.normal(size=dim).tolist(),
             "profile": {"top": [{"question": "q1", "distance": 0.25, "counts": [3, 4]}], "age": {"mean": 41.5}}}
            for k in (2, 0, 1)
        ],
    }


@pytest.fixture
def dataset(db_url, make_survey):
    survey = make_survey()
    with session_scope(db_url) as s:
        dataset_id = save_survey(s, survey)
    return db_url, dataset_id, survey


def test_embedding_run_round_trip(dataset):
    url, dataset_id, survey = dataset
    args = _run_args(survey)
    with session_scope(url) as s:
        run_id = save_embedding_run(s, dataset_id=dataset_id, **args)
    with session_scope(url) as s:
        rec = load_embedding_run(s, run_id)
    assert (rec.id, rec.dataset_id, rec.dataset_name) == (run_id, dataset_id, survey.name)
    assert rec.respondent_ids == args["respondent_ids"]
    assert rec.embeddings.dtype == np.float32
    np.testing.assert_array_equal(rec.embeddings, args["embeddings"])
    np.testing.assert_array_equal(rec.coords, args["coords"])
    np.testing.assert_array_equal(rec.cohort_labels, args["cohort_labels"])
    np.testing.assert_array_equal(rec.cohort_probabilities, args["cohort_probabilities"])
    np.testing.assert_array_equal(rec.likely_cohorts, args["likely_cohorts"])
    assert rec.params == {"dim": 4, "lr": 0.05, "seed": 0, "layers": [32, 16]}
    assert rec.metrics == {"heldout_accuracy": pytest.approx(0.6875), "logloss": None}  # NaN -> null
    assert rec.seconds == args["seconds"]
    assert rec.artifact_path == "/tmp/run-0"
    assert rec.created_at.tzinfo is not None
    expected = sorted(args["cohorts"], key=lambda c: c["label"])
    assert [c["label"] for c in rec.cohorts] == [0, 1, 2]
    for got, want in zip(rec.cohorts, expected):
        assert got["size"] == want["size"] and got["name"] == want["name"]
        assert got["centroid"] == pytest.approx(want["centroid"])
        assert got["profile"] == want["profile"]


def test_run_on_a_subset_of_respondents(dataset):
    url, dataset_id, survey = dataset
    ids = survey.respondent_ids[3:8]
    with session_scope(url) as s:
        run_id = save_embedding_run(s, dataset_id=dataset_id, **_run_args(survey, ids=ids))
    with session_scope(url) as s:
        assert load_embedding_run(s, run_id).respondent_ids == ids


def test_latest_and_list(dataset, make_survey):
    url, dataset_id, survey = dataset
    other = make_survey("other", seed=9)
    with session_scope(url) as s:
        assert latest_embedding_run(s) is None
        first = save_embedding_run(s, dataset_id=dataset_id, **_run_args(survey, seed=1))
    time.sleep(0.01)
    with session_scope(url) as s:
        other_id = save_survey(s, other)
        second = save_embedding_run(s, dataset_id=dataset_id, **_run_args(survey, seed=2))
    time.sleep(0.01)
    with session_scope(url) as s:
        third = save_embedding_run(s, dataset_id=other_id, **_run_args(other, seed=3))
    with session_scope(url) as s:
        assert latest_embedding_run(s).id == third
        assert latest_embedding_run(s, survey.name).id == second
        assert latest_embedding_run(s, "no such dataset") is None
        runs = list_embedding_runs(s, survey.name)
        everything = list_embedding_runs(s)
    assert [r.id for r in runs] == [second, first]
    assert [r.id for r in everything] == [third, second, first]
    assert runs[0].n_cohorts == 3 and runs[0].dim == 4 and runs[0].n_respondents == survey.n_respondents
    assert runs[0].params["seed"] == 2 and runs[0].dataset_name == survey.name
    assert runs[0].created_at.tzinfo == timezone.utc or runs[0].created_at.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.update(coords=a["coords"][:, :1]), "coords"),
        (lambda a: a.update(embeddings=a["embeddings"][:-1]), "embeddings"),
        (lambda a: a.update(cohort_labels=a["cohort_labels"][:-1]), "cohort_labels"),
        (lambda a: a.update(respondent_ids=a["respondent_ids"][:-1] + ["ghost"]), "ghost"),
        (lambda a: a.update(respondent_ids=a["respondent_ids"][:-1] + a["respondent_ids"][:1]), "duplicates"),
        (lambda a: a["cohorts"].append(dict(a["cohorts"][0])), "not unique"),
    ],
)
def test_bad_embedding_runs_are_refused(dataset, change, message):
    url, dataset_id, survey = dataset
    args = _run_args(survey)
    change(args)
    with pytest.raises(StoreError, match=message):
        with session_scope(url) as s:
            save_embedding_run(s, dataset_id=dataset_id, **args)
    with session_scope(url) as s:
        assert s.execute(select(func.count()).select_from(EmbeddingRun)).scalar_one() == 0


def test_unknown_dataset_and_run(dataset):
    url, dataset_id, survey = dataset
    with session_scope(url) as s:
        with pytest.raises(NotFoundError):
            save_embedding_run(s, dataset_id=dataset_id + 100, **_run_args(survey))
        with pytest.raises(NotFoundError):
            load_embedding_run(s, 12345)
        with pytest.raises(NotFoundError):
            save_evaluation_run(s, run_id=12345, model_name="m", results={})


def test_evaluation_runs(dataset):
    url, dataset_id, survey = dataset
    with session_scope(url) as s:
        run_a = save_embedding_run(s, dataset_id=dataset_id, **_run_args(survey, seed=1))
        run_b = save_embedding_run(s, dataset_id=dataset_id, **_run_args(survey, seed=2))
        results = {"methods": {"unsteered": {"accuracy": 0.35, "loglik": -1.2}, "cf": {"accuracy": np.float64(0.66)}},
                   "spm_relative_improvement": float("inf"), "n_heldout": np.int32(120)}
        e1 = save_evaluation_run(s, run_id=run_a, model_name="SmolLM2-135M", checkpoint="ckpt/epoch-3",
                                 config={"mode": "suffix", "T": 2}, results=results)
        e2 = save_evaluation_run(s, run_id=run_b, model_name="SmolLM2-135M", results={"methods": {}})
    with session_scope(url) as s:
        everything = list_evaluation_runs(s)
        only_a = list_evaluation_runs(s, run_id=run_a)
        by_name = list_evaluation_runs(s, dataset_name=survey.name)
        none = list_evaluation_runs(s, dataset_name="other")
    assert [e.id for e in everything] == [e2, e1] == [e.id for e in by_name]
    assert none == []
    (ev,) = only_a
    assert (ev.run_id, ev.model_name, ev.checkpoint, ev.dataset_name) == (run_a, "SmolLM2-135M", "ckpt/epoch-3", survey.name)
    assert ev.config == {"mode": "suffix", "T": 2}
    assert ev.results == {"methods": {"unsteered": {"accuracy": 0.35, "loglik": -1.2}, "cf": {"accuracy": 0.66}},
                          "spm_relative_improvement": None, "n_heldout": 120}
    assert everything[0].checkpoint is None


def test_deleting_a_dataset_deletes_its_runs(dataset, make_survey):
    url, dataset_id, survey = dataset
    with session_scope(url) as s:
        run_id = save_embedding_run(s, dataset_id=dataset_id, **_run_args(survey))
        save_evaluation_run(s, run_id=run_id, model_name="m", results={"a": 1})
    with session_scope(url) as s:
        delete_dataset(s, survey.name)
    with session_scope(url) as s:
        for model in (EmbeddingRun, RespondentEmbedding, Cohort, EvaluationRun):
            assert s.execute(select(func.count()).select_from(model)).scalar_one() == 0, model.__tablename__


def test_replacing_a_dataset_drops_its_runs(dataset, make_survey):
    url, dataset_id, survey = dataset
    with session_scope(url) as s:
        run_id = save_embedding_run(s, dataset_id=dataset_id, **_run_args(survey))
    with session_scope(url) as s:
        save_survey(s, make_survey(seed=42), replace=True)
    with session_scope(url) as s:
        assert list_embedding_runs(s) == []
        with pytest.raises(NotFoundError):
            load_embedding_run(s, run_id)
