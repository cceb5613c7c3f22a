"""Targets for the free-text training term: the base model's own answers, labelled by option.

The letter term teaches the steered model which option a persona picks, but a free-text answer
(the question asked without options, as Compare asks it) does not follow (FINDINGS round 3), and
training on the options' bare words broke sampled fluency (round 6). Here each training question
is asked, without options, of the *unsteered base model* ``samples`` times (the app's sampling
settings); every answer is mapped to the option it expresses by the base model
(:func:`persona_core.llm.likelihood.closest_option`, the same mapper ``bench/free_text.py``
judges with). A training row whose real answer is option ``k`` is then taught, teacher-forced,
one of the base model's answers that say ``k`` (rejection-sampled fine-tuning: the texts are the
base model's own, so fluency has nothing to lose; only which of them a persona says moves).

Targets are plain token-id lists, saved as JSON beside a checkpoint (never pickled).
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from persona_core.data.survey import Question
from persona_core.llm import LLM, GenerationSettings
from persona_core.llm.likelihood import closest_options
from persona_core.progress import tqdm
from persona_core.steer.prompts import FREE_INSTRUCTION, PromptBuilder

TARGETS_FILE = "free_text_targets.json"
TARGETS_FORMAT = 2  # 2: an answer that ended carries its end-of-turn token (1, unmarked: never did)


Labeller = Callable[[Question, Sequence[str]], Sequence[int]]  # (question, answer texts) -> the option each says

QUESTIONS_PER_BATCH = 4  # questions sampled in one decoding batch (x ``samples`` rows)


def is_yes_no(question: Question) -> bool:
    """Options exactly yes and no (any case): where the base-model mapper has been measured."""
    return sorted(str(o).strip().lower() for o in question.options) == ["no", "yes"]


def yes_no_indices(questions: Sequence[Question], indices: Sequence[int]) -> list[int]:
    """The ``indices`` whose questions are yes/no (:func:`is_yes_no`), in order."""
    return [int(i) for i in indices if is_yes_no(questions[int(i)])]


def free_text_builder(tokenizer) -> PromptBuilder:
    """The prompt a free-text answer is asked with: the question alone and Compare's instruction."""
    return PromptBuilder(tokenizer, list_options=False, instruction=FREE_INSTRUCTION)


@dataclass
class FreeTextTargets:
    """Per question index: the base model's answers (token ids) and the option each expresses.
    ``settings``: how they were made (checked before reuse)."""

    answers: dict[int, list[tuple[list[int], int]]] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def pick(self, question: int, options: np.ndarray, rng: np.random.Generator) -> list[tuple[int, list[int]]]:
        """For each row's real option, one answer that expresses it, drawn at random:
        ``[(row position, token ids)]`` for the rows that have one."""
        by_option: dict[int, list[list[int]]] = {}
        for ids, option in self.answers.get(int(question), []):
            by_option.setdefault(option, []).append(ids)
        picked = []
        for i, option in enumerate(np.asarray(options).tolist()):
            texts = by_option.get(int(option))
            if texts:
                picked.append((i, texts[int(rng.integers(len(texts)))]))
        return picked

    def option_coverage(self) -> float:
        """Share of (question, option) pairs with at least one answer saying that option."""
        seen = {(q, o) for q, rows in self.answers.items() for _, o in rows}
        return len(seen) / max(1, sum(self.settings.get("n_options", {}).values()))

    def save(self, path: str | Path) -> None:
        data = {"settings": self.settings, "answers": {str(q): [[ids, o] for ids, o in rows] for q, rows in self.answers.items()}}
        tmp = Path(path).with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> "FreeTextTargets":
        data = json.loads(Path(path).read_text())
        answers = {int(q): [(list(map(int, ids)), int(o)) for ids, o in rows] for q, rows in data["answers"].items()}
        return cls(answers=answers, settings=data["settings"])


