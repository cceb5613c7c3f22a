"""Batch generation of preference pairs: for each persona x question, the unsteered and the
steered answer (``steered`` mode; steered with the run's SPM when a checkpoint is given, else
with the persona written as text), or the answers steered toward two personas
(``personas`` mode, every unordered pair of the listed personas).

Pairs follow the Compare page's convention: in ``steered`` mode ``response_a`` is unsteered
and ``response_b`` steered (``meta["steered_side"] == "b"``); the annotation page shows them
in a random order.
"""
from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from persona_core.progress import tqdm

from persona_core.data.errors import DataError
from persona_core.data.survey import Question
from persona_core.llm import GenerationSettings
from persona_core.llm.config import LLMConfig
from persona_core.service.annotation import comparison_meta
from persona_core.service.catalog import SpaceView
from persona_core.service.compare import Comparer, has_options, question_text
from persona_core.service.personas import Persona, cohort_persona, describe_persona, respondent_persona

MODES = ("steered", "personas")
FREE_PREFIX = "free:"


@dataclass(frozen=True)
class GenerateConfig:
    """``method``: ``auto`` (the SPM when loaded, else text), ``spm`` or ``text``;
    ``answer_first``: on a bank question each side's answer starts with the option it picks from
    its own option probabilities, then explains it (:meth:`Comparer.answer_starts`)."""

    mode: str = "steered"
    method: str = "auto"
    max_new_tokens: int = 48
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int | None = 0
    answer_first: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.method not in ("auto", "spm", "text"):
            raise ValueError(f"method must be auto, spm or text, got {self.method!r}")


@dataclass
class GeneratedPair:
    prompt: str
    response_a: str
    response_b: str
    meta: dict = field(default_factory=dict)


def resolve_persona(view: SpaceView, spec: str) -> Persona:
    """``cohort:3``, ``respondent:R17``, a bare cohort number or a bare respondent id -> Persona."""
    spec = str(spec).strip()
    kind, _, key = spec.partition(":")
    try:
        if kind == "cohort":
            return cohort_persona(view, int(key))
        if kind == "respondent":
            return respondent_persona(view, key)
        if spec.lstrip("-").isdigit() and int(spec) in view.cohort_centroids:
            return cohort_persona(view, int(spec))
        return respondent_persona(view, spec)
    except (KeyError, ValueError) as exc:
        raise DataError(f"unknown persona {spec!r} ({exc}); use cohort:N or respondent:ID", column="--personas") from None


LARGEST_PREFIX = "largest:"
DISTINCTIVE_PREFIX = "distinctive:"


def _count(spec: str, prefix: str, column: str) -> int:
    try:
        n = int(spec[len(prefix):])
    except ValueError:
        n = 0
    if n < 1:
        raise DataError(f"{spec!r}: give a positive count, e.g. {prefix}3", column=column)
    return n


def largest_cohorts(view: SpaceView, n: int) -> list[int]:
    """The labels of the ``n`` largest cohorts (outliers are no cohort), largest first."""
    sizes = {label: int(np.sum(view.cohort_labels == label)) for label in view.cohort_centroids if label >= 0}
    return sorted(sizes, key=lambda label: (-sizes[label], label))[:n]


def distinctive_questions(view: SpaceView, labels: list[int], n: int) -> list[str]:
    """``n`` question ids that set the cohorts ``labels`` apart: each cohort's most distinctive
    questions (its profile's order) taken in turn, without repeats."""
    lists = [[item["question_id"] for item in (view.profiles.get(label) or {}).get("distinctive_questions", [])]
             for label in labels]
    out: list[str] = []
    for rank in range(max((len(x) for x in lists), default=0)):
        for ids in lists:
            if rank < len(ids) and ids[rank] not in out and len(out) < n:
                out.append(ids[rank])
    return out


def resolve_personas(view: SpaceView, specs: list[str]) -> list[Persona]:
    """:func:`resolve_persona` of each spec; ``largest:N`` stands for the N largest cohorts."""
    out: list[Persona] = []
    for spec in specs:
        spec = str(spec).strip()
        if spec.startswith(LARGEST_PREFIX):
            labels = largest_cohorts(view, _count(spec, LARGEST_PREFIX, "--personas"))
            if not labels:
                raise DataError(f"{spec!r}: embedding run {view.run_id} has no cohorts", column="--personas")
            out.extend(cohort_persona(view, label) for label in labels)
        else:
            out.append(resolve_persona(view, spec))
    return out


