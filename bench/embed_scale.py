"""How the factorization's fit time grows with respondents, per respondent optimizer; prints one JSON object.

For each size, a synthetic survey (``bench/synthetic_survey.py``, 200 questions, in memory) is fitted
with :class:`persona_core.embed.factorization.CategoricalFactorization` twice, the respondent
vectors updated by dense Adam (every row at every step) and by SparseAdam (the batch's rows only),
for ``--epochs`` epochs (the default fit runs 15; an epoch's cost is what scales). Per run: seconds
per epoch, seconds per epoch per 1,000 respondents, and the last epoch's training loss. With
``--heldout F`` a seeded share F of the answers is kept out of the fit, and each run reports its
accuracy and log-loss on them (with the majority answer's accuracy): whether the cheaper fit is as good.

    .venv/bin/python bench/embed_scale.py [--sizes 100000 200000 400000] [--epochs 2]
    .venv/bin/python bench/embed_scale.py --sizes 100000 --epochs 15 --heldout 0.1
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.synthetic_survey import make_survey  # noqa: E402
from persona_core.embed.factorization import CategoricalFactorization, FactorizationConfig, majority_baseline  # noqa: E402
from persona_core.embed.split import heldout_split  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 200_000, 400_000])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--heldout", type=float, default=0.0, help="share of answers kept out and scored (0: none)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for n in args.sizes:
        survey = make_survey(n, 200, seed=0)
        train, test = survey.answers, None
        if args.heldout:
            mask = heldout_split(survey, args.heldout, seed=0)
            train, test = survey.answers.take(~mask), survey.answers.take(mask)
        for optimizer in ("adam", "sparse_adam"):
            config = replace(FactorizationConfig(), epochs=args.epochs, progress=False, respondent_optimizer=optimizer)
            t = time.perf_counter()
            model = CategoricalFactorization(config).fit(survey, train)
            per_epoch = (time.perf_counter() - t) / args.epochs
            rows.append({"respondents": n, "answers": int(len(survey.answers)), "optimizer": optimizer,
                         "seconds_per_epoch": round(per_epoch, 2),
                         "seconds_per_epoch_per_1000": round(per_epoch / n * 1000, 4),
                         "train_loss": round(model.loss_curve_[-1], 4)})
            if test is not None:
                scores = model.score(test)
                rows[-1].update(heldout_accuracy=round(scores["accuracy"], 4), heldout_log_loss=round(scores["log_loss"], 4),
                                majority_accuracy=round(majority_baseline(survey, train, test)["accuracy"], 4))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        del survey
    print(json.dumps({"epochs": args.epochs, "threads": args.threads, "runs": rows}))


if __name__ == "__main__":
    main()
