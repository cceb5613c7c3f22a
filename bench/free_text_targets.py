"""How long the free-text training targets take to sample, batched against one question at a time.
Prints one JSON object.

The default train (:class:`persona_core.steer.config.TrainConfig`, ``free_text`` on) first asks each
yes/no training question ``free_text_samples`` times of the base model and labels every answer
with its option (:func:`persona_core.steer.free_text.sample_targets`). Two ways, on the same
questions and seeds, in one run:

- ``one_at_a_time``: one question per decoding batch, and each answer labelled by its own forward
  pass with one row per option (how the targets were made until this bench was written);
- ``batched``: :data:`persona_core.steer.free_text.QUESTIONS_PER_BATCH` questions per decoding
  batch, and each question's answers labelled together (one-token options read from one row per
  answer: :func:`persona_core.llm.likelihood.closest_options`).

It checks that both give the same targets (texts, end tokens and labels).

Section ``generation`` times the sampling alone, on the same groups of questions and seeds:

- ``each_prompt_full_sort``: every sample's prompt run through the model (a batch of
  ``samples`` copies of each question's prompt) and top-p computed by sorting the whole
  vocabulary (until round 15);
- ``prompt_once_nucleus``: each question's prompt run once and its keys/values repeated for its
  samples (:meth:`persona_core.llm.backend.Prefill.repeat_rows`), and top-p read from the most
  likely tokens first (:func:`persona_core.llm.sampling.nucleus`), as ``sample_targets`` does now.

It checks that both give the same texts and end tokens.

    python bench/free_text_targets.py [--questions 43] [--wave 2016] [--only generation|targets]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from persona_core.data.loaders import load_survey  # noqa: E402
from persona_core.llm import LLM  # noqa: E402
from persona_core.llm import sampling  # noqa: E402
from persona_core.llm.likelihood import MAP_INSTRUCTION, continuation_logprobs  # noqa: E402
from persona_core.llm.loading import load_model  # noqa: E402
from persona_core.steer import free_text  # noqa: E402
from persona_core.steer.config import TrainConfig  # noqa: E402


def one_row_per_option_labeller(llm: LLM):
    """Each answer labelled alone, one row per option (the mapper before ``closest_options``)."""
    def label(question, texts):
        out = []
        for text in texts:
            user = f"Question: {question.text.strip()}\nThis person answered: \"{text.strip()}\"\n{MAP_INSTRUCTION}"
            context = llm.encode([llm.chat_prompt(user)])[0]
            options = llm.encode([str(o).strip() for o in question.options])
            lps = continuation_logprobs(llm.model, [context] * len(options), options)
            out.append(int(np.argmax([lp.mean() for lp in lps])))
        return out
    return label


def bench_generation(llm: LLM, survey, questions: list[int], cfg: TrainConfig) -> dict:
    """Seconds to sample the targets' answers (no labelling), each sample's prompt run and the
    whole vocabulary sorted, against :func:`free_text.sample_answers` (each prompt run once, the
    nucleus read from its top tokens)."""
    builder = free_text.free_text_builder(llm.tokenizer)
    n, k = cfg.free_text_samples, free_text.QUESTIONS_PER_BATCH
    groups = [questions[i : i + k] for i in range(0, len(questions), k)]
    out: dict = {}

    def each_prompt_full_sort(group, ends):
        sampling.NUCLEUS_CANDIDATES, default = llm.model.config.vocab_size, sampling.NUCLEUS_CANDIDATES
        try:  # every candidate is the whole vocabulary: the full sort
            return llm.generate([builder.render(survey.questions[q]) for q in group for _ in range(n)],
                                settings=free_text.answer_settings(cfg.free_text_tokens), ends=ends,
                                seeds=free_text.answer_seeds(cfg.seed, group, n))
        finally:
            sampling.NUCLEUS_CANDIDATES = default

    def prompt_once_nucleus(group, ends):
        return free_text.sample_answers(llm, builder, survey.questions, group, n, cfg.free_text_tokens, cfg.seed, ends)

    texts = {}
    for name, fn in (("each_prompt_full_sort", each_prompt_full_sort), ("prompt_once_nucleus", prompt_once_nucleus)):
        t0, got = time.perf_counter(), []
        with torch.inference_mode():
            for group in groups:
                ends: list = []
                got += list(zip(fn(group, ends), ends))
        out[f"{name}_s"] = round(time.perf_counter() - t0, 1)
        texts[name] = got
    before, after = texts["each_prompt_full_sort"], texts["prompt_once_nucleus"]
    out["prompt_once_nucleus_over_each_prompt_full_sort"] = round(out["prompt_once_nucleus_s"] / out["each_prompt_full_sort_s"], 3)
    out["answers"], out["identical_answers"] = len(before), sum(a == b for a, b in zip(before, after))
    return out


def bench_targets(model, tok, survey, questions: list[int], cfg: TrainConfig) -> dict:
    """The whole targets (sampling and labelling), one question at a time against batched."""
    batch_size = free_text.QUESTIONS_PER_BATCH
    common = dict(samples=cfg.free_text_samples, max_tokens=cfg.free_text_tokens, seed=cfg.seed, progress=True)
    t0 = time.perf_counter()
    free_text.QUESTIONS_PER_BATCH = 1
    before = free_text.sample_targets(model, tok, survey.questions, questions,
                                      labeller=one_row_per_option_labeller(LLM(model, tok)), **common)
    t1 = time.perf_counter()
    free_text.QUESTIONS_PER_BATCH = batch_size
    after = free_text.sample_targets(model, tok, survey.questions, questions, **common)
    t2 = time.perf_counter()
    rows = sum(len(r) for r in before.answers.values())
    same = sum(a == b for q in questions for a, b in zip(before.answers[q], after.answers[q]))
    return {
        "questions_per_batch": batch_size,
        "one_at_a_time_s": round(t1 - t0, 1), "batched_s": round(t2 - t1, 1),
        "batched_over_one_at_a_time": round((t2 - t1) / (t1 - t0), 3),
        "targets": rows, "identical_targets": same,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=43, help="how many of the survey's yes/no questions")
    parser.add_argument("--wave", default="2016")
    parser.add_argument("--only", choices=["generation", "targets"], default=None, help="run one section")
    args = parser.parse_args()
    survey = load_survey("gss", wave=args.wave)
    model, tok = load_model()
    cfg = TrainConfig()
    questions = free_text.yes_no_indices(survey.questions, range(survey.n_questions))[: args.questions]
    out: dict = {"questions": len(questions), "samples": cfg.free_text_samples, "max_tokens": cfg.free_text_tokens}
    if args.only in (None, "generation"):
        out["generation"] = bench_generation(LLM(model, tok), survey, questions, cfg)
    if args.only in (None, "targets"):
        out["targets"] = bench_targets(model, tok, survey, questions, cfg)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
