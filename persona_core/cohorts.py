"""Cohorts: density clusters of respondents (HDBSCAN), or k-means as in Li et al. (2023).

A cohort's persona is the centroid of its members' persona embeddings (the factorization space,
not the map). Outliers keep label -1 and are shown as unassigned, each with its most likely
cohort from HDBSCAN's soft membership.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class CohortConfig:
    """Clustering settings.

    ``method``: "hdbscan" (default) or "kmeans" (the paper's choice, for comparison).
    ``min_cluster_size``: HDBSCAN's smallest cohort; ``None`` means 2 % of the respondents (>= 10).
    Opinion data form a continuum more than islands: with HDBSCAN's usual "eom" selection the GSS
    2016 map splits into 2 cohorts (one of 1,565 people) and 38 % outliers; "leaf" selection with
    ``min_samples=5`` gives ~14 cohorts of 60-220 people, the granularity an analyst can read.
    Clustering runs on the coordinates it is given (the pipeline passes the 2-D map, so cohorts are
    the groups one sees).
    """

    method: str = "hdbscan"
    min_cluster_size: int | None = None
    min_samples: int | None = 5
    cluster_selection_method: str = "leaf"
    n_clusters: int = 6  # k-means only

    def resolved_min_cluster_size(self, n: int) -> int:
        return self.min_cluster_size or max(10, int(round(0.02 * n)))


class CohortFinder:
    """Fit/predict estimator. Learned state: ``labels_`` (-1 = outlier), ``probabilities_``
    (membership strength), ``likely_labels_`` (most likely cohort, also for outliers),
    ``centroids_`` ({label: centroid in embedding space}), ``clusterer_``."""

    def __init__(self, config: CohortConfig | None = None) -> None:
        self.config = config or CohortConfig()

    def fit(self, cluster_space: np.ndarray, embeddings: np.ndarray) -> "CohortFinder":
        """Cluster the rows of ``cluster_space``; centroids are taken over ``embeddings``."""
        X = np.asarray(cluster_space, dtype=np.float64)
        cfg = self.config
        if cfg.method == "hdbscan":
            import hdbscan

            self.clusterer_ = hdbscan.HDBSCAN(
                min_cluster_size=cfg.resolved_min_cluster_size(len(X)),
                min_samples=cfg.min_samples,
                cluster_selection_method=cfg.cluster_selection_method,
                prediction_data=True,
            ).fit(X)
            self.labels_ = self.clusterer_.labels_.astype(np.int64)
            self.probabilities_ = self.clusterer_.probabilities_.astype(np.float64)
            if self.labels_.max() >= 0:
                soft = hdbscan.all_points_membership_vectors(self.clusterer_)
                soft = soft.reshape(len(X), -1)
                self.likely_labels_ = np.where(self.labels_ >= 0, self.labels_, soft.argmax(axis=1))
                outlier = self.labels_ < 0
                self.probabilities_[outlier] = soft[outlier].max(axis=1)
            else:
                self.likely_labels_ = self.labels_.copy()
        elif cfg.method == "kmeans":
            from sklearn.cluster import KMeans

            self.clusterer_ = KMeans(n_clusters=cfg.n_clusters, n_init=10, random_state=0).fit(X)
            self.labels_ = self.clusterer_.labels_.astype(np.int64)
            self.probabilities_ = np.ones(len(X))
            self.likely_labels_ = self.labels_.copy()
        else:
            raise ValueError(f"unknown cohort method {cfg.method!r}: use 'hdbscan' or 'kmeans'")
        emb = np.asarray(embeddings, dtype=np.float32)
        self.centroids_ = {int(c): emb[self.labels_ == c].mean(axis=0) for c in np.unique(self.labels_) if c >= 0}
        return self

    def predict(self, cluster_space: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(labels, strengths) for new points (HDBSCAN's ``approximate_predict``)."""
        if not hasattr(self, "clusterer_"):
            raise RuntimeError("CohortFinder is not fitted yet: call fit() first")
        X = np.asarray(cluster_space, dtype=np.float64)
        if self.config.method == "hdbscan":
            import hdbscan

            labels, strengths = hdbscan.approximate_predict(self.clusterer_, X)
            return labels.astype(np.int64), strengths
        return self.clusterer_.predict(X).astype(np.int64), np.ones(len(X))

    @property
    def n_cohorts_(self) -> int:
        return len(self.centroids_)

    @property
    def outlier_share_(self) -> float:
        return float((self.labels_ < 0).mean())
