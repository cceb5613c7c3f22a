"""Steering checkpoints side by side on the eval's own rows; prints one JSON object.

Each listed checkpoint is scored in one process by :class:`~persona_core.evaluate.run.Evaluator`
(the eval's held-out answers, its per-cohort alignment and, unless ``--no-new-questions``, its
new-question test), with the methods that tell steering models apart: ``majority``,
``unsteered``, ``spm_individual``, ``spm_cohort``, ``spm_population`` and ``cf``. Checkpoints
trained on the same respondents and questions (any other training setting may differ) are
scored on the same rows, so their figures compare directly; the JSON gives each one's figures,
the issue-8 target checks, and each figure's difference from the first checkpoint's.

    python bench/steering_side_by_side.py CKPT [CKPT ...] [--no-new-questions] [--dataset gss-2016]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from persona_core.cli_steer import load_llm, resolve_space  # noqa: E402
from persona_core.evaluate.run import EvalConfig, Evaluator  # noqa: E402
from persona_core.data.paths import artifacts_dir  # noqa: E402
from persona_core.steer.checkpoint import load_checkpoint  # noqa: E402
from persona_core.steer.config import default_config  # noqa: E402
from persona_core.steer.engine import model_geometry  # noqa: E402

METHODS = ("majority", "unsteered", "spm_individual", "spm_cohort", "spm_population", "cf")


def summary(result: dict) -> dict:
    """The figures the issue's targets are stated in, from one :meth:`Evaluator.run` result."""
    m = result["methods"]
    acc = {k: v["accuracy"] for k, v in m.items()}
    align = result["cohort_alignment"]
    new = result.get("new_questions") or {}
    out = {
        "accuracy": acc,
        "accuracy_ci95": {k: v["accuracy_ci95"] for k, v in m.items()},
        "loglik": {k: v["loglik"] for k, v in m.items()},
        "spm_minus_majority": acc["spm_individual"] - acc["majority"],
        "spm_minus_cf": acc["spm_individual"] - acc["cf"],
        "spm_minus_spm_population": acc["spm_individual"] - acc["spm_population"],
        "spm_ratio_to_unsteered": acc["spm_individual"] / acc["unsteered"],
        "spm_cohort_better_share": align.get("spm_cohort_better_share"),
        "cohorts": len(align.get("per_cohort", {})),
        "n_heldout": result["n_heldout"],
    }
    if new.get("methods"):
        out["new_questions"] = {
            "steered_closer_share": new.get("steered_closer_share"),
            "steered_closer_share_ci95": new.get("steered_closer_share_ci95"),
            "pairs": new.get("cohort_question_pairs"),
            "accuracy": {k: v["accuracy"] for k, v in new["methods"].items()},
        }
    return out


def differences(first: dict, other: dict) -> dict:
    """``other`` minus ``first`` for every scalar figure the two share."""
    out = {}
    for key in ("spm_minus_majority", "spm_minus_cf", "spm_minus_spm_population", "spm_cohort_better_share"):
        if first.get(key) is not None and other.get(key) is not None:
            out[key] = other[key] - first[key]
    for section in ("accuracy", "loglik"):
        out[section] = {k: other[section][k] - first[section][k] for k in first[section] if k in other[section]}
    a, b = first.get("new_questions"), other.get("new_questions")
    if a and b and a["steered_closer_share"] is not None and b["steered_closer_share"] is not None:
        out["new_questions_steered_closer_share"] = b["steered_closer_share"] - a["steered_closer_share"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--space", default=None)
    p.add_argument("--dataset", default=None)
    p.add_argument("--db", default=None)
    p.add_argument("--no-new-questions", action="store_true", help="skip the new-question test (about 90 s each)")
    args = p.parse_args()

    space, _ = resolve_space(args)
    model, tokenizer = load_llm(default_config())
    geometry = model_geometry(model)
    eval_config = EvalConfig(methods=METHODS, unseen_ks=(), progress=False,
                             new_questions=0 if args.no_new_questions else EvalConfig.new_questions)
    cache = artifacts_dir() / "eval_cache" / space.run_key
    out: dict = {"run_key": space.run_key, "checkpoints": {}}
    rows = None
    for path in args.checkpoints:
        t = time.perf_counter()
        spm, record = load_checkpoint(path, run_key=space.run_key, geometry=geometry, base_model=model)
        ev = Evaluator(model, tokenizer, space, spm, record, eval_config, cache_dir=cache)
        these = ev.eval_rows()[0]
        if rows is not None and not np.array_equal(rows, these):
            raise SystemExit(f"{path}: trained on other respondents or questions than {args.checkpoints[0]}: no common rows")
        rows = these
        figures = summary(ev.run())
        figures["train"] = {"steps": record.get("step"), "seconds": record.get("seconds"),
                            "config": record.get("config", {}).get("train"),
                            "learning_curve": record.get("learning_curve", [])}
        figures["eval_seconds"] = round(time.perf_counter() - t, 1)
        out["checkpoints"][str(path)] = figures
    names = list(out["checkpoints"])
    first = out["checkpoints"][names[0]]
    out["minus_first"] = {n: differences(first, out["checkpoints"][n]) for n in names[1:]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
