"""The warm-up fills the numba cache with what a build's project and save stages compile."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A fresh process fits the map projector on other data big enough for pynndescent's parallel tree
# builders (over 1 MiB), pickles it as PersonaSpace.save does and places newcomers.
BUILD_LIKE = """
import io, joblib, numpy as np
from persona_core.project import MapProjector
from persona_core.jit_warmup import NNDESCENT_MIN_POINTS
X = np.random.default_rng(7).normal(size=(NNDESCENT_MIN_POINTS + 50, 80)).astype(np.float32)
projector = MapProjector().fit(X)
joblib.dump(projector, io.BytesIO())
projector.transform(X[:5] + 0.01)
"""


def _cached(cache: Path) -> set[str]:
    return {str(p.relative_to(cache)) for p in cache.rglob("*") if p.suffix in (".nbi", ".nbc")}


@pytest.mark.slow
def test_warmup_leaves_nothing_for_a_build_to_compile(tmp_path: Path) -> None:
    cache = tmp_path / "numba"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "persona_core", "warmup", "--json"], cwd=REPO, env=env,
                          capture_output=True, text=True, check=True)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"small_fit", "large_fit", "large_pickle", "large_transform", "cohorts_fit"} <= set(summary["seconds"])
    after_warmup = _cached(cache)
    assert any("pynndescent" in p for p in after_warmup), "the search-graph code pickling needs was not cached"
    assert any("umap" in p for p in after_warmup)
    subprocess.run([sys.executable, "-c", BUILD_LIKE], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert _cached(cache) - after_warmup == set(), "a build compiled numba code the warm-up did not"


def test_warmup_refuses_a_large_size_below_the_pynndescent_path() -> None:
    from persona_core.jit_warmup import NNDESCENT_MIN_POINTS, WarmupConfig, warm_jit_caches

    with pytest.raises(ValueError, match="pynndescent"):
        warm_jit_caches(WarmupConfig(large=NNDESCENT_MIN_POINTS - 1))
    with pytest.raises(ValueError, match="tree builders"):
        warm_jit_caches(WarmupConfig(large_dim=16))
