"""Ask everyone: one question, every cohort's steered answer distribution side by side.

The personas are those of ``python -m persona_core simulate --personas cohorts``: every cohort
centroid, then the population-mean persona (:func:`persona_core.simulate.rows.choose_personas`).
With an SPM the rows are scored by the simulation's own local engine
(:class:`persona_core.simulate.local.LocalEngine`, hence :class:`persona_core.simulate.scorer.Scorer`)
in the batches a simulation run of the same personas uses, so the distributions equal what
``simulate`` stores for the same pairs. Without an SPM each persona can be steered by text (its
description in the prompt, as on the Compare page) through
:func:`persona_core.steer.scoring.text_logprobs`, the function the scorer's unsteered side calls.

Real distributions (survey questions only) are the option counts of each cohort's members (the
respondents whose most likely cohort it is) and of everybody, as the simulation's alignment
counts them (:func:`persona_core.simulate.align.real_counts`). Distances and alignments are
:mod:`persona_core.metrics`' (1 - W1 for ordered options, 1 - TV otherwise).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from persona_core.data.survey import Question
from persona_core.metrics import alignment, distribution_distance
from persona_core.service.catalog import SpaceView
from persona_core.service.compare import TEXT_PERSONA_LEAD
from persona_core.service.personas import cohort_persona, describe_persona, selection_persona
from persona_core.simulate.align import real_counts
from persona_core.simulate.config import SimulateConfig
from persona_core.simulate.rows import NEW, PersonaSet, QuestionBank, choose_personas, choose_questions, plan_rows

MIN_OPTIONS, MAX_OPTIONS = 2, 10
MAX_QUESTION_CHARS, MAX_OPTION_CHARS = 1000, 200
TYPED_ID = "typed_question"
POPULATION_TITLE = "Population (everyone)"
UNSTEERED_TITLE = "Unsteered model"
METHODS = {"spm": "Steering model (SPM) from each cohort's centroid", "text": "Each cohort described in the prompt (text)"}
SORTS = {"steered": "Differs most from the population (simulated)", "real": "Differs most from the population (real answers)",
         "cohort": "Cohort number"}
MIN_ANSWERS = SimulateConfig().min_cohort_answers  # real answers a pair needs to be compared, as in simulate
TEXT_BATCH = 8  # text-steered rows per forward pass (each row carries its own description)

Progress = Callable[[int, int], None]  # (rows scored so far, rows in all)


class InvalidQuestion(ValueError):
    """A typed question that cannot be asked; ``field`` is ``"question"`` or ``"options"``."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(problem)


def typed_question(text: str, options: str | Sequence[str], ordinal: bool = False) -> Question:
    """A new question from the user's text and options (one per line when a string; blank lines
    ignored). Raises :class:`InvalidQuestion` saying what to fix."""
    text = (text or "").strip()
    if not text:
        raise InvalidQuestion("question", "Type a question first.")
    if len(text) > MAX_QUESTION_CHARS:
        raise InvalidQuestion("question", f"The question has {len(text):,} characters; at most {MAX_QUESTION_CHARS:,} are allowed.")
    lines = options.splitlines() if isinstance(options, str) else list(options)
    opts = [str(o).strip() for o in lines if str(o).strip()]
    if not MIN_OPTIONS <= len(opts) <= MAX_OPTIONS:
        raise InvalidQuestion("options", f"Give between {MIN_OPTIONS} and {MAX_OPTIONS} answer options, one per line "
                                         f"(got {len(opts)}).")
    for k, o in enumerate(opts):
        if len(o) > MAX_OPTION_CHARS:
            raise InvalidQuestion("options", f"Option {k + 1} has {len(o):,} characters; at most {MAX_OPTION_CHARS} are allowed.")
    seen: dict[str, int] = {}
    for k, o in enumerate(opts):
        first = seen.setdefault(o.casefold(), k)
        if first != k:
            raise InvalidQuestion("options", f"Options {first + 1} and {k + 1} are the same ({o!r}); each option must differ.")
    return Question(TYPED_ID, text, tuple(opts), bool(ordinal))


