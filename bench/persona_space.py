"""Benchmark of the persona space on the GSS 2016 wave; prints one JSON object.

Per stage (load, embed, project, cluster, profile): seconds and the process's peak resident
memory after the stage. Beside our factorization's fit time: implicit's ALS (a well-known
collaborative-filtering implementation) fitted on the same answers as a one-hot respondents x
options matrix with the same number of factors, as a ratio in the same run.

    .venv/bin/python bench/persona_space.py [--wave 2016] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wave", default="2016")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-implicit", action="store_true")
    args = parser.parse_args()

    import numpy as np
    import scipy.sparse as sp
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    from persona_core.data.loaders import load_survey
    from persona_core.embed.factorization import CategoricalFactorization
    from persona_core.space import SpaceConfig, build_persona_space

    result: dict = {"wave": args.wave, "threads": args.threads, "stages": {}}
    t = time.perf_counter()
    survey = load_survey("gss", wave=args.wave)
    result["stages"]["load"] = {"seconds": round(time.perf_counter() - t, 3), "peak_rss_mb": round(peak_rss_mb(), 1)}

    marks: dict[str, float] = {}

    def on_stage(name: str) -> None:
        now = time.perf_counter()
        if marks:
            prev = list(marks)[-1]
            result["stages"][prev]["peak_rss_mb"] = round(peak_rss_mb(), 1)
        marks[name] = now
        result["stages"][name] = {}

    config = SpaceConfig()
    config.factorization.progress = False
    space = build_persona_space(survey, config, on_stage=on_stage)
    result["stages"]["profile"]["peak_rss_mb"] = round(peak_rss_mb(), 1)
    for name, secs in space.seconds.items():
        result["stages"][name]["seconds"] = round(secs, 3)
    result["metrics"] = {k: space.metrics[k] for k in ("respondents", "questions", "answers", "heldout_accuracy",
                                                        "majority_accuracy", "bias_only_accuracy", "cohorts", "outlier_share",
                                                        "shown_outlier_share")}

    # Factorization alone, and implicit's ALS on the same training answers, back to back.
    train = space.train_answers
    t = time.perf_counter()
    CategoricalFactorization(config.factorization).fit(survey, train)
    ours = time.perf_counter() - t
    fit = {"ours_seconds": round(ours, 3), "ours_epochs": config.factorization.epochs, "factors": config.factorization.n_factors}
    if not args.skip_implicit:
        from implicit.cpu.als import AlternatingLeastSquares

        n_opt = survey.n_options_per_question.astype(np.int64)
        offsets = np.r_[0, np.cumsum(n_opt)[:-1]]
        matrix = sp.csr_matrix(
            (np.ones(len(train), np.float32), (train.respondent, offsets[train.question] + train.option)),
            shape=(survey.n_respondents, int(n_opt.sum())),
        )
        with threadpool_limits(1, "blas"):  # implicit's advice: BLAS single-threaded, its own threads
            als = AlternatingLeastSquares(factors=config.factorization.n_factors, iterations=15,
                                          num_threads=args.threads, random_state=0)
            t = time.perf_counter()
            als.fit(matrix, show_progress=False)
            implicit_s = time.perf_counter() - t
        fit.update({"implicit_als_seconds": round(implicit_s, 3), "implicit_als_iterations": 15,
                    "ours_over_implicit": round(ours / implicit_s, 2)})
    result["factorization_fit"] = fit
    print(json.dumps(result))


if __name__ == "__main__":
    main()
