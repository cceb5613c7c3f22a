"""Free-text steering checks of a trained steering model; prints one JSON object.

1. **Still text.** On 20 free-text prompts (a cohort persona each, cycling through the
   cohorts) the steered and the unsteered answers are generated as the Compare page does
   (one :class:`persona_core.service.compare.Comparer`), with the app's sampling settings and
   greedily. The base model reads each answer after the unsteered prompt; the JSON has both
   pooled perplexities and their ratio (target: steered <= 1.5 x unsteered), and how many
   answers are empty or a bare letter (target: none).
2. **Carries the steering.** On 100 (respondent, survey question) pairs (held-out answers of
   the SPM's training respondents on its questions), the question is asked *without* its
   options. Each generated answer is mapped to an option by the base model's length-normalised
   likelihood of each option's text after it (:func:`persona_core.llm.likelihood.closest_option`),
   and compared with the respondent's real answer. Beside it, on the same pairs: the same
   steering with the population-mean persona (``population``: what the adapter says without
   the person), the training majority, chance, the mapper on the option text itself (its
   ceiling), and the multiple-choice scoring of both sides.

   ``--questions yes-no`` keeps only questions whose options are yes and no: there the mapper
   reads a short answer's stance 79 % of the time (``bench/answer_mapper.py``).

    python bench/free_text.py [--space DIR] [--checkpoint DIR] [--prompts 20] [--pairs 100] [--questions all|yes-no]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from persona_core.cli_steer import resolve_space, default_checkpoint_dir  # noqa: E402
from persona_core.llm import LLM, GenerationSettings  # noqa: E402
from persona_core.llm.likelihood import closest_option, closest_options, continuation_logprobs, perplexity  # noqa: E402
from persona_core.llm.loading import load_model  # noqa: E402
from persona_core.service.checkpoints import load_spm  # noqa: E402
from persona_core.service.compare import Comparer  # noqa: E402
from persona_core.service.personas import Persona  # noqa: E402
from persona_core.steer.config import default_config  # noqa: E402
from persona_core.steer.data import RecordedSplit  # noqa: E402
from persona_core.steer.free_text import is_yes_no  # noqa: E402

PROMPTS = (
    "What do you think about the role of government in providing health care?",
    "How do you feel about immigration to this country?",
    "What should be done about crime in big cities?",
    "Do you trust the news media? Why or why not?",
    "What do you think about the death penalty?",
    "How important is religion in your daily life?",
    "What is your opinion of labor unions?",
    "Should the government spend more money on the military?",
    "How do you feel about same-sex marriage?",
    "What do you think about gun control laws?",
    "Is it the government's job to reduce income differences between rich and poor?",
    "What do you think about abortion?",
    "How much confidence do you have in the Supreme Court?",
    "What do you think about the environment and climate change?",
    "Should marijuana be legal?",
    "How do you feel about people on welfare?",
    "What makes a good life?",
    "Do you think most people can be trusted?",
    "What do you think of the police in your area?",
    "How should schools teach children about sex?",
)
LETTER_ONLY = re.compile(r"^\W*[A-Za-z]?\W*$")


def _cohort_personas(space) -> list[Persona]:
    labels = np.asarray(space.cohort_labels)
    return [Persona("cohort", str(c), f"Cohort {c}", np.asarray(v, np.float32), tuple(np.flatnonzero(labels == c).tolist()),
                    space.run_key) for c, v in sorted(space.cohort_centroids.items())]


def _respondent_persona(space, i: int) -> Persona:
    rid = space.survey.respondent_ids[i]
    return Persona("respondent", rid, f"Respondent {rid}", space.embeddings[i].astype(np.float32), (int(i),), space.run_key)


def _answer_logprobs(comparer: Comparer, question: str, answers: list[str]) -> list[np.ndarray]:
    """The base model's token log-probs of each answer after the unsteered prompt."""
    prompt = comparer.prompt_ids(question)
    texts = comparer.llm.encode(answers)
    keep = [i for i, t in enumerate(texts) if t]
    lps = continuation_logprobs(comparer.llm.model, [prompt] * len(keep), [texts[i] for i in keep])
    out = [np.zeros(0)] * len(answers)
    for i, lp in zip(keep, lps):
        out[i] = lp
    return out


