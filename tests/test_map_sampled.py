"""The map of a large survey through a sample: UMAP fitted on a seeded sample, the others placed
with ``transform`` in chunks (locally or on Ray), HDBSCAN fitted on the sample and the others given
cohorts by ``approximate_predict``. Small sizes stand in for large ones (threshold 300, sample 200)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from persona_core.cohorts import CohortConfig
from persona_core.embed.factorization import FactorizationConfig
from persona_core.project import MapProjector, ProjectionConfig
from persona_core.space import PersonaSpace, SpaceConfig, build_persona_space
from tests.synthetic import planted_survey

SAMPLED = ProjectionConfig(sample_threshold=300, sample_size=200, transform_chunk=120, workers=1)


def blobs(n: int = 500, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (4, 8))
    return (centres[rng.integers(0, 4, n)] + rng.normal(0, 1, (n, 8))).astype(np.float32)


@pytest.fixture(scope="module")
def sampled_space():
    survey, groups = planted_survey(n_respondents=500, n_questions=30, n_groups=3, seed=2)
    config = SpaceConfig(
        factorization=FactorizationConfig(n_factors=4, epochs=30, batch_size=64, respondent_l2=3.0, option_l2=3.0,
                                          progress=False),
        projection=SAMPLED,
        cohorts=CohortConfig(min_cluster_size=10, cluster_selection_method="eom"),  # whole groups, so most are placed
    )
    return build_persona_space(survey, config), groups


def test_small_surveys_are_fitted_whole():
    X = blobs(300)
    p = MapProjector(SAMPLED).fit(X)
    assert p.sample_index_ is None and np.array_equal(p.embedding_, p.reducer_.embedding_)


def test_sampled_map_places_everyone_and_the_sample_keeps_its_fitted_points():
    X = blobs(500)
    p = MapProjector(SAMPLED).fit(X)
    idx = p.sample_index_
    assert idx.shape == (200,) and np.array_equal(idx, np.unique(idx)) and idx.max() < 500
    assert p.reducer_.embedding_.shape == (200, 2)  # UMAP saw the sample only
    assert p.embedding_.shape == (500, 2) and np.isfinite(p.embedding_).all()
    assert np.array_equal(p.embedding_[idx], p.reducer_.embedding_)
    rest = np.setdiff1d(np.arange(500), idx)
    assert np.array_equal(p.embedding_[rest], p.transform_chunked(X[rest]))
    assert set(p.seconds_) == {"fit", "transform"}


def test_sampled_map_is_seeded():
    X = blobs(500)
    a, b = MapProjector(SAMPLED).fit(X), MapProjector(SAMPLED).fit(X)
    assert np.array_equal(a.sample_index_, b.sample_index_) and np.array_equal(a.embedding_, b.embedding_)
    c = MapProjector(dataclasses.replace(SAMPLED, sample_seed=1)).fit(X)
    assert not np.array_equal(a.sample_index_, c.sample_index_)


def test_placed_points_land_near_their_group():
    """A placed point's nearest fitted neighbour on the map is in its own blob (for most points)."""
    rng = np.random.default_rng(0)
    blob = rng.integers(0, 4, 500)
    X = (rng.normal(0, 6, (4, 8))[blob] + rng.normal(0, 1, (500, 8))).astype(np.float32)
    p = MapProjector(SAMPLED).fit(X)
    rest = np.setdiff1d(np.arange(500), p.sample_index_)
    d = ((p.embedding_[rest, None, :] - p.embedding_[None, p.sample_index_, :]) ** 2).sum(axis=2)
    nearest = p.sample_index_[d.argmin(axis=1)]
    assert (blob[nearest] == blob[rest]).mean() > 0.95


def test_parallel_chunks_equal_one_process():
    X = blobs(500)
    one = MapProjector(SAMPLED).fit(X)
    two = MapProjector(dataclasses.replace(SAMPLED, workers=2)).fit(X)
    assert np.array_equal(one.embedding_, two.embedding_)


def test_ray_chunks_equal_local_chunks(ray_cluster):
    X = blobs(500)
    local = MapProjector(SAMPLED).fit(X)
    on_ray = MapProjector(dataclasses.replace(SAMPLED, engine="ray", workers=2)).fit(X)
    assert np.array_equal(local.sample_index_, on_ray.sample_index_)
    assert np.array_equal(local.embedding_, on_ray.embedding_)
    assert ray_cluster.is_initialized()  # a cluster it did not start is left running


def test_rest_get_cohorts_by_approximate_predict(sampled_space):
    space, groups = sampled_space
    finder, idx = space.cohort_finder, space.projector.sample_index_
    n = space.survey.n_respondents
    assert idx is not None and len(idx) == 200
    assert space.cohort_labels.shape == space.likely_cohorts.shape == space.cohort_probabilities.shape == (n,)
    assert np.array_equal(finder.sample_index_, idx)
    assert np.array_equal(finder.fitted_labels_, finder.clusterer_.labels_)  # HDBSCAN fitted on the sample
    # the sample's cohorts are its HDBSCAN clusters after merging those that answer alike
    assert np.array_equal(space.cohort_labels[idx], finder._merged(finder.fitted_labels_))
    rest = np.setdiff1d(np.arange(n), idx)
    labels, strengths = finder.predict(space.coords[rest])
    assert np.array_equal(space.cohort_labels[rest], labels)
    placed = labels >= 0
    assert placed.mean() > 0.5
    assert np.allclose(space.cohort_probabilities[rest][placed], strengths[placed])
    # everyone has a most likely cohort; members' is their own
    assert np.all(space.likely_cohorts >= 0)
    member = space.cohort_labels >= 0
    assert np.array_equal(space.likely_cohorts[member], space.cohort_labels[member])
    # cohorts stay planted groups, and centroids and sizes cover everyone
    for c, centroid in space.cohort_centroids.items():
        members = space.cohort_labels == c
        assert np.bincount(groups[members]).max() / members.sum() > 0.9
        assert np.allclose(centroid, space.embeddings[members].mean(axis=0), atol=1e-5)
        assert space.profiles[c]["size"] == members.sum()
    assert space.metrics["outlier_share"] == pytest.approx((space.cohort_labels < 0).mean())


def test_sampled_settings_are_stored_with_the_space(sampled_space, tmp_path, monkeypatch):
    space, _ = sampled_space
    monkeypatch.setenv("PERSONA_ARTIFACTS_DIR", str(tmp_path))
    loaded = PersonaSpace.load(space.save(tmp_path / "s"))
    assert loaded.config.projection == SAMPLED
    assert np.array_equal(loaded.coords, space.coords) and np.array_equal(loaded.cohort_labels, space.cohort_labels)
    new = loaded.place([(np.array([0, 1, 2]), np.array([0, 1, 0]))])  # the sample's reducer and clusterer
    assert new["coords"].shape == (1, 2) and new["cohort_labels"].shape == (1,)


def test_bad_projection_settings_are_refused():
    with pytest.raises(ValueError, match="engine"):
        ProjectionConfig(engine="spark")
    with pytest.raises(ValueError, match="sample_size"):
        ProjectionConfig(sample_size=2)
