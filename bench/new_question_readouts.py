"""Reading the options by letter or by their text on questions the steering model never saw;
prints one JSON object.

The eval's new-question test (``Evaluator.new_question_test``) reads each option's probability
from the next token's logits of its letter. A 135M model answers letters near chance (position
bias), and on unseen questions the steered letter mostly carries a prior over positions
(FINDINGS round 4). OLMES scores small models by the option's own text instead (the "cloze"
form). This script asks the eval's own new questions, of the eval's own people, personas folded
in as the test does, and reads them three ways, each for the unsteered base model, the SPM and
the population persona:

- ``letter``: the eval's prompt (lettered options), the letter's logit (as shipped);
- ``text_listed``: the same prompt, each option's text as the answer (mean token log-prob);
- ``text_cloze``: the question alone ("Answer in a few words."), each option's text as the answer;
- ``letter+text_cloze``: the product of ``letter`` and ``text_cloze`` (log-probs added, renormalised);
- ``letter_reversed``: the eval's prompt with the options listed in the reverse order, read by letter
  and mapped back to the options (a 135M model's letter carries a position bias);
- ``letter_both_orders``: the mean of the ``letter`` and ``letter_reversed`` probabilities, the
  position-debiasing average over option orders (one reversal: each option once near each end).

For every (steered reading, unsteered reading) it reports the test's figure: the share of
(cohort, question) pairs whose steered cohort distribution is closer to the real one than the
unsteered one, with its 95 % interval over questions, and the mean alignment; and each
reading's per-answer accuracy and log-likelihood.

    python bench/new_question_readouts.py [--questions 80] [--people 200] [--readouts letter text_listed text_cloze]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from persona_core.cli_steer import default_checkpoint_dir, load_llm, resolve_space  # noqa: E402
from persona_core.evaluate.run import EvalConfig, Evaluator, NewQuestionRun  # noqa: E402
from persona_core.metrics import cluster_share_interval, mean_loglik  # noqa: E402
from persona_core.steer.checkpoint import load_checkpoint  # noqa: E402
from persona_core.steer.config import default_config  # noqa: E402
from persona_core.steer.engine import model_geometry  # noqa: E402
from persona_core.steer.prompts import PromptBuilder  # noqa: E402

READINGS = {  # name: (readout, list the options in the prompt, options in reverse order)
    "letter": ("letter", True, False),
    "text_listed": ("text", True, False),
    "text_cloze": ("text", False, False),
    "letter_reversed": ("letter", True, True),
}


def _product(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    for x, y in zip(a, b):
        s = x + y
        out.append(s - (s.max() + np.log(np.exp(s - s.max()).sum())))
    return out


def _mean_probs(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    return [np.logaddexp(x, y) - np.log(2.0) for x, y in zip(a, b)]


@contextmanager
def _options_reversed(survey):
    """``survey``'s questions with their options listed last to first, for the duration."""
    kept = survey.questions
    survey.questions = [replace(q, options=q.options[::-1]) for q in kept]
    try:
        yield
    finally:
        survey.questions = kept


def _pairs_figure(ev: Evaluator, run: NewQuestionRun, steered: list[np.ndarray], unsteered: list[np.ndarray], seed: int) -> dict:
    judged = replace(run, preds={**run.preds, "unsteered": unsteered})
    pairs = ev.cohort_question_pairs(judged, steered)
    closer = [p["spm"] > p["unsteered"] for p in pairs]
    if not pairs:
        return {"pairs": 0}
    return {"pairs": len(pairs), "steered_closer_share": round(float(np.mean(closer)), 4),
            "ci95": [round(x, 4) for x in cluster_share_interval(closer, [p["question"] for p in pairs], seed=seed)],
            "alignment_steered": round(float(np.mean([p["spm"] for p in pairs])), 4),
            "alignment_unsteered": round(float(np.mean([p["unsteered"] for p in pairs])), 4)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--questions", type=int, default=80, help="new questions (the eval's draw at its default 80)")
    p.add_argument("--people", type=int, default=200, help="respondents asked them (the eval's default 200)")
    p.add_argument("--readouts", nargs="+", default=list(READINGS), choices=list(READINGS))
    p.add_argument("--space", default=None)
    p.add_argument("--dataset", default=None)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--db", default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    config = default_config()
    space, _ = resolve_space(args)
    ckpt = Path(args.checkpoint) if args.checkpoint else default_checkpoint_dir(space.run_key, config)
    model, tokenizer = load_llm(config)
    spm, record = load_checkpoint(ckpt, run_key=space.run_key, geometry=model_geometry(model), base_model=model)
    ev = Evaluator(model, tokenizer, space, spm, record,
                   EvalConfig(progress=True, new_questions=args.questions, new_question_respondents=args.people))
    questions, people = ev.new_question_draw()
    runs: dict[str, NewQuestionRun] = {}
    seconds: dict[str, float] = {}
    for name in args.readouts:
        readout, listed, reverse = READINGS[name]
        t = time.perf_counter()
        with _options_reversed(space.survey) if reverse else nullcontext():
            run = ev.new_question_predictions(questions, people, readout=readout,
                                              builder=PromptBuilder(tokenizer, list_options=listed))
        if reverse:  # back to the options' own order
            run = replace(run, preds={k: [lp[::-1] for lp in v] for k, v in run.preds.items()})
        runs[name] = run
        seconds[name] = round(time.perf_counter() - t, 1)
    if "letter" in runs and "text_cloze" in runs:
        a, b = runs["letter"], runs["text_cloze"]
        runs["letter+text_cloze"] = replace(a, preds={k: _product(a.preds[k], b.preds[k]) for k in a.preds})
    if "letter" in runs and "letter_reversed" in runs:
        a, b = runs["letter"], runs["letter_reversed"]
        runs["letter_both_orders"] = replace(a, preds={k: _mean_probs(a.preds[k], b.preds[k]) for k in a.preds})
    first = next(iter(runs.values()))
    out: dict = {"checkpoint": str(ckpt), "new_questions": int(questions.size), "people": int(people.size),
                 "answers": int(first.R.size), "seconds": seconds, "readings": {}, "steered_vs_unsteered": {}}
    for name, run in runs.items():
        out["readings"][name] = {m: {"accuracy": round(ev._scores(run.R, lp, run.Y)["accuracy"], 4),
                                     "loglik": round(mean_loglik(lp, run.Y), 4)} for m, lp in run.preds.items()}
    for s_name, s_run in runs.items():
        for u_name, u_run in runs.items():
            out["steered_vs_unsteered"][f"{s_name} vs {u_name}"] = _pairs_figure(
                ev, first, s_run.preds["spm_individual"], u_run.preds["unsteered"], args.seed)
    out["seconds"]["total"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