def question_bank(view: SpaceView, question: Question | str) -> QuestionBank:
    """A one-question bank: a survey question by id (``KeyError``-free: the simulation's own
    lookup raises a :class:`persona_core.data.errors.DataError` naming an unknown id) or a typed
    :class:`Question` (not in the survey, so it has no real answers)."""
    if isinstance(question, str):
        return choose_questions(view.survey, [question])
    return QuestionBank([question], np.array([NEW], np.int64), "typed")


def cohort_personas(view: SpaceView) -> PersonaSet:
    """Every cohort centroid, then the population mean: ``simulate --personas cohorts``' personas."""
    return choose_personas(view, SimulateConfig().personas, population=True)


def persona_title(view: SpaceView, kind: str, key: str) -> str:
    return POPULATION_TITLE if kind == "population" else view.cohort_title(int(key))


def text_descriptions(view: SpaceView, personas: PersonaSet) -> list[str]:
    """Each persona in words, for steering by text: a cohort as the Compare page describes it;
    the population by its attributes only (its opinions are everybody's)."""
    out = []
    for kind, key in zip(personas.kinds, personas.keys):
        if kind == "cohort":
            out.append(describe_persona(view, cohort_persona(view, int(key))))
        else:
            everyone = selection_persona(view, list(view.survey.respondent_ids))
            out.append(describe_persona(view, everyone, n_opinions=0))
    return out


@dataclass(frozen=True)
class AskResult:
    """One question asked of every cohort and the population persona (rows in persona order)."""

    question: Question
    in_survey: bool
    method: str  # "spm" or "text"
    kinds: tuple[str, ...]  # "cohort" or "population"
    keys: tuple[str, ...]  # cohort label or "all"
    titles: tuple[str, ...]
    members: np.ndarray  # (n,) respondents per persona: most likely cohort; everybody for the population
    steered: np.ndarray  # (n, k) probabilities
    unsteered: np.ndarray  # (k,) probabilities
    real: np.ndarray | None  # (n, k) real answer counts (survey questions only)
    seconds: float

    @property
    def population(self) -> int:
        return self.kinds.index("population")

    def divergence(self, source: str = "steered") -> np.ndarray:
        """Each persona's distance from the population (:func:`distribution_distance`) on the
        simulated (``steered``) or the ``real`` distributions; NaN where a cohort has no answers."""
        table = self.steered if source == "steered" else self.real
        if table is None:
            raise ValueError("a typed question has no real answers")
        ref = table[self.population]
        out = np.full(len(self.keys), np.nan)
        for i, row in enumerate(table):
            if row.sum() > 0 and ref.sum() > 0:
                out[i] = distribution_distance(row, ref, self.question.ordinal)
        return out

    def order(self, by: str = "steered") -> list[int]:
        """Row order for display: the population first, then the cohorts by ``by`` (``steered`` /
        ``real``: the most different from the population first, NaN last; ``cohort``: label)."""
        if by not in SORTS:
            raise ValueError(f"sort by one of {sorted(SORTS)}, not {by!r}")
        cohorts = [i for i, k in enumerate(self.kinds) if k == "cohort"]
        if by == "cohort":
            cohorts.sort(key=lambda i: int(self.keys[i]))
        else:
            d = self.divergence(by)
            cohorts.sort(key=lambda i: (np.isnan(d[i]), -np.nan_to_num(d[i]), int(self.keys[i])))
        return [self.population, *cohorts]

    def alignment_with_real(self, min_answers: int = MIN_ANSWERS) -> tuple[np.ndarray, np.ndarray]:
        """(steered, unsteered) alignment of each persona with its real distribution, NaN where it
        has fewer than ``min_answers`` real answers (as the simulation's alignment counts pairs)."""
        n = len(self.keys)
        steered, unsteered = np.full(n, np.nan), np.full(n, np.nan)
        if self.real is None:
            return steered, unsteered
        for i, real in enumerate(self.real):
            if real.sum() >= min_answers:
                steered[i] = alignment(self.steered[i], real, self.question.ordinal)
                unsteered[i] = alignment(self.unsteered, real, self.question.ordinal)
        return steered, unsteered

    def table(self, by: str = "steered") -> pd.DataFrame:
        """One row per persona (in :meth:`order`): members, real answers, distance from the
        population (simulated and real) and alignment with the real answers."""
        order = self.order(by)
        frame = pd.DataFrame({"persona": [self.titles[i] for i in order],
                              "members": [int(self.members[i]) for i in order],
                              "differs from population (simulated)": self.divergence("steered")[order]})
        if self.real is not None:
            steered, unsteered = self.alignment_with_real()
            frame["real answers"] = self.real[order].sum(axis=1).astype(int)
            frame["differs from population (real)"] = self.divergence("real")[order]
            frame["alignment (steered)"] = steered[order]
            frame["alignment (unsteered)"] = unsteered[order]
        frame["most likely answer"] = [self.question.options[int(np.argmax(self.steered[i]))] for i in order]
        return frame

    def shares(self, by: str = "steered") -> pd.DataFrame:
        """Long frame (``persona``, ``source``, ``option``, ``share``) for the bars: the unsteered
        model first, then each persona's simulated shares and, where there are any, its real ones."""
        opts = list(self.question.options)
        rows = [(UNSTEERED_TITLE, "simulated", o, float(p)) for o, p in zip(opts, self.unsteered)]
        for i in self.order(by):
            rows += [(self.titles[i], "simulated", o, float(p)) for o, p in zip(opts, self.steered[i])]
            if self.real is not None and self.real[i].sum() > 0:
                rows += [(self.titles[i], "real", o, float(c / self.real[i].sum())) for o, c in zip(opts, self.real[i])]
        return pd.DataFrame(rows, columns=["persona", "source", "option", "share"])


