"""Cohorts of a large survey through a sample: HDBSCAN is fitted on the respondents the map was
fitted on (:attr:`persona_core.project.MapProjector.sample_index_`) and everyone else gets a cohort
with ``approximate_predict``, the way a new respondent is placed.

A placed respondent that ``approximate_predict`` calls an outlier gets, like the fitted outliers,
the most likely cohort of HDBSCAN's soft membership (``membership_vector``) and its strength as
probability. Centroids, sizes and shares are taken over all respondents.
"""
from __future__ import annotations

import numpy as np

from persona_core.cohorts import CohortConfig, CohortFinder

PREDICT_CHUNK = 50_000  # points per approximate_predict / membership_vector call (bounds memory)


class SampledCohortFinder(CohortFinder):
    """:class:`CohortFinder` fitted on ``sample_index`` rows; ``labels_``, ``probabilities_``,
    ``likely_labels_`` and ``centroids_`` cover all rows. Extra learned state: ``sample_index_``
    and ``fitted_labels_`` (the sample's own labels, the ones HDBSCAN fitted)."""

    def __init__(self, config: CohortConfig | None = None) -> None:
        super().__init__(config)

    def fit(self, cluster_space: np.ndarray, embeddings: np.ndarray, sample_index: np.ndarray | None = None
            ) -> "SampledCohortFinder":
        X = np.asarray(cluster_space, dtype=np.float64)
        if sample_index is None:
            return super().fit(X, embeddings)
        idx = np.asarray(sample_index, dtype=np.int64)
        emb = np.asarray(embeddings, dtype=np.float32)
        super().fit(X[idx], emb[idx])
        self.sample_index_ = idx
        self.fitted_labels_ = self.labels_
        rest = np.ones(len(X), dtype=bool)
        rest[idx] = False
        labels = np.empty(len(X), dtype=np.int64)
        probs = np.empty(len(X), dtype=np.float64)
        likely = np.empty(len(X), dtype=np.int64)
        labels[idx], probs[idx], likely[idx] = self.labels_, self.probabilities_, self.likely_labels_
        rest_rows = np.flatnonzero(rest)
        for s in range(0, len(rest_rows), PREDICT_CHUNK):
            rows = rest_rows[s : s + PREDICT_CHUNK]
            lab, strength = self.predict(X[rows])
            lik, prob = lab.copy(), np.asarray(strength, dtype=np.float64)
            out = lab < 0
            if out.any() and self.config.method == "hdbscan" and self.fitted_labels_.max() >= 0:
                import hdbscan

                soft = hdbscan.membership_vector(self.clusterer_, X[rows[out]]).reshape(int(out.sum()), -1)
                lik[out], prob[out] = soft.argmax(axis=1), soft.max(axis=1)
            labels[rows], probs[rows], likely[rows] = lab, prob, lik
        self.labels_, self.probabilities_, self.likely_labels_ = labels, probs, likely
        self.centroids_ = {int(c): emb[labels == c].mean(axis=0) for c in np.unique(labels) if c >= 0}
        return self
