"""Ahead-of-time compilation of the map's numba code, run once per environment by ``make setup``.

Why: umap-learn and pynndescent compile their numba functions on first use and cache the machine
code on disk (``cache=True``, in the environment's ``__pycache__`` folders). In a fresh
environment the first survey of 4,096 respondents or more paid that compilation inside the
*save* stage: pickling the fitted UMAP makes pynndescent's ``NNDescent.__getstate__`` prepare its
search graph, and its tree builders compiled then. Measured with ``bench/map_scale.py --sizes
20000 --jit-cache fresh|warmed``: save 43.1 s with an empty cache, 1.0 s after this warm-up
(build 101.7 s -> 44.2 s; the warm-up itself takes about 90 s, once, in ``make setup``).
Smaller surveys (GSS) paid UMAP's own compilation in the project stage. Running the same code
paths here, with the project's own settings and dtypes, on seeded random data fills the cache so
a user's first build does neither. Nothing here is a second implementation: it calls
:class:`~persona_core.project.MapProjector` and :class:`~persona_core.cohorts.CohortFinder`.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass

import numpy as np

# umap-learn switches from exact neighbours to pynndescent at 4,096 points.
NNDESCENT_MIN_POINTS = 4096
# pynndescent builds its trees serially below 1 MiB of data per node and in parallel segments
# above it (hub_tree/hybrid_forest LOCAL_SUBTREE_BYTES): the large warm-up data spans more than
# twice that, so its root is split the parallel way with room to spare.
TREE_SEGMENT_BYTES = 1 << 20


@dataclass
class WarmupConfig:
    """The seeded random data the paths are compiled on: ``small`` points in ``dim`` dimensions
    for the exact-neighbour path, ``large`` points (at least :data:`NNDESCENT_MIN_POINTS`) in
    ``large_dim`` dimensions for the pynndescent path. The large data spans more than
    :data:`TREE_SEGMENT_BYTES` so both of pynndescent's tree builders run (numba's machine code
    depends on the arrays' types, not their sizes, so wide data stands for many respondents)."""

    small: int = 300
    dim: int = 16
    large: int = NNDESCENT_MIN_POINTS + 104
    large_dim: int = 128
    seed: int = 0


def warm_jit_caches(config: WarmupConfig | None = None) -> dict[str, float]:
    """Fit, pickle and transform with the map projector on both neighbour paths, and fit the
    cohort finder; returns the seconds of each step (long in a fresh environment, short after)."""
    import joblib

    from persona_core.cohorts import CohortConfig, CohortFinder
    from persona_core.project import MapProjector, ProjectionConfig

    cfg = config or WarmupConfig()
    if cfg.large < NNDESCENT_MIN_POINTS:
        raise ValueError(f"large must be at least {NNDESCENT_MIN_POINTS} to reach the pynndescent path")
    if cfg.large * cfg.large_dim * 4 <= 2 * TREE_SEGMENT_BYTES:
        raise ValueError(f"large x large_dim float32 must exceed {2 * TREE_SEGMENT_BYTES} bytes to reach the parallel tree builders")
    rng = np.random.default_rng(cfg.seed)
    seconds: dict[str, float] = {}
    for name, n, dim in (("small", cfg.small, cfg.dim), ("large", cfg.large, cfg.large_dim)):
        X = rng.normal(size=(n, dim)).astype(np.float32)
        t = time.perf_counter()
        projector = MapProjector(ProjectionConfig()).fit(X)
        seconds[f"{name}_fit"] = time.perf_counter() - t
        t = time.perf_counter()
        joblib.dump(projector, io.BytesIO())  # what PersonaSpace.save does; prepares the search graph
        seconds[f"{name}_pickle"] = time.perf_counter() - t
        t = time.perf_counter()
        projector.transform(X[:8])  # what PersonaSpace.place does for newcomers
        seconds[f"{name}_transform"] = time.perf_counter() - t
        if name == "small":
            t = time.perf_counter()
            CohortFinder(CohortConfig()).fit(projector.embedding_, X)
            seconds["cohorts_fit"] = time.perf_counter() - t
    return {k: round(v, 2) for k, v in seconds.items()}
