"""How the steered distribution should be read on questions the steering model never trained on;
prints one JSON object.

The eval's new-question test (``Evaluator.new_question_test``) asks 20 seeded questions the SPM
never saw. This script never touches those: it draws ``--questions`` *other* unseen questions
(calibration questions), scores them exactly as the test does (factorization refitted without
them, personas folded in from the other answers), and compares ways of reading the steered
option log-probs there, two-fold: each variant's parameter is fitted (by log-likelihood of the
real answers) on one half of the calibration questions and judged on the other half.

Variants (``lp``: log-probs per row; ``spm``/``pop``/``base``: individual persona, population
persona, unsteered base model):
- ``raw``: ``spm`` as trained;
- ``temperature``: ``spm / T``;
- ``shrink``: ``pop + a (spm - pop)`` (only the persona's shift, scaled);
- ``shift_on_base``: ``base + a (spm - pop)`` (the persona's shift applied to the base model);
- ``mix``: ``(1 - w) p_spm + w p_base``.

Judged, as the test judges: share of (cohort, question) pairs whose steered cohort distribution
is closer to the real one than the unsteered one, mean alignment, and log-likelihood.

With ``--side-by-side CKPT [CKPT ...]`` it instead scores each listed checkpoint (as trained,
``raw``) on the same ``--questions`` questions that *none* of them trained on, asked of the same
people: the way to compare steering models trained on different question sets.

    python bench/new_questions.py [--questions 40] [--space DIR] [--checkpoint DIR]
    python bench/new_questions.py --side-by-side DIR DIR [--questions 80]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from scipy.optimize import minimize_scalar  # noqa: E402

from persona_core.cli_steer import default_checkpoint_dir, load_llm, resolve_space  # noqa: E402
from persona_core.evaluate.run import EvalConfig, Evaluator, NewQuestionRun  # noqa: E402
from persona_core.metrics import cluster_share_interval, mean_loglik  # noqa: E402
from persona_core.steer.checkpoint import load_checkpoint  # noqa: E402
from persona_core.steer.config import default_config  # noqa: E402
from persona_core.steer.engine import model_geometry  # noqa: E402


def _norm(lp: np.ndarray) -> np.ndarray:
    m = lp.max()
    return lp - (m + np.log(np.exp(lp - m).sum()))


VARIANTS = {
    "raw": (None, lambda s, p, b, x: s),
    "temperature": ((0.3, 5.0), lambda s, p, b, x: _norm(s / x)),
    "shrink": ((0.0, 3.0), lambda s, p, b, x: _norm(p + x * (s - p))),
    "shift_on_base": ((0.0, 3.0), lambda s, p, b, x: _norm(b + x * (s - p))),
    "mix": ((0.0, 1.0), lambda s, p, b, x: np.log((1 - x) * np.exp(s) + x * np.exp(b))),
}


def _apply(run: NewQuestionRun, name: str, x: float | None, rows: np.ndarray) -> list[np.ndarray]:
    fn = VARIANTS[name][1]
    P = run.preds
    return [fn(P["spm_individual"][i], P["spm_population"][i], P["unsteered"][i], x) for i in rows]


def _subset(run: NewQuestionRun, rows: np.ndarray, steered: list[np.ndarray]) -> tuple[NewQuestionRun, list[np.ndarray]]:
    sub = NewQuestionRun(R=run.R[rows], Q=run.Q[rows], Y=run.Y[rows],
                         preds={k: [v[i] for i in rows] for k, v in run.preds.items()}, refit=run.refit)
    return sub, steered


def _judge(ev: Evaluator, run: NewQuestionRun, rows: np.ndarray, steered: list[np.ndarray]) -> dict:
    sub, st = _subset(run, rows, steered)
    pairs = ev.cohort_question_pairs(sub, st)
    return {"pairs": len(pairs),
            "steered_closer_share": float(np.mean([p["spm"] > p["unsteered"] for p in pairs])) if pairs else None,
            "alignment_steered": float(np.mean([p["spm"] for p in pairs])) if pairs else None,
            "alignment_unsteered": float(np.mean([p["unsteered"] for p in pairs])) if pairs else None,
            "loglik": mean_loglik(st, sub.Y)}


def side_by_side(space, config, checkpoints: list[Path], n_questions: int, seed: int) -> dict:
    """Each checkpoint's new-question figures on the questions none of ``checkpoints`` trained on."""
    model, tokenizer = load_llm(config)
    loaded = [load_checkpoint(c, run_key=space.run_key, geometry=model_geometry(model), base_model=model)
              for c in checkpoints]
    evs = [Evaluator(model, tokenizer, space, spm, record, EvalConfig(progress=False)) for spm, record in loaded]
    trained = np.unique(np.concatenate([ev.spm_questions for ev in evs]))
    out: dict = {"questions_trained_by_any": int(trained.size), "checkpoints": {}}
    draws = [ev.new_question_draw(exclude=trained, n=n_questions, seed_offset=2 + seed) for ev in evs]
    if any(not (np.array_equal(q, draws[0][0]) and np.array_equal(pp, draws[0][1])) for q, pp in draws):
        raise SystemExit("the checkpoints were trained on different respondents: no common draw")
    questions, people = draws[0]
    for path, ev in zip(checkpoints, evs):
        run = ev.new_question_predictions(questions, people)
        pairs = ev.cohort_question_pairs(run, run.preds["spm_individual"])
        closer = [p["spm"] > p["unsteered"] for p in pairs]
        out["checkpoints"][str(path)] = {
            "spm_questions": int(ev.spm_questions.size), "new_questions": int(questions.size), "answers": int(run.R.size),
            "pairs": len(pairs), "steered_closer_share": float(np.mean(closer)),
            "steered_closer_share_ci95": list(cluster_share_interval(closer, [p["question"] for p in pairs], seed=seed)),
            "alignment_steered": float(np.mean([p["spm"] for p in pairs])),
            "alignment_unsteered": float(np.mean([p["unsteered"] for p in pairs])),
            "accuracy": {k: ev._scores(run.R, lp, run.Y)["accuracy"] for k, lp in run.preds.items()},
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--questions", type=int, default=40, help="calibration questions (never the eval's test questions)")
    p.add_argument("--space", default=None)
    p.add_argument("--dataset", default=None)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--db", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--side-by-side", nargs="+", default=None, metavar="CKPT",
                   help="compare these checkpoints on questions none of them trained on")
    args = p.parse_args()
    t0 = time.perf_counter()
    config = default_config()
    space, _ = resolve_space(args)
    if args.side_by_side:
        out = side_by_side(space, config, [Path(c) for c in args.side_by_side], args.questions, args.seed)
        out["seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(out))
        return
    ckpt = Path(args.checkpoint) if args.checkpoint else default_checkpoint_dir(space.run_key, config)
    model, tokenizer = load_llm(config)
    spm, record = load_checkpoint(ckpt, run_key=space.run_key, geometry=model_geometry(model), base_model=model)
    ev = Evaluator(model, tokenizer, space, spm, record, EvalConfig(progress=False))
    test_q, _ = ev.new_question_draw()
    cal_q, people = ev.new_question_draw(exclude=test_q, n=args.questions, seed_offset=3 + args.seed)
    run = ev.new_question_predictions(cal_q, people)
    halves = np.array_split(np.random.default_rng(args.seed).permutation(cal_q), 2)
    out: dict = {"calibration_questions": int(cal_q.size), "answers": int(run.R.size),
                 "overlap_with_test": int(np.intersect1d(cal_q, test_q).size), "variants": {}}
    for name, (bounds, _) in VARIANTS.items():
        folds = []
        for k in (0, 1):
            fit_rows = np.flatnonzero(np.isin(run.Q, halves[k]))
            judge_rows = np.flatnonzero(np.isin(run.Q, halves[1 - k]))
            x = None
            if bounds is not None:
                x = float(minimize_scalar(lambda v: -mean_loglik(_apply(run, name, v, fit_rows), run.Y[fit_rows]),
                                          bounds=bounds, method="bounded").x)
            folds.append({"param": x, **_judge(ev, run, judge_rows, _apply(run, name, x, judge_rows))})
        n = sum(f["pairs"] for f in folds)
        out["variants"][name] = {
            "folds": folds,
            "steered_closer_share": sum(f["steered_closer_share"] * f["pairs"] for f in folds) / n if n else None,
            "alignment_steered": sum(f["alignment_steered"] * f["pairs"] for f in folds) / n if n else None,
            "alignment_unsteered": sum(f["alignment_unsteered"] * f["pairs"] for f in folds) / n if n else None,
        }
    all_rows = np.arange(run.R.size)
    out["grid"] = {name: {str(x): _judge(ev, run, all_rows, _apply(run, name, x, all_rows))["steered_closer_share"]
                          for x in grid}
                   for name, grid in {"temperature": (0.5, 1.5, 2, 3), "shrink": (0, 0.5, 1.5, 2),
                                      "shift_on_base": (0.5, 1, 2), "mix": (0.25, 0.5, 0.75)}.items()}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
