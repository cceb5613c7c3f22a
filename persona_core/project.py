"""Projection of persona embeddings to a 2-D map with UMAP (a thin, seeded wrapper)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class ProjectionConfig:
    """UMAP settings. A fixed ``random_state`` makes the map reproducible (umap-learn then runs
    single-threaded, about 1.8x slower); set it to ``None`` for speed over reproducibility."""

    n_neighbors: int = 15
    min_dist: float = 0.1
    n_components: int = 2
    metric: str = "euclidean"
    random_state: int | None = 42


class MapProjector:
    """Fit/transform estimator around ``umap.UMAP``; keeps the fitted reducer so new respondents
    are placed on the published map with :meth:`transform` instead of refitting it."""

    def __init__(self, config: ProjectionConfig | None = None) -> None:
        self.config = config or ProjectionConfig()

    def fit(self, embeddings: np.ndarray) -> "MapProjector":
        import umap  # imported lazily: numba compilation makes the import slow

        X = np.asarray(embeddings, dtype=np.float32)
        if len(X) < 4:
            raise ValueError(f"a map needs at least 4 respondents, got {len(X)}")
        params = asdict(self.config)
        params["n_neighbors"] = min(params["n_neighbors"], len(X) - 1)  # small surveys
        self.reducer_ = umap.UMAP(**params)
        self.embedding_ = self.reducer_.fit_transform(X).astype(np.float32)
        return self

    def fit_transform(self, embeddings: np.ndarray) -> np.ndarray:
        return self.fit(embeddings).embedding_

    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        if not hasattr(self, "reducer_"):
            raise RuntimeError("MapProjector is not fitted yet: call fit() first")
        return self.reducer_.transform(np.asarray(embeddings, dtype=np.float32)).astype(np.float32)
