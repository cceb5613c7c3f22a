"""Cohort defaults, measured: planted groups recovered (adjusted Rand index) and what the GSS
2016 cohorts look like (count, sizes, outlier shares, distinctive answers per cohort).

    python bench/cohorts.py                 # planted 2-5 groups, seeds 0 and 1
    python bench/cohorts.py --gss 2016      # and the GSS 2016 wave (../shared/data/gss)

Prints one JSON object. Uses the default SpaceConfig (without progress bars); nothing is stored.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from persona_core.cohorts import reduce_outliers  # noqa: E402
from persona_core.space import SpaceConfig, build_persona_space  # noqa: E402


def quiet_config() -> SpaceConfig:
    cfg = SpaceConfig()
    return replace(cfg, factorization=replace(cfg.factorization, progress=False))


def shown_labels(space) -> np.ndarray:
    c = space.config.cohorts
    shown, _ = reduce_outliers(space.cohort_labels, c.outlier_strategy, likely=space.likely_cohorts,
                               probabilities=space.cohort_probabilities, embeddings=space.embeddings,
                               centroids=space.cohort_centroids, threshold=c.outlier_threshold)
    return shown


def summary(space) -> dict:
    sizes = [p["size"] for p in space.profiles.values()]
    n_distinctive = [len(p["distinctive_questions"]) for p in space.profiles.values()]
    return {
        "cohorts": space.metrics["cohorts"],
        "sizes": sizes,
        "outlier_share": round(space.metrics["outlier_share"], 4),
        "shown_outlier_share": round(space.metrics["shown_outlier_share"], 4),
        "min_distinctive_answers": min(n_distinctive) if n_distinctive else 0,
        "names": [p["name"] for p in space.profiles.values()],
    }


def planted(groups: list[int], seeds: list[int], n: int, n_questions: int) -> list[dict]:
    from sklearn.metrics import adjusted_rand_score

    from tests.synthetic import planted_survey

    out = []
    for k in groups:
        for seed in seeds:
            survey, truth = planted_survey(n_respondents=n, n_questions=n_questions, n_groups=k, seed=seed)
            space = build_persona_space(survey, quiet_config())
            core = space.cohort_labels >= 0
            row = {"groups": k, "seed": seed, "respondents": n,
                   "ari_shown": round(float(adjusted_rand_score(truth, shown_labels(space))), 4),
                   "ari_core": round(float(adjusted_rand_score(truth[core], space.cohort_labels[core])), 4),
                   **summary(space)}
            row.pop("names")
            out.append(row)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--groups", type=int, nargs="*", default=[2, 3, 4, 5])
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1])
    p.add_argument("--respondents", type=int, default=400)
    p.add_argument("--questions", type=int, default=40)
    p.add_argument("--gss", default=None, help="also a GSS wave, e.g. 2016")
    args = p.parse_args()
    result: dict = {"planted": planted(args.groups, args.seeds, args.respondents, args.questions)}
    if args.gss:
        from persona_core.data.loaders import load_survey

        space = build_persona_space(load_survey("gss", wave=args.gss), quiet_config())
        result[f"gss_{args.gss}"] = summary(space)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
