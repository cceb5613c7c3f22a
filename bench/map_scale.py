"""How the persona space scales with the number of respondents; prints one JSON object.

For each size, in a fresh child process (so each peak memory is its own): a synthetic survey of
that many respondents x 200 questions with planted groups (``bench/synthetic_survey.py``, never
written to the repository), then ``build_and_store`` into a temporary SQLite database and
artifacts folder, as ``python -m persona_core build`` does. Per size: seconds of every stage
(generate, store, embed, project, cluster, profile, save), whether the map was fitted on a
sample, the cohort count and outlier shares, and peak resident memory. With ``--agreement N``
the sampled map of size N is compared with a full UMAP fit of the same embeddings: the mean
share of each point's 10 nearest map neighbours the two maps have in common, and the
trustworthiness (scikit-learn) of each map on a seeded 5,000-point subset.

``--jit-cache`` decides the numba cache each child starts with: ``as-is`` (this environment's),
``fresh`` (an empty ``NUMBA_CACHE_DIR``: what a new environment without the warm-up pays) or
``warmed`` (an empty one filled first by ``python -m persona_core warmup``, as ``make setup`` does;
its seconds are reported).

    .venv/bin/python bench/map_scale.py --sizes 3000 20000 100000 [--agreement 100000] [--threads 2]
    .venv/bin/python bench/map_scale.py --sizes 20000 --jit-cache fresh   # and again with warmed
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def knn_overlap(a, b, k: int = 10) -> float:
    """Mean share of each point's ``k`` nearest neighbours on map ``a`` that are among its ``k``
    nearest on map ``b``."""
    import numpy as np
    from sklearn.neighbors import NearestNeighbors

    na = NearestNeighbors(n_neighbors=k + 1).fit(a).kneighbors(a, return_distance=False)[:, 1:]
    nb = NearestNeighbors(n_neighbors=k + 1).fit(b).kneighbors(b, return_distance=False)[:, 1:]
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(na, nb)]))


def one_size(n: int, threads: int, agreement: bool) -> dict:
    import torch

    torch.set_num_threads(threads)
    from dataclasses import replace

    from bench.synthetic_survey import make_survey
    from persona_core.pipeline import build_and_store
    from persona_core.space import SpaceConfig

    t = time.perf_counter()
    survey = make_survey(n, 200, seed=0)
    seconds = {"generate": time.perf_counter() - t}
    cfg = SpaceConfig()
    cfg = replace(cfg, factorization=replace(cfg.factorization, progress=False))
    with tempfile.TemporaryDirectory(prefix="map_scale_") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        result = build_and_store(survey, db_url=f"sqlite:///{root / 'persona.db'}", config=cfg,
                                 artifact_dir=root / "space")
        total = time.perf_counter() - t
        space = result.space
        out = {
            "respondents": n, "questions": 200, "answers": int(len(survey.answers.respondent)),
            "seconds": {**seconds, **{k: round(v, 2) for k, v in result.seconds.items()}, "build_total": round(total, 2)},
            "sampled_map": space.projector.sample_index_ is not None,
            "projection_seconds": {k: round(v, 2) for k, v in space.projector.seconds_.items()},
            "cohorts": int(space.metrics["cohorts"]),
            "outlier_share": round(float(space.metrics["outlier_share"]), 3),
            "shown_outlier_share": round(float(space.metrics["shown_outlier_share"]), 3),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
        if agreement and out["sampled_map"]:
            out["agreement"] = map_agreement(space)
            out["peak_rss_mb_with_full_fit"] = round(peak_rss_mb(), 1)
    return out


def map_agreement(space) -> dict:
    import numpy as np
    from sklearn.manifold import trustworthiness

    from persona_core.project import MapProjector

    from dataclasses import replace

    full_cfg = replace(space.config.projection, sample_threshold=None)
    t = time.perf_counter()
    full = MapProjector(full_cfg).fit(space.embeddings).embedding_
    full_seconds = time.perf_counter() - t
    rng = np.random.default_rng(0)
    subset = rng.choice(len(full), size=min(5000, len(full)), replace=False)
    X = np.asarray(space.embeddings)[subset]
    return {
        "full_fit_seconds": round(full_seconds, 1),
        "knn10_overlap_sampled_vs_full": round(knn_overlap(space.coords, full), 3),
        "trustworthiness_sampled": round(float(trustworthiness(X, space.coords[subset], n_neighbors=10)), 3),
        "trustworthiness_full": round(float(trustworthiness(X, full[subset], n_neighbors=10)), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3000, 20000, 100000])
    parser.add_argument("--agreement", type=int, default=None, help="compare the sampled map with a full fit at this size")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--jit-cache", choices=["as-is", "fresh", "warmed"], default="as-is",
                        help="the numba cache each size starts with (see the module docstring)")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # child process: one size
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_size(args.one, args.threads, args.agreement == args.one)))
        return
    import os

    from persona_core.data.paths import worker_pythonpath

    with open("/proc/loadavg") as f:
        load = float(f.read().split()[0])
    rows = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--one", str(n), "--threads", str(args.threads)]
        if args.agreement is not None:
            cmd += ["--agreement", str(args.agreement)]
        env = {**os.environ, "PYTHONPATH": worker_pythonpath()}
        cache = tempfile.TemporaryDirectory(prefix="numba_cache_") if args.jit_cache != "as-is" else None
        warmup = None
        if cache is not None:
            env["NUMBA_CACHE_DIR"] = cache.name
            if args.jit_cache == "warmed":
                warm = subprocess.run([sys.executable, "-m", "persona_core", "warmup", "--json"], capture_output=True,
                                      text=True, cwd=REPO, env=env, check=True)
                warmup = json.loads(warm.stdout.strip().splitlines()[-1])
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
        if cache is not None:
            cache.cleanup()
        if done.returncode != 0:
            rows.append({"respondents": n, "error": done.stderr.strip().splitlines()[-1:]})
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        if warmup is not None:
            rows[-1]["warmup"] = warmup
        print(json.dumps(rows[-1]), file=sys.stderr)
    base = next((r for r in rows if "error" not in r), None)
    if base is not None:
        for r in rows:
            if "error" not in r:
                r["build_seconds_per_1k_vs_smallest"] = round(
                    (r["seconds"]["build_total"] / r["respondents"]) / (base["seconds"]["build_total"] / base["respondents"]), 2)
    print(json.dumps({"load_before": load, "threads": args.threads, "jit_cache": args.jit_cache, "sizes": rows}))


if __name__ == "__main__":
    main()
