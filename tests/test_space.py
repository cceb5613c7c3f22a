"""Projection, cohorts and the whole persona-space pipeline on a planted survey."""
import time

import numpy as np
import pytest

from persona_core.cohorts import CohortConfig, CohortFinder
from persona_core.embed.factorization import FactorizationConfig
from persona_core.project import MapProjector, ProjectionConfig
from persona_core.space import PersonaSpace, SpaceConfig, build_persona_space
from tests.synthetic import planted_survey

SMALL = SpaceConfig(
    factorization=FactorizationConfig(n_factors=4, epochs=30, batch_size=64, learning_rate=0.05, respondent_l2=3.0, option_l2=3.0, progress=False),
    cohorts=CohortConfig(min_cluster_size=15),
)


@pytest.fixture(scope="module")
def space_and_groups():
    survey, groups = planted_survey(n_respondents=300, n_questions=40, n_groups=3, seed=0)
    stages = []
    space = build_persona_space(survey, SMALL, on_stage=stages.append)
    assert stages == ["embed", "project", "cluster", "profile"]
    return space, groups


def test_projection_is_reproducible_with_a_seed():
    X = np.random.default_rng(0).normal(size=(120, 6))
    a = MapProjector(ProjectionConfig(random_state=1)).fit_transform(X)
    b = MapProjector(ProjectionConfig(random_state=1)).fit_transform(X)
    assert a.shape == (120, 2) and np.allclose(a, b)


def test_cohorts_recover_planted_groups(space_and_groups):
    space, groups = space_and_groups
    assigned = space.cohort_labels >= 0
    assert space.metrics["cohorts"] >= 3
    # each found cohort is dominated by one planted group
    for c in space.cohort_centroids:
        members = groups[space.cohort_labels == c]
        assert np.bincount(members).max() / len(members) > 0.9
    assert assigned.mean() > 0.6


def test_outliers_get_a_most_likely_cohort(space_and_groups):
    space, _ = space_and_groups
    assert np.all(space.likely_cohorts >= 0)
    assigned = space.cohort_labels >= 0
    assert np.array_equal(space.likely_cohorts[assigned], space.cohort_labels[assigned])


def test_centroids_are_member_means_in_embedding_space(space_and_groups):
    space, _ = space_and_groups
    for c, centroid in space.cohort_centroids.items():
        assert np.allclose(centroid, space.embeddings[space.cohort_labels == c].mean(axis=0), atol=1e-5)
        assert np.allclose(space.persona_vector(cohort=c), centroid)


def test_metrics_beat_majority(space_and_groups):
    m = space_and_groups[0].metrics
    assert m["heldout_accuracy"] > m["majority_accuracy"] + 0.1
    assert m["bias_only_accuracy"] == pytest.approx(m["majority_accuracy"], abs=0.02)
    assert m["heldout_log_loss"] < m["bias_only_log_loss"]


def test_save_load_round_trip_and_place_newcomers(space_and_groups, tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONA_ARTIFACTS_DIR", str(tmp_path))
    space, groups = space_and_groups
    out = space.save(tmp_path / "space")
    assert not list(out.glob("*.pkl"))
    import pandas as pd

    pd.testing.assert_frame_equal(PersonaSpace.load(out).survey.attributes, space.survey.attributes, check_dtype=False)
    loaded = PersonaSpace.load(out)  # load time is measured in bench/persona_space.py, not asserted
    assert loaded.run_key == space.run_key
    assert np.allclose(loaded.embeddings, space.embeddings)
    assert np.array_equal(loaded.cohort_labels, space.cohort_labels)
    assert loaded.profiles.keys() == space.profiles.keys()
    # a newcomer answering like respondent 0 lands in respondent 0's planted group's cohort
    a = space.survey.answers
    m = a.respondent == 0
    placed = loaded.place([(a.question[m], a.option[m])])
    assert placed["coords"].shape == (1, 2)
    dist = np.linalg.norm(space.coords - placed["coords"][0], axis=1)
    assert groups[np.argsort(dist)[:10]].tolist().count(groups[0]) >= 8


def test_selection_centroid_and_errors(space_and_groups):
    space, _ = space_and_groups
    ids = space.survey.respondent_ids[:3]
    assert np.allclose(space.selection_centroid(ids), space.embeddings[:3].mean(axis=0))
    with pytest.raises(ValueError, match="empty"):
        space.selection_centroid([])
    with pytest.raises(KeyError, match="unknown respondent"):
        space.persona_vector(respondent="nobody")
    with pytest.raises(KeyError, match="unknown cohort"):
        space.persona_vector(cohort=999)


def test_kmeans_option_gives_k_cohorts(space_and_groups):
    space, _ = space_and_groups
    finder = CohortFinder(CohortConfig(method="kmeans", n_clusters=3)).fit(space.embeddings, space.embeddings)
    assert finder.n_cohorts_ == 3 and finder.outlier_share_ == 0.0
    labels, _ = finder.predict(space.embeddings[:5])
    assert np.array_equal(labels, finder.labels_[:5])


class _Payload:
    """Unpickling this creates the marker file: proof that a pickle was executed."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_nothing_a_saved_folder_holds_is_executed(space_and_groups, tmp_path, monkeypatch):
    import pickle
    import shutil

    from persona_core.data.errors import DataError

    root = tmp_path / "artifacts"
    monkeypatch.setenv("PERSONA_ARTIFACTS_DIR", str(root))
    space, _ = space_and_groups
    out = space.save(root / "space")
    marker = tmp_path / "PWNED"
    a = space.survey.answers
    newcomer = [(a.question[a.respondent == 0], a.option[a.respondent == 0])]
    # a survey.pkl beside the real files is never read
    (out / "survey.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    assert PersonaSpace.load(out).survey.fingerprint() == space.survey.fingerprint()
    # a fitted object replaced by a payload is refused before it is unpickled
    (out / "projector.joblib").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(DataError, match="digest"):
        PersonaSpace.load(out).place(newcomer)
    # a folder outside the artifacts root is refused even with matching digests
    outside = tmp_path / "elsewhere"
    space.save(outside)
    (outside / "cohorts.joblib").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(DataError, match="outside the artifacts folder"):
        PersonaSpace.load(outside).place(newcomer)
    assert not marker.exists()
    shutil.rmtree(out)


@pytest.mark.parametrize("n_groups", [2, 3, 4, 5])
def test_default_cohorts_recover_planted_groups(n_groups):
    """Default cohort settings (HDBSCAN leaf + merging of cohorts that answer alike) on a
    400-person planted survey: ARI >= 0.8 of the map's shown cohorts against the planted groups."""
    from dataclasses import replace

    from sklearn.metrics import adjusted_rand_score

    from persona_core.cohorts import reduce_outliers

    survey, groups = planted_survey(n_respondents=400, n_questions=40, n_groups=n_groups, seed=0)
    cfg = SpaceConfig()
    space = build_persona_space(survey, replace(cfg, factorization=replace(cfg.factorization, progress=False)))
    shown, strength = reduce_outliers(space.cohort_labels, "soft", likely=space.likely_cohorts,
                                      probabilities=space.cohort_probabilities)
    assert space.metrics["cohorts"] == n_groups
    assert adjusted_rand_score(groups, shown) >= 0.8
    assert space.metrics["shown_outlier_share"] == float((shown < 0).mean()) <= 0.2
    assert np.all((strength >= 0) & (strength <= 1))
    assert all(len(p["distinctive_questions"]) >= 3 for p in space.profiles.values())