def resolve_questions(view: SpaceView, specs: list[str], personas: list[Persona]) -> list[Question | str]:
    """:func:`resolve_question` of each spec; ``distinctive:N`` stands for N questions that set
    the cohorts among ``personas`` apart (see :func:`distinctive_questions`)."""
    out: list[Question | str] = []
    for spec in specs:
        spec = str(spec).strip()
        if spec.startswith(DISTINCTIVE_PREFIX):
            labels = [int(p.key) for p in personas if p.kind == "cohort"] or largest_cohorts(view, 3)
            ids = distinctive_questions(view, labels, _count(spec, DISTINCTIVE_PREFIX, "--questions"))
            if not ids:
                raise DataError(f"{spec!r}: no cohort profile of embedding run {view.run_id} lists a question",
                                column="--questions")
            out.extend(resolve_question(view, q) for q in ids)
        else:
            out.append(resolve_question(view, spec))
    return out


def resolve_question(view: SpaceView, spec: str) -> Question | str:
    """A survey question id, or ``free:some text`` for a free-text question."""
    spec = str(spec).strip()
    if spec.startswith(FREE_PREFIX):
        text = spec[len(FREE_PREFIX):].strip()
        if not text:
            raise DataError("empty free-text question", column="--questions")
        return text
    for q in view.survey.questions:
        if q.id == spec:
            return q
    ids = ", ".join(q.id for q in view.survey.questions[:5])
    raise DataError(f"no question {spec!r} in {view.dataset_name} (ids look like {ids}; free text: 'free:...')",
                    column="--questions")


class PairGenerator:
    """Generates pairs with a :class:`persona_core.service.compare.Comparer`."""

    def __init__(self, comparer: Comparer, view: SpaceView, config: GenerateConfig = GenerateConfig(),
                 model_name: str | None = None) -> None:
        self.comparer = comparer
        self.view = view
        self.config = config
        self.model_name = model_name

    @property
    def method(self) -> str:
        if self.config.method == "auto":
            return "spm" if self.comparer.spm is not None else "text"
        return self.config.method

    def _settings(self, i: int) -> GenerationSettings:
        c = self.config
        seed = None if c.seed is None else c.seed + 1000 * i
        return GenerationSettings(temperature=c.temperature, top_p=c.top_p, max_new_tokens=c.max_new_tokens, seed=seed)

    def _description(self, persona: Persona) -> str | None:
        return describe_persona(self.view, persona) if self.method == "text" else None

    def steered_pair(self, persona: Persona, question: Question | str, i: int = 0) -> GeneratedPair:
        result = self.comparer.compare(question, self.method, persona, self._description(persona), self._settings(i),
                                       answer_first=self.config.answer_first)
        meta = comparison_meta(result, self.view.run_id, self.model_name)
        meta["spm_checkpoint"] = self.comparer.spm_path if self.method == "spm" else None
        return GeneratedPair(result.prompt, result.unsteered, result.steered, meta)

    def persona_pair(self, first: Persona, second: Persona, question: Question | str, i: int = 0) -> GeneratedPair:
        """Two personas' steered answers to one question. With ``answer_first`` on a bank question,
        each starts with the option it picks; the two draws share their seed, so they differ only
        where the two personas' option probabilities do."""
        settings = self._settings(i)
        texts, picked = [], []
        for persona in (first, second):
            description = self._description(persona)
            start = None
            if self.config.answer_first and has_options(question):
                start, k = self.comparer.answer_starts(question, self.method, persona, description, settings)[1]
                picked.append(k)
            texts.append(self.comparer.steered_answer(question, self.method, persona, description, settings, start))
        info = [{"kind": p.kind, "key": p.key, "title": p.title} for p in (first, second)]
        meta = {
            "steered_side": None, "method": self.method, "personas": info, "persona_a": info[0], "persona_b": info[1],
            "question_id": question.id if isinstance(question, Question) else None,
            "model": LLMConfig(model=self.model_name).resolved_model(), "embedding_run": self.view.run_id,
            "spm_checkpoint": self.comparer.spm_path if self.method == "spm" else None,
            "settings": {"temperature": self.config.temperature, "top_p": self.config.top_p,
                         "max_new_tokens": self.config.max_new_tokens, "seed": self.config.seed},
            **({"picked_options": picked} if picked else {}),
        }
        return GeneratedPair(question_text(question), texts[0], texts[1], meta)

    def generate(self, personas: list[Persona], questions: list[Question | str],
                 on_pair: Callable[[GeneratedPair], None] | None = None) -> list[GeneratedPair]:
        """Every pair of the grid, with a progress bar on stderr."""
        if self.config.mode == "steered":
            jobs = [(p, q) for p in personas for q in questions]
        else:
            if len(personas) < 2:
                raise DataError("personas mode needs at least two personas", column="--personas")
            jobs = [(pp, q) for pp in itertools.combinations(personas, 2) for q in questions]
        out = []
        for i, (who, question) in enumerate(tqdm(jobs, desc="pairs", unit="pair", file=sys.stderr)):
            pair = self.steered_pair(who, question, i) if self.config.mode == "steered" else self.persona_pair(*who, question, i)
            out.append(pair)
            if on_pair is not None:
                on_pair(pair)
        return out
