from __future__ import annotations

import numpy as np
import pytest

from persona_core.service import catalog
from persona_core.data.errors import DataError
from persona_core.service.catalog import database_status, load_space_view, stored_run_id
from persona_core.space import PersonaSpace


def test_status_of_empty_unmigrated_and_bad_databases(tmp_path):
    empty = database_status(f"sqlite:///{tmp_path / 'new.db'}")
    assert empty.ok and empty.empty and empty.runs == []
    bad = database_status("nosuchdriver://host/db")
    assert not bad.ok and bad.error


def test_status_lists_the_built_run(built_space):
    status = database_status(built_space.url)
    assert status.ok and not status.empty
    run = status.runs[0]
    assert run.id == built_space.run_id and run.run_key == built_space.run_key
    assert run.dataset_name == "app-test" and run.n_respondents == 150 and run.n_cohorts >= 2


def test_stored_run_id_picks_the_newest_or_the_one_asked_for(built_space, tmp_path):
    url, run = built_space.url, built_space.run_id
    dataset = database_status(url).runs[0].dataset_name
    assert stored_run_id(url) == stored_run_id(url, dataset) == stored_run_id(url, dataset, run) == run
    with pytest.raises(DataError, match=f"no embedding run {run + 100}"):
        stored_run_id(url, run=run + 100)
    with pytest.raises(DataError, match="of dataset 'elsewhere'"):
        stored_run_id(url, "elsewhere", run)
    with pytest.raises(DataError, match="no persona space found for any dataset: run `python -m persona_core build`"):
        stored_run_id(f"sqlite:///{tmp_path / 'empty.db'}")


def test_view_matches_the_saved_space(built_space, view):
    space = PersonaSpace.load(built_space.artifacts / "space")
    assert view.survey_source == "artifacts" and view.run_key == space.run_key
    np.testing.assert_allclose(view.coords, space.coords, rtol=1e-6)
    np.testing.assert_array_equal(view.cohort_labels, space.cohort_labels)
    np.testing.assert_array_equal(view.heldout_mask, space.heldout_mask)
    np.testing.assert_allclose(view.embeddings, space.embeddings, rtol=1e-6)
    for c in space.cohort_centroids:
        np.testing.assert_allclose(view.cohort_centroids[c], space.cohort_centroids[c], rtol=1e-6)
        assert view.profiles[c]["name"] == space.profiles[c]["name"]


def test_view_falls_back_to_the_database_survey(built_space, view, monkeypatch):
    monkeypatch.setattr(catalog, "_survey_from_artifacts", lambda *a: None)
    from_db = load_space_view(built_space.url, built_space.run_id)
    assert from_db.survey_source == "database"
    assert from_db.survey.fingerprint() == view.survey.fingerprint()


def test_cohort_titles(view):
    assert view.cohort_title(-1) == "Outliers"
    c = view.cohorts[0]
    assert view.cohort_title(c).startswith(f"Cohort {c} · ")