def sample_targets(
    model,
    tokenizer,
    questions: Sequence[Question],
    indices: Sequence[int],
    samples: int,
    max_tokens: int,
    seed: int,
    progress: bool = True,
    labeller: Labeller | None = None,
) -> FreeTextTargets:
    """Ask each yes/no question ``questions[i]`` (``i`` in ``indices``; others are skipped)
    ``samples`` times of the base ``model`` without its options (temperature 0.7, top-p 0.9, at
    most ``max_tokens`` tokens) and label every non-empty answer with ``labeller`` (default: the
    option :func:`closest_options` puts first). An answer the model ended within ``max_tokens``
    ends with its end-of-turn token; one cut at the limit does not.

    Several questions share a decoding batch (:data:`QUESTIONS_PER_BATCH`); each answer draws with
    its own seed (:func:`answer_seeds`), so it is the answer that question would get sampled alone."""
    llm = LLM(model, tokenizer)
    builder = free_text_builder(tokenizer)
    if labeller is None:
        labeller = lambda question, texts: closest_options(llm, question.text, texts, list(question.options)).argmax(axis=1)
    indices = yes_no_indices(questions, indices)
    targets = FreeTextTargets(settings={"samples": samples, "max_tokens": max_tokens, "seed": seed, "questions": indices,
                                        "n_options": {str(i): questions[i].n_options for i in indices},
                                        "format": TARGETS_FORMAT})
    bar = tqdm(total=len(indices), desc="free-text targets", unit="question", disable=not progress, leave=False,
               file=sys.stderr)
    for start in range(0, len(indices), QUESTIONS_PER_BATCH):
        group = indices[start : start + QUESTIONS_PER_BATCH]
        ends: list[int | None] = []
        texts = sample_answers(llm, builder, questions, group, samples, max_tokens, seed, ends)
        for k, q in enumerate(group):
            said = [(text, end) for text, end in zip(texts[k * samples : (k + 1) * samples], ends[k * samples : (k + 1) * samples])
                    if text.strip()]
            labels = labeller(questions[q], [text for text, _ in said]) if said else []
            # an answer that ended keeps its end-of-turn token, so the steered model learns to stop
            # where the base model did (without it, it learnt to run to the token limit)
            targets.answers[int(q)] = [(tokenizer.encode(text, add_special_tokens=False) + ([int(end)] if end is not None else []),
                                        int(label)) for (text, end), label in zip(said, labels)]
            bar.update(1)
    bar.close()
    return targets


def answer_seeds(seed: int, questions: Sequence[int], samples: int) -> list[int]:
    """The seed of each answer of :func:`sample_targets`, question by question: answer ``j`` of
    question ``i`` draws with ``seed * 100003 + i * samples + j``, whatever batch it shares."""
    return [seed * 100_003 + int(q) * samples + j for q in questions for j in range(samples)]


def answer_settings(max_tokens: int) -> GenerationSettings:
    """How the targets' answers are sampled: temperature 0.7, top-p 0.9, at most ``max_tokens``."""
    return GenerationSettings(temperature=0.7, top_p=0.9, max_new_tokens=max_tokens)


def sample_answers(llm: LLM, builder: PromptBuilder, questions: Sequence[Question], group: Sequence[int], samples: int,
                   max_tokens: int, seed: int, ends: list | None = None) -> list[str]:
    """``samples`` answers to each question ``questions[i]`` (``i`` in ``group``), question by
    question, each with its own seed (:func:`answer_seeds`). Each question's prompt runs through
    the model once for all its samples (:meth:`Prefill.repeat_rows`). ``ends``: see
    :meth:`LLM.continue_stream`."""
    with torch.inference_mode():
        prefill = llm.prefill([builder.render(questions[q]) for q in group]).repeat_rows(samples)
        return llm.generate_from(prefill, settings=answer_settings(max_tokens), ends=ends,
                                 seeds=answer_seeds(seed, group, samples))


def load_or_sample(path: Path | None, model, tokenizer, questions, indices, samples, max_tokens, seed, progress,
                   labeller: Labeller | None = None) -> FreeTextTargets:
    """The targets saved at ``path`` when they were made with the same settings, else fresh ones
    (saved there when ``path`` is given)."""
    if path is not None and path.exists():
        got = FreeTextTargets.load(path)
        same = {"samples": samples, "max_tokens": max_tokens, "seed": seed, "questions": yes_no_indices(questions, indices),
                "format": TARGETS_FORMAT}
        if all(got.settings.get(k) == v for k, v in same.items()):
            return got
    targets = sample_targets(model, tokenizer, questions, indices, samples, max_tokens, seed, progress, labeller)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        targets.save(path)
    return targets
