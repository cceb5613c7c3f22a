"""Do Compare's answers to survey questions name the persona's option? Prints one JSON object.

On held-out (respondent, bank question) pairs (the seeded pairs of ``bench/free_text.py``: held-out
answers of the SPM's training respondents on its questions), the question is asked as the Compare
page asks it (lettered options, "choose and explain"), with the page's sampling settings (seed =
pair index; ``--temperature 0``: greedy), two ways:

- ``free``: the model answers in free text; the option an answer names is read by the base
  model's likelihood of each option's text after it (:func:`persona_core.llm.likelihood.closest_option`,
  79 % right on yes/no answers, at chance beyond: ``bench/answer_mapper.py``);
- ``answer_first``: each side starts with the option it picks from its own option probabilities
  (:meth:`persona_core.service.compare.Comparer.answer_starts`), then explains it.

Per way and side: how often the named option is the respondent's real one (with the steered
side's won / lost pairs against the unsteered one, McNemar), the base model's perplexity of the
answers (steered / unsteered: target <= 1.5), empty or bare-letter answers, and, with
``answer_first``, how often the explanation alone reads as the picked option (yes/no questions,
where the mapper can be trusted).

    python bench/compare_answers.py [--pairs 100] [--questions all|yes-no] [--new-tokens 48] [--temperature 0.7]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from free_text import (LETTER_ONLY, _answer_logprobs, _respondent_persona, add_pair_arguments,  # noqa: E402
                       open_question_pairs, open_steering, print_result)
from persona_core.llm import GenerationSettings  # noqa: E402
from persona_core.llm.likelihood import closest_option, closest_options, perplexity  # noqa: E402
from persona_core.metrics import paired_comparison  # noqa: E402
from persona_core.service.compare import Comparer, answer_start  # noqa: E402
from persona_core.steer.data import RecordedSplit  # noqa: E402
from persona_core.steer.free_text import is_yes_no  # noqa: E402

SIDES = ("unsteered", "steered")


def named_options(comparer: Comparer, question, texts: tuple[str, str], picked: list[int] | None) -> list[int]:
    """The option each side's answer names: the picked one, or the mapper's reading of the text."""
    if picked is not None:
        return list(picked)
    return closest_options(comparer.llm, question.text, list(texts), list(question.options)).argmax(axis=1).tolist()


def explanation_agrees(comparer: Comparer, question, text: str, k: int) -> bool:
    """Whether the text after an answer's start, read alone, names the picked option ``k``."""
    rest = text[len(answer_start(k, question.options[k])):].strip()
    return bool(rest) and int(closest_option(comparer.llm, question.text, rest, list(question.options)).argmax()) == k


def run(comparer: Comparer, space, record: dict, n_pairs: int, new_tokens: int, seed: int, yes_no_only: bool,
        temperature: float = 0.7) -> dict:
    survey, a = space.survey, space.survey.answers
    rows = open_question_pairs(space, RecordedSplit.from_record(survey, record), n_pairs, seed, yes_no_only)
    yes_no = np.array([is_yes_no(survey.questions[int(a.question[r])]) for r in rows], bool)
    out: dict = {"n_pairs": int(rows.size), "yes_no_pairs": int(yes_no.sum())}
    steered_hits = {}
    for way in ("free", "answer_first"):
        hits = {side: [] for side in SIDES}
        logprobs = {side: [] for side in SIDES}
        bare = {side: 0 for side in SIDES}
        agrees = {side: [] for side in SIDES}
        examples = []
        for n, row in enumerate(tqdm(rows, desc=way, file=sys.stderr)):
            q, y, i = int(a.question[row]), int(a.option[row]), int(a.respondent[row])
            question = survey.questions[q]
            settings = GenerationSettings(temperature=temperature, top_p=0.9, max_new_tokens=new_tokens, seed=n)
            res = comparer.compare(question, "spm", _respondent_persona(space, i), settings=settings,
                                   answer_first=way == "answer_first")
            texts = (res.unsteered, res.steered)
            picked = res.extra.get("picked_options")
            named = named_options(comparer, question, texts, picked)
            lps = _answer_logprobs(comparer, question, list(texts))
            for side, text, k, lp in zip(SIDES, texts, named, lps):
                hits[side].append(k == y)
                logprobs[side].append(lp)
                bare[side] += bool(LETTER_ONLY.match(text))
                if picked is not None and yes_no[n]:
                    agrees[side].append(explanation_agrees(comparer, question, text, k))
            if n < 3:
                examples.append({"question": question.text, "real": question.options[y], "unsteered": res.unsteered,
                                 "steered": res.steered})
        ppl = {side: perplexity([lp for lp in logprobs[side] if lp.size]) for side in SIDES}
        h = {side: np.array(hits[side]) for side in SIDES}
        steered_hits[way] = h["steered"]
        out[way] = {
            "named_is_real": {side: float(h[side].mean()) for side in SIDES},
            "named_is_real_yes_no": {side: float(h[side][yes_no].mean()) if yes_no.any() else None for side in SIDES},
            "named_is_real_other": {side: float(h[side][~yes_no].mean()) if (~yes_no).any() else None for side in SIDES},
            "steered_against_unsteered": paired_comparison(h["unsteered"], h["steered"]),
            "perplexity": ppl,
            "perplexity_ratio": ppl["steered"] / ppl["unsteered"],
            "empty_or_letter_only": bare,
            "explanation_names_the_pick_yes_no": ({side: float(np.mean(agrees[side])) for side in SIDES}
                                                  if way == "answer_first" and yes_no.any() else None),
            "hits_per_pair": {side: "".join("1" if x else "0" for x in hits[side]) for side in SIDES},
            "examples": examples,
        }
    out["steered_answer_first_against_free"] = paired_comparison(steered_hits["free"], steered_hits["answer_first"])
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_pair_arguments(ap)
    ap.add_argument("--temperature", type=float, default=0.7, help="the page's default; 0: greedy (the likeliest option)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    space, comparer, record = open_steering(args.space, args.checkpoint)
    out = {"space": space.run_key, "checkpoint": comparer.spm_path, "load_average_at_start": os.getloadavg()[0],
           "questions": args.questions, "temperature": args.temperature,
           **run(comparer, space, record, args.pairs, args.new_tokens, args.seed, args.questions == "yes-no",
                 args.temperature)}
    return print_result(out, t0)

if __name__ == "__main__":
    main()
