"""Projection of persona embeddings to a 2-D map with UMAP (a thin, seeded wrapper).

Large surveys: above ``ProjectionConfig.sample_threshold`` respondents UMAP is fitted on a seeded
sample of ``sample_size`` of them and everyone else is placed on that map with ``transform``, in
chunks of ``transform_chunk`` run in parallel (joblib processes, or Ray tasks with
``engine="ray"``). Every chunk is transformed with the reducer's fixed ``transform_seed``, so the
map depends on the chunk boundaries but not on the engine or the number of workers.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from persona_core.data.paths import worker_pythonpath

ENGINES = ("local", "ray")


@dataclass
class ProjectionConfig:
    """UMAP settings. A fixed ``random_state`` makes the map reproducible (umap-learn then runs
    single-threaded, about 1.8x slower); set it to ``None`` for speed over reproducibility.

    Sampled fit: with more than ``sample_threshold`` respondents (``None``: never) UMAP is fitted
    on ``sample_size`` respondents drawn with ``sample_seed`` and the others are placed with
    ``transform`` in chunks of ``transform_chunk``, ``workers`` at a time (``None``: all CPUs)
    on ``engine`` ``"local"`` (joblib processes) or ``"ray"`` (tasks on the cluster at
    ``ray_address``, or on a local one started for the call)."""

    n_neighbors: int = 15
    min_dist: float = 0.1
    n_components: int = 2
    metric: str = "euclidean"
    random_state: int | None = 42
    sample_threshold: int | None = 50_000
    sample_size: int = 20_000
    sample_seed: int = 0
    transform_chunk: int = 20_000
    engine: str = "local"
    workers: int | None = None
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown projection engine {self.engine!r}: use one of {', '.join(ENGINES)}")
        if int(self.sample_size) < 4 or int(self.transform_chunk) < 1:
            raise ValueError("sample_size must be at least 4 and transform_chunk at least 1")
        if self.workers is not None and int(self.workers) < 1:
            raise ValueError(f"workers must be at least 1, not {self.workers!r}")

    def umap_params(self) -> dict:
        """The arguments of ``umap.UMAP``."""
        return {k: v for k, v in asdict(self).items() if k in _UMAP_FIELDS}

    def sampled(self, n: int) -> bool:
        """Whether ``n`` respondents are mapped through a sample."""
        return self.sample_threshold is not None and n > self.sample_threshold and n > self.sample_size


_UMAP_FIELDS = ("n_neighbors", "min_dist", "n_components", "metric", "random_state")


class MapProjector:
    """Fit/transform estimator around ``umap.UMAP``; keeps the fitted reducer so new respondents
    are placed on the published map with :meth:`transform` instead of refitting it.

    Learned state: ``reducer_``, ``embedding_`` (every fitted respondent's map position),
    ``sample_index_`` (the respondents UMAP was fitted on, sorted; ``None`` when fitted on all) and
    ``seconds_`` (``fit``, and ``transform`` of the others when sampled)."""

    def __init__(self, config: ProjectionConfig | None = None) -> None:
        self.config = config or ProjectionConfig()

    def fit(self, embeddings: np.ndarray) -> "MapProjector":
        import umap  # imported lazily: numba compilation makes the import slow

        X = np.asarray(embeddings, dtype=np.float32)
        if len(X) < 4:
            raise ValueError(f"a map needs at least 4 respondents, got {len(X)}")
        cfg = self.config
        self.sample_index_ = None
        fit_rows = X
        if cfg.sampled(len(X)):
            rng = np.random.default_rng(cfg.sample_seed)
            self.sample_index_ = np.sort(rng.choice(len(X), size=cfg.sample_size, replace=False))
            fit_rows = X[self.sample_index_]
        params = cfg.umap_params()
        params["n_neighbors"] = min(params["n_neighbors"], len(fit_rows) - 1)  # small surveys
        t = time.perf_counter()
        self.reducer_ = umap.UMAP(**params)
        fitted = self.reducer_.fit_transform(fit_rows).astype(np.float32)
        self.seconds_ = {"fit": time.perf_counter() - t}
        if self.sample_index_ is None:
            self.embedding_ = fitted
        else:
            t = time.perf_counter()
            rest = np.ones(len(X), dtype=bool)
            rest[self.sample_index_] = False
            self.embedding_ = np.empty((len(X), fitted.shape[1]), dtype=np.float32)
            self.embedding_[self.sample_index_] = fitted
            self.embedding_[rest] = self.transform_chunked(X[rest])
            self.seconds_["transform"] = time.perf_counter() - t
        return self

    def fit_transform(self, embeddings: np.ndarray) -> np.ndarray:
        return self.fit(embeddings).embedding_

    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        """Place new points on the fitted map (one ``transform`` call, in this process)."""
        self._check_fitted()
        return self.reducer_.transform(np.asarray(embeddings, dtype=np.float32)).astype(np.float32)

    def transform_chunked(self, embeddings: np.ndarray) -> np.ndarray:
        """Place many points: chunks of ``transform_chunk`` transformed in parallel on the
        configured engine; the result does not depend on the engine or the number of workers."""
        self._check_fitted()
        X = np.asarray(embeddings, dtype=np.float32)
        cfg = self.config
        bounds = [(s, min(s + cfg.transform_chunk, len(X))) for s in range(0, len(X), cfg.transform_chunk)]
        if not bounds:
            return np.empty((0, cfg.n_components), dtype=np.float32)
        workers = min(int(cfg.workers or os.cpu_count() or 1), len(bounds))
        chunks = [X[a:b] for a, b in bounds]
        if cfg.engine == "ray":
            parts = _transform_on_ray(self.reducer_, chunks, workers, cfg.ray_address)
        elif workers > 1:
            from joblib import Parallel, delayed

            parts = Parallel(n_jobs=workers, backend="loky")(delayed(_transform_chunk)(self.reducer_, c) for c in chunks)
        else:
            parts = [_transform_chunk(self.reducer_, c) for c in chunks]
        return np.concatenate(parts).astype(np.float32)

    def _check_fitted(self) -> None:
        if not hasattr(self, "reducer_"):
            raise RuntimeError("MapProjector is not fitted yet: call fit() first")


def _transform_chunk(reducer, chunk: np.ndarray) -> np.ndarray:
    return np.asarray(reducer.transform(chunk), dtype=np.float32)


def _transform_on_ray(reducer, chunks: list[np.ndarray], workers: int, address: str | None) -> list[np.ndarray]:
    """One Ray task per chunk (1 CPU each); the reducer goes to the object store once. Starts a
    local cluster of ``workers`` CPUs (and stops it after) unless one is running or ``address``
    names one."""
    try:
        import ray
    except ModuleNotFoundError as exc:
        raise RuntimeError("the Ray projection engine needs ray: .venv/bin/pip install -r requirements.txt") from exc
    started = not ray.is_initialized()
    if started:
        if address:
            ray.init(address=address, include_dashboard=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False)
    try:
        env = {"PYTHONPATH": worker_pythonpath()}  # workers import this package from the repository
        task = ray.remote(num_cpus=1)(_transform_chunk).options(runtime_env={"env_vars": env})
        ref = ray.put(reducer)
        return ray.get([task.remote(ref, c) for c in chunks])
    finally:
        if started:
            ray.shutdown()