def ask_everyone(view: SpaceView, model, tokenizer, question: Question | str, *, spm=None, method: str | None = None,
                 descriptions: Sequence[str] | None = None, batch_size: int = SimulateConfig().batch_size,
                 progress: Progress | None = None) -> AskResult:
    """Score ``question`` (a survey question id or a typed :class:`Question`) for every cohort
    and the population persona, steered (``method="spm"``: with ``spm``, the default when one is
    given; ``"text"``: by ``descriptions``, default :func:`text_descriptions`) and unsteered."""
    t0 = time.perf_counter()
    method = method or ("spm" if spm is not None else "text")
    if method not in METHODS:
        raise ValueError(f"unknown steering method {method!r}; use one of {sorted(METHODS)}")
    if method == "spm" and spm is None:
        raise ValueError("steering the cohorts by their centroids needs a steering model (SPM checkpoint)")
    bank = question_bank(view, question)
    personas = cohort_personas(view)
    if method == "spm":
        steered, unsteered = _score_spm(model, tokenizer, spm, bank, personas, batch_size, progress)
    else:
        texts = list(descriptions) if descriptions is not None else text_descriptions(view, personas)
        if len(texts) != len(personas):
            raise ValueError(f"{len(texts)} descriptions for {len(personas)} personas")
        steered, unsteered = _score_text(model, tokenizer, bank, texts, progress)
    likely = np.asarray(view.likely_cohorts, np.int64)
    labels = [int(k) for kind, k in zip(personas.kinds, personas.keys) if kind == "cohort"]
    members = np.array([int((likely == int(k)).sum()) if kind == "cohort" else view.survey.n_respondents
                        for kind, k in zip(personas.kinds, personas.keys)], np.int64)
    real = None
    index = int(bank.survey_index[0])
    if index != NEW:
        cohort_counts, population = real_counts(view.survey, likely, labels)
        n = bank.questions[0].n_options
        slot = {c: i for i, c in enumerate(labels)}
        real = np.stack([cohort_counts[slot[int(k)], index, :n] if kind == "cohort" else population[index, :n]
                         for kind, k in zip(personas.kinds, personas.keys)]).astype(np.float64)
    return AskResult(
        question=bank.questions[0], in_survey=index != NEW, method=method, kinds=tuple(personas.kinds),
        keys=tuple(personas.keys), titles=tuple(persona_title(view, k, key) for k, key in zip(personas.kinds, personas.keys)),
        members=members, steered=steered, unsteered=unsteered, real=real, seconds=time.perf_counter() - t0,
    )