def free_text_check(comparer: Comparer, personas: list[Persona], n_prompts: int, settings: GenerationSettings) -> dict:
    """Perplexity under the base model and bare-letter/empty counts, steered vs unsteered."""
    rows = []
    for i, prompt in enumerate(tqdm(PROMPTS[:n_prompts], desc=f"free text T={settings.temperature}", file=sys.stderr)):
        s = GenerationSettings(temperature=settings.temperature, top_p=settings.top_p,
                               max_new_tokens=settings.max_new_tokens, seed=None if settings.greedy else i)
        res = comparer.compare(prompt, "spm", personas[i % len(personas)], settings=s)
        lp_u, lp_s = _answer_logprobs(comparer, prompt, [res.unsteered, res.steered])
        rows.append({"prompt": prompt, "persona": res.persona_title, "unsteered": res.unsteered, "steered": res.steered,
                     "lp_u": lp_u, "lp_s": lp_s})
    ppl_u = perplexity([r["lp_u"] for r in rows if r["lp_u"].size])
    ppl_s = perplexity([r["lp_s"] for r in rows if r["lp_s"].size])
    bad = {side: sum(bool(LETTER_ONLY.match(r[side])) for r in rows) for side in ("unsteered", "steered")}
    return {
        "n_prompts": len(rows),
        "settings": {"temperature": settings.temperature, "top_p": settings.top_p, "max_new_tokens": settings.max_new_tokens},
        "perplexity_unsteered": ppl_u,
        "perplexity_steered": ppl_s,
        "perplexity_ratio": ppl_s / ppl_u,
        "ratio_target": 1.5,
        "ratio_met": ppl_s / ppl_u <= 1.5,
        "empty_or_letter_only": bad,
        "mean_tokens": {"unsteered": float(np.mean([r["lp_u"].size for r in rows])),
                        "steered": float(np.mean([r["lp_s"].size for r in rows]))},
        "examples": [{k: r[k] for k in ("prompt", "persona", "unsteered", "steered")} for r in rows[:3]],
    }


def open_question_pairs(space, split: RecordedSplit, n_pairs: int, seed: int, yes_no_only: bool = False) -> np.ndarray:
    """The seeded answer rows the open-question check asks: held-out answers of the SPM's training
    respondents on its training questions (``yes_no_only``: yes/no questions alone)."""
    survey, a = space.survey, space.survey.answers
    spm_q = split.questions
    if yes_no_only:
        spm_q = np.array([q for q in spm_q if is_yes_no(survey.questions[q])])
    pool = np.flatnonzero(space.heldout_mask & np.isin(a.respondent, split.train_respondents) & np.isin(a.question, spm_q))
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(pool, min(n_pairs, pool.size), replace=False))


def rates_by_kind(hits: dict[str, list[bool]], yes_no: list[bool]) -> dict:
    """Match rates on the yes/no questions' pairs and on the others' (each with its count)."""
    out = {}
    for kind, keep in (("yes_no", np.array(yes_no, bool)), ("other", ~np.array(yes_no, bool))):
        out[kind] = {"n_pairs": int(keep.sum()), **{k: float(np.mean(np.array(v)[keep])) if keep.any() else None
                                                   for k, v in hits.items()}}
    return out


