"""Cohorts: density clusters of respondents (HDBSCAN), or k-means as in Li et al. (2023).

A cohort's persona is the centroid of its members' persona embeddings (the factorization space,
not the map). Outliers keep label -1, each with its most likely cohort from HDBSCAN's soft
membership; :func:`reduce_outliers` gives the cohort the map shows for everyone (soft membership,
nearest centroid, or none, as BERTopic's ``reduce_outliers``).

HDBSCAN's leaf clusters are fine-grained; :meth:`CohortFinder.merge_indistinct` then merges
neighbouring clusters whose members answer fewer than ``merge_min_differences`` questions
differently (chi-square tests, :mod:`persona_core.answer_tests`), so a cohort is a group one can
tell apart by its answers: planted groups come back whole, a continuum like the GSS keeps its
distinguishable regions.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: How the map colours HDBSCAN's outliers: "soft" (their most likely cohort by HDBSCAN's soft
#: membership), "centroid" (the nearest cohort centroid in the persona space) or "none" (grey).
OUTLIER_STRATEGIES = ("soft", "centroid", "none")


@dataclass
class CohortConfig:
    """Clustering settings.

    ``method``: "hdbscan" (default) or "kmeans" (the paper's choice, for comparison).
    ``min_cluster_size``: HDBSCAN's smallest cohort; ``None`` means 2 % of the respondents (>= 10).
    Opinion data form a continuum more than islands: with HDBSCAN's usual "eom" selection the GSS
    2016 map splits into 2-3 cohorts (one of ~1,850 people); "leaf" selection with
    ``min_samples=5`` gives ~13 cohorts of 60-170 people, but splits planted groups into 10-17
    leaves. ``merge_min_differences`` > 0 merges, nearest first on the map, any two cohorts that
    differ on fewer than that many questions at family-wise level ``merge_alpha`` (Bonferroni);
    measured (bench/cohorts.py): planted 2-5 groups of 400 people come back with ARI >= 0.99, GSS
    2016 keeps 10 cohorts of 78-245 people. Clustering runs on the coordinates it is given (the
    pipeline passes the 2-D map, so cohorts are the groups one sees).
    """

    method: str = "hdbscan"
    min_cluster_size: int | None = None
    min_samples: int | None = 5
    cluster_selection_method: str = "leaf"
    n_clusters: int = 6  # k-means only
    merge_min_differences: int = 3  # 0: keep HDBSCAN's clusters as they are
    merge_alpha: float = 0.01
    merge_min_answers: int = 5  # a question is tested only if both cohorts answered it this often
    # what the map shows by default for HDBSCAN's outliers (see reduce_outliers)
    outlier_strategy: str = "soft"
    outlier_threshold: float = 0.0

    def resolved_min_cluster_size(self, n: int) -> int:
        return self.min_cluster_size or max(10, int(round(0.02 * n)))


class CohortFinder:
    """Fit/predict estimator. Learned state: ``labels_`` (-1 = outlier), ``probabilities_``
    (membership strength), ``likely_labels_`` (most likely cohort, also for outliers),
    ``centroids_`` ({label: centroid in embedding space}), ``clusterer_``, ``label_map_`` (the
    clusterer's label -> cohort, identity until :meth:`merge_indistinct`) and ``outlier_soft_``
    (the outliers' soft membership over the clusterer's clusters, or ``None``)."""

    def __init__(self, config: CohortConfig | None = None) -> None:
        self.config = config or CohortConfig()

    def fit(self, cluster_space: np.ndarray, embeddings: np.ndarray) -> "CohortFinder":
        """Cluster the rows of ``cluster_space``; centroids are taken over ``embeddings``."""
        X = np.asarray(cluster_space, dtype=np.float64)
        cfg = self.config
        self.outlier_soft_ = None
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
                self.outlier_soft_ = soft[outlier].astype(np.float64)
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
        self.label_map_ = {int(c): int(c) for c in np.unique(self.labels_) if c >= 0}
        emb = np.asarray(embeddings, dtype=np.float32)
        self.centroids_ = {int(c): emb[self.labels_ == c].mean(axis=0) for c in np.unique(self.labels_) if c >= 0}
        return self

    def merge_indistinct(self, survey, cluster_space: np.ndarray, embeddings: np.ndarray) -> "CohortFinder":
        """Merge cohorts that the members' answers in ``survey`` (rows aligned with ``labels_``)
        cannot tell apart: while some pair differs on fewer than ``merge_min_differences``
        questions, merge the such pair whose centres on ``cluster_space`` are closest. Cohorts are
        then numbered by size, largest first; ``label_map_`` records where each cluster went,
        outliers' soft membership is summed over merged clusters. Not for k-means (its k is
        chosen)."""
        from persona_core.answer_tests import group_counts, n_differences, option_index

        cfg = self.config
        if cfg.method != "hdbscan" or cfg.merge_min_differences <= 0 or self.n_cohorts_ < 2:
            return self
        X = np.asarray(cluster_space, dtype=np.float64)
        if len(X) != len(self.labels_) or survey.n_respondents != len(self.labels_):
            raise ValueError("merge_indistinct needs the survey and coordinates the cohorts were found on")
        k = int(self.labels_.max()) + 1
        counts = group_counts(survey, self.labels_, k)
        _, qid = option_index(survey)
        centre = {c: X[self.labels_ == c].mean(axis=0) for c in self.centroids_}
        size = {c: int((self.labels_ == c).sum()) for c in self.centroids_}
        group = {c: c for c in range(k)}  # clusterer label -> current cohort (a representative label)
        differ: dict[tuple[int, int], int] = {}
        while len(centre) > 1:
            best = None
            alive = sorted(centre)
            for i, a in enumerate(alive):
                for b in alive[i + 1:]:
                    if (a, b) not in differ:
                        differ[a, b] = n_differences(counts[a], counts[b], qid, cfg.merge_alpha, cfg.merge_min_answers)
                    if differ[a, b] >= cfg.merge_min_differences:
                        continue
                    dist = float(np.linalg.norm(centre[a] - centre[b]))
                    if best is None or dist < best[0]:
                        best = (dist, a, b)
            if best is None:
                break
            _, a, b = best  # b joins a
            counts[a] += counts[b]
            centre[a] = (centre[a] * size[a] + centre.pop(b) * size[b]) / (size[a] + size[b])
            size[a] += size.pop(b)
            group = {c: (a if g == b else g) for c, g in group.items()}
            differ = {p: d for p, d in differ.items() if a not in p and b not in p}
        order = sorted(size, key=lambda c: (-size[c], c))
        number = {rep: i for i, rep in enumerate(order)}
        self.label_map_ = {int(c): number[g] for c, g in group.items() if g in number}
        self._apply_label_map(k, np.asarray(embeddings, dtype=np.float32))
        return self

    def _apply_label_map(self, k: int, emb: np.ndarray) -> None:
        lut = np.array([self.label_map_.get(c, -1) for c in range(k)], dtype=np.int64)
        self.labels_ = np.where(self.labels_ >= 0, lut[np.clip(self.labels_, 0, None)], -1)
        self.likely_labels_ = np.where(self.likely_labels_ >= 0, lut[np.clip(self.likely_labels_, 0, None)], -1)
        soft = self.outlier_soft_
        outlier = self.labels_ < 0
        if soft is not None and soft.shape == (int(outlier.sum()), k):
            merged = np.zeros((len(soft), int(lut.max()) + 1))
            for c in range(k):
                merged[:, lut[c]] += soft[:, c]
            self.outlier_soft_ = merged
            self.likely_labels_[outlier] = merged.argmax(axis=1)
            self.probabilities_[outlier] = merged.max(axis=1)
        self.centroids_ = {int(c): emb[self.labels_ == c].mean(axis=0) for c in np.unique(self.labels_) if c >= 0}

    def predict(self, cluster_space: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(labels, strengths) for new points (HDBSCAN's ``approximate_predict``)."""
        if not hasattr(self, "clusterer_"):
            raise RuntimeError("CohortFinder is not fitted yet: call fit() first")
        X = np.asarray(cluster_space, dtype=np.float64)
        if self.config.method == "hdbscan":
            import hdbscan

            labels, strengths = hdbscan.approximate_predict(self.clusterer_, X)
            return self._merged(labels.astype(np.int64)), strengths
        return self.clusterer_.predict(X).astype(np.int64), np.ones(len(X))

    def _merged(self, labels: np.ndarray) -> np.ndarray:
        """The clusterer's labels as cohort labels (after :meth:`merge_indistinct`)."""
        mapping = getattr(self, "label_map_", None)
        if not mapping:
            return labels
        return np.array([mapping.get(int(c), -1) if c >= 0 else -1 for c in labels], dtype=np.int64)

    @property
    def n_cohorts_(self) -> int:
        return len(self.centroids_)

    @property
    def outlier_share_(self) -> float:
        return float((self.labels_ < 0).mean())


def reduce_outliers(
    labels: np.ndarray,
    strategy: str = "soft",
    *,
    likely: np.ndarray | None = None,
    probabilities: np.ndarray | None = None,
    embeddings: np.ndarray | None = None,
    centroids: dict[int, np.ndarray] | None = None,
    threshold: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The cohort shown for every respondent and how strongly they belong (0..1), as BERTopic's
    ``reduce_outliers``: members keep their cohort and HDBSCAN strength (``probabilities``);
    outliers (label -1) get, by ``strategy``,

    - ``"soft"``: their most likely cohort ``likely`` (HDBSCAN's soft membership), with its
      membership as strength;
    - ``"centroid"``: the nearest cohort centroid to their ``embeddings`` (``centroids``), with
      strength 1 - d1/d2 (nearest against second-nearest distance);
    - ``"none"``: nothing (-1, strength 0).

    An outlier whose strength is below ``threshold`` stays -1."""
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    strength = np.ones(n) if probabilities is None else np.asarray(probabilities, dtype=np.float64).copy()
    shown = labels.copy()
    out = labels < 0
    if strategy not in OUTLIER_STRATEGIES:
        raise ValueError(f"unknown outlier strategy {strategy!r}: use one of {', '.join(OUTLIER_STRATEGIES)}")
    if strategy == "none" or not out.any():
        strength[out] = 0.0
        return shown, strength
    if strategy == "soft":
        if likely is None or probabilities is None:
            raise ValueError("the soft strategy needs likely and probabilities")
        shown[out] = np.asarray(likely, dtype=np.int64)[out]
    else:
        if embeddings is None or not centroids:
            strength[out] = 0.0
            return shown, strength
        keys = np.array(sorted(centroids), dtype=np.int64)
        C = np.stack([np.asarray(centroids[c], np.float64) for c in keys])
        E = np.asarray(embeddings, np.float64)[out]
        d = np.sqrt(((E[:, None, :] - C[None, :, :]) ** 2).sum(axis=2))
        nearest = d.argmin(axis=1)
        shown[out] = keys[nearest]
        if len(keys) > 1:
            two = np.sort(d, axis=1)[:, :2]
            strength[out] = 1.0 - two[:, 0] / np.where(two[:, 1] > 0, two[:, 1], 1.0)
        else:
            strength[out] = 1.0
    strength[out & (shown < 0)] = 0.0
    shown[out & (strength < threshold)] = -1
    return shown, np.clip(strength, 0.0, 1.0)


def shown_outlier_share(finder: CohortFinder, embeddings: np.ndarray, config: CohortConfig | None = None) -> float:
    """The share of respondents the map shows grey with the configured outlier strategy."""
    cfg = config or finder.config
    shown, _ = reduce_outliers(
        finder.labels_, cfg.outlier_strategy, likely=finder.likely_labels_, probabilities=finder.probabilities_,
        embeddings=embeddings, centroids=finder.centroids_, threshold=cfg.outlier_threshold,
    )
    return float((shown < 0).mean()) if len(shown) else 0.0