def _score_spm(model, tokenizer, spm, bank: QuestionBank, personas: PersonaSet, batch_size: int,
               progress: Progress | None) -> tuple[np.ndarray, np.ndarray]:
    """The simulation's local engine on the rows (persona, the one question), one chunk per batch
    (the batches a simulation of these personas scores this question in)."""
    from persona_core.simulate.local import LocalEngine
    from persona_core.simulate.work import Workload
    from persona_core.steer.scoring import spm_batch_rows

    rows = spm_batch_rows(spm.config.mode, batch_size)
    plan = plan_rows(len(personas), 1, rows, rows)
    work = Workload(plan, personas, bank)
    n = plan.n_rows
    steered: list[np.ndarray | None] = [None] * n
    unsteered = None
    done = 0

    def tick(k: int) -> None:
        nonlocal done
        done += k
        if progress is not None:
            progress(done, n)

    if progress is not None:
        progress(0, n)
    for scores in LocalEngine(model, tokenizer, spm, batch_size).run(work, plan.chunks, tick):
        for pos, s, u in zip(scores.positions, scores.steered, scores.unsteered):
            steered[int(pos)] = np.asarray(s, np.float64)
            unsteered = np.asarray(u, np.float64)
    return np.stack(steered), unsteered


def _score_text(model, tokenizer, bank: QuestionBank, texts: list[str],
                progress: Progress | None) -> tuple[np.ndarray, np.ndarray]:
    """Unsteered and text-steered rows on the base model, as the scorer's unsteered side scores."""
    from persona_core.steer.engine import HeadCache
    from persona_core.steer.prompts import PromptBuilder
    from persona_core.steer.scoring import text_logprobs

    builder, heads = PromptBuilder(tokenizer), HeadCache(model, max_items=4)
    n = len(texts)
    if progress is not None:
        progress(0, n)
    unsteered = np.exp(np.asarray(text_logprobs(model, builder, heads, bank, np.zeros(1, np.int64), None)[0], np.float64))
    rows = [TEXT_PERSONA_LEAD + t.strip() for t in texts]
    steered = []
    for s in range(0, n, TEXT_BATCH):
        part = rows[s : s + TEXT_BATCH]
        lps = text_logprobs(model, builder, heads, bank, np.zeros(len(part), np.int64), part, batch_size=TEXT_BATCH)
        steered += [np.exp(np.asarray(lp, np.float64)) for lp in lps]
        if progress is not None:
            progress(min(s + TEXT_BATCH, n), n)
    return np.stack(steered), unsteered


def simulation_tables(summary: dict | None, view: SpaceView) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The alignment of a whole-survey simulation (the ``alignment`` of ``simulate``'s summary) as
    two tables, per cohort and per question: steered and unsteered alignment with the real
    answers (answer-weighted), the share of pairs where the steered side is closer, and how many
    pairs and answers back each row. Sorted by steered minus unsteered, best first. ``None``
    when the summary holds no alignment (no survey question had enough real answers)."""
    align = (summary or {}).get("alignment") or {}
    if not align.get("pairs"):
        return None
    questions = {q.id: q.text for q in view.survey.questions}

    def frame(entries: dict, key_name: str, count_name: str, title) -> pd.DataFrame:
        rows = [{key_name: title(k), count_name: e[count_name], "answers": e["n_answers"],
                 "alignment steered": e["steered"], "alignment unsteered": e["unsteered"],
                 "gain": e["steered"] - e["unsteered"], "steered closer (share of pairs)": e["steered_better_share"]}
                for k, e in entries.items()]
        return pd.DataFrame(rows).sort_values("gain", ascending=False, kind="stable").reset_index(drop=True)

    per_cohort = frame(align["per_cohort"], "cohort", "n_questions", lambda k: persona_title(view, "cohort", str(k)))
    per_question = frame(align["per_question"], "question", "n_cohorts",
                         lambda k: f"{k}: {questions.get(str(k), '')[:90]}".rstrip(": "))
    return per_cohort, per_question