def open_question_check(comparer: Comparer, space, record: dict, n_pairs: int, new_tokens: int, seed: int,
                        yes_no_only: bool = False) -> dict:
    """Ask survey questions without options; map each answer to an option; compare with the truth.
    ``yes_no_only``: only questions whose options are yes and no, where the mapper's reading has
    been measured (``bench/answer_mapper.py``)."""
    survey, a = space.survey, space.survey.answers
    split = RecordedSplit.from_record(survey, record)
    train_resp = split.train_respondents
    rows = open_question_pairs(space, split, n_pairs, seed, yes_no_only)
    train = ~space.heldout_mask
    llm = comparer.llm
    settings = GenerationSettings(temperature=0.0, max_new_tokens=new_tokens)
    hits = {k: [] for k in ("unsteered", "steered", "population", "mapper_on_option_text", "majority", "mc_unsteered",
                            "mc_steered")}
    # the control: the same steering with the population-mean persona (the training respondents'
    # mean embedding, as eval's spm_population), so what the persona adds shows beside what the
    # adapter alone says; greedy, so one answer per question
    population = Persona("selection", "population", "Population", space.embeddings[train_resp].mean(axis=0).astype(np.float32),
                         tuple(int(i) for i in train_resp), space.run_key)
    population_answer: dict[int, int] = {}
    chance, examples = [], []
    for n, row in enumerate(tqdm(rows, desc="open questions", file=sys.stderr)):
        q, y, i = int(a.question[row]), int(a.option[row]), int(a.respondent[row])
        question = survey.questions[q]
        persona = _respondent_persona(space, i)
        res = comparer.compare(question.text, "spm", persona, settings=settings)
        options = list(question.options)
        p_u, p_s, p_self = closest_options(llm, question.text, [res.unsteered, res.steered, options[y]], options)
        majority = np.bincount(a.option[train & (a.question == q)], minlength=len(options)).argmax()
        mc_u, mc_s = comparer.option_probabilities(question, "spm", persona)
        if q not in population_answer:
            said = comparer.compare(question.text, "spm", population, settings=settings).steered
            population_answer[q] = int(closest_option(llm, question.text, said, options).argmax())
        for key, pred in (("unsteered", p_u.argmax()), ("steered", p_s.argmax()), ("population", population_answer[q]),
                          ("mapper_on_option_text", p_self.argmax()),
                          ("majority", majority), ("mc_unsteered", mc_u.argmax()), ("mc_steered", mc_s.argmax())):
            hits[key].append(int(pred) == y)
        chance.append(1.0 / len(options))
        if n < 3:
            examples.append({"question": question.text, "real": options[y], "unsteered": res.unsteered,
                             "unsteered_mapped": options[int(p_u.argmax())], "steered": res.steered,
                             "steered_mapped": options[int(p_s.argmax())]})
    rate = {k: float(np.mean(v)) for k, v in hits.items()}
    return {
        "n_pairs": int(rows.size),
        "questions": "yes/no only" if yes_no_only else "all",
        "match": rate,
        "match_by_kind": rates_by_kind(hits, [is_yes_no(survey.questions[int(a.question[r])]) for r in rows]),
        "chance": float(np.mean(chance)),
        "steered_minus_unsteered": rate["steered"] - rate["unsteered"],
        "steered_over_unsteered": rate["steered"] / rate["unsteered"] if rate["unsteered"] else None,
        # one character per pair (1: matched), in the seeded pairs' order: runs of other checkpoints
        # on the same pairs can be compared pair by pair (McNemar), not only by their rates
        "hits_per_pair": {k: "".join("1" if h else "0" for h in hits[k]) for k in ("unsteered", "steered", "population", "mc_steered")},
        "examples": examples,
    }


def open_steering(space_dir: str | None, checkpoint: str | None):
    """(space, comparer over its SPM checkpoint, the checkpoint's record): the newest stored space
    and the default config's checkpoint unless named."""
    space, _ = resolve_space(argparse.Namespace(db=None, dataset=None, space=space_dir))
    ckpt = Path(checkpoint) if checkpoint else default_checkpoint_dir(space.run_key, default_config())
    llm = LLM(*load_model())
    spm, record = load_spm(ckpt, space.run_key, llm)
    return space, Comparer(llm, spm, ckpt), record


def print_result(out: dict, started: float) -> dict:
    """Add the run's seconds and the load at its end to ``out`` and print it as one JSON line."""
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["load_average_at_end"] = os.getloadavg()[0]
    print(json.dumps(out, default=float))
    return out


def add_pair_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of a bench that asks the seeded (respondent, survey question) pairs of
    :func:`open_question_pairs` with a steering model (:func:`open_steering`)."""
    ap.add_argument("--space", help="persona space folder (default: the newest stored space)")
    ap.add_argument("--checkpoint", help="SPM checkpoint folder (default: the default config's)")
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--questions", choices=("all", "yes-no"), default="all",
                    help="survey questions of the pairs (yes-no: where the mapper is measured)")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_pair_arguments(ap)
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    space, comparer, record = open_steering(args.space, args.checkpoint)
    personas = _cohort_personas(space)
    out = {
        "space": space.run_key, "checkpoint": comparer.spm_path, "load_average_at_start": os.getloadavg()[0],
        "free_text": {
            "sampled": free_text_check(comparer, personas, args.prompts,
                                       GenerationSettings(temperature=0.7, top_p=0.9, max_new_tokens=args.new_tokens)),
            "greedy": free_text_check(comparer, personas, args.prompts,
                                      GenerationSettings(temperature=0.0, max_new_tokens=args.new_tokens)),
        },
        "open_questions": open_question_check(comparer, space, record, args.pairs, args.new_tokens, args.seed,
                                              yes_no_only=args.questions == "yes-no"),
    }
    return print_result(out, t0)


if __name__ == "__main__":
    main()
