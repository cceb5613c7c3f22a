"""Score every method on the same held-out answers, and the unseen-respondent test.

Methods: ``majority`` (per-question majority of the training answers, no LLM), ``unsteered``,
``demographic``, ``history``, ``shared_prompt``, ``spm_individual``, ``spm_cohort``,
``spm_population`` (the SPM fed the population-mean persona: with an adapter, what domain
adaptation alone gives), ``cf``. Each accuracy comes with a 95 % bootstrap interval over
respondents. Every method scores the same rows: held-out answers (hidden from the factorization
and the SPM) of training respondents, on a seeded subset of the SPM's questions. The unseen-
respondent and new-question tests score against a factorization refitted without what they test
(:mod:`persona_core.evaluate.refit`). All LLM work is grouped by question and reuses the
question's key/value cache.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sys
from pathlib import Path
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from persona_core.progress import tqdm

from persona_core.evaluate.baselines import HistoryPrompter, SharedPromptBaseline, demographic_texts
from persona_core.metrics import accuracy_interval, alignment, cluster_share_interval, summarize
from persona_core.evaluate.refit import ExcludingFit
from persona_core.steer.data import RecordedSplit, heldout_rows
from persona_core.steer.engine import HeadCache
from persona_core.steer.model import SoftPromptModel
from persona_core.steer.prompts import PromptBuilder
from persona_core.steer.scoring import spm_logprobs, text_logprobs

log = logging.getLogger(__name__)

METHODS = ("majority", "unsteered", "demographic", "history", "shared_prompt", "spm_individual", "spm_cohort",
           "spm_population", "cf")
BASELINES = ("unsteered", "demographic", "history", "shared_prompt")
PROMPTING = ("unsteered", "demographic", "history")
NON_SPM = ("unsteered", "demographic", "history", "shared_prompt", "cf")  # cached per embedding run


@dataclass
class EvalConfig:
    """What the evaluation scores (defaults: ~20 minutes or less on 2 CPU cores for GSS 2016).

    ``respondents`` training respondents' held-out answers on ``questions`` of the SPM's
    questions (seeded); ``unseen_respondents`` of the respondents kept out of SPM training are
    folded in from K = ``unseen_ks`` of their training answers, against a factorization refitted
    without them, and scored on up to
    ``unseen_answers_per_respondent`` held-out answers on the same questions.
    ``new_questions`` questions the SPM never trained on (seeded, among those with answers) are
    asked of ``new_question_respondents`` training respondents, each persona folded in from their
    answers to the *other* questions (see :meth:`Evaluator.new_question_test`); 0 turns it off.
    The (cohort, question) pairs of one question win or lose together, so the share of pairs
    won rests on the number of questions: 80 (not 20) keep its interval about +-10 points.
    """

    respondents: int = 200
    questions: int | None = 30
    history_k: int = 5
    shared_prompt_steps: int = 60
    shared_prompt_lr: float = 1e-2
    shared_prompt_batch: int = 4
    unseen_ks: tuple[int, ...] = (1, 5, 10, 20, 50)
    new_questions: int = 80
    new_question_respondents: int = 200
    unseen_respondents: int = 50
    unseen_answers_per_respondent: int = 15
    min_cohort_answers: int = 10
    batch_size: int = 64
    text_batch_size: int = 16
    methods: tuple[str, ...] = METHODS
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        self.unseen_ks = tuple(int(k) for k in self.unseen_ks)
        self.methods = tuple(self.methods)
        unknown = set(self.methods) - set(METHODS)
        if unknown:
            raise ValueError(f"unknown method(s) {sorted(unknown)}; known: {METHODS}")


@dataclass
class NewQuestionRun:
    """Answers to new questions (respondent, question, option per row) and each method's
    option log-probs of them; ``refit``: the factorization refitted without those answers."""

    R: np.ndarray
    Q: np.ndarray
    Y: np.ndarray
    preds: dict[str, list[np.ndarray]]
    refit: ExcludingFit


def _cf_logprobs(factorization, respondents, questions, survey, factors=None) -> list[np.ndarray]:
    proba = factorization.predict_proba(respondents, questions, factors)
    n_opt = survey.n_options_per_question[np.asarray(questions)]
    return [np.log(np.clip(p[:k], 1e-12, None)) for p, k in zip(proba, n_opt)]


class Evaluator:
    """Runs every method on one persona space with one trained SPM."""

    def __init__(self, model, tokenizer, space, spm: SoftPromptModel, spm_record: dict, config: EvalConfig | None = None,
                 cache_dir: str | Path | None = None):
        self.model, self.tokenizer, self.space, self.spm = model, tokenizer, space, spm
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.record = spm_record
        self.config = config or EvalConfig()
        self.builder = PromptBuilder(tokenizer)
        self.heads = HeadCache(model, max_items=256)
        # an SPM trained with an adapter steers the adapted copy; every other method the base model
        self.spm_lm = spm.steered_lm if spm.steered_lm is not None else model
        self.spm_heads = self.heads if self.spm_lm is model else HeadCache(self.spm_lm, max_items=256)
        split = RecordedSplit.from_record(space.survey, spm_record)
        self.spm_questions, self.train_respondents, self.unseen = split.questions, split.train_respondents, split.unseen_respondents

    # ------------------------------------------------------------------ rows
    def eval_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(answer indices, question subset) scored by every method."""
        cfg, a = self.config, self.space.survey.answers
        rng = np.random.default_rng(cfg.seed)
        questions = self.spm_questions
        if cfg.questions is not None and questions.size > cfg.questions:
            questions = np.sort(rng.choice(questions, cfg.questions, replace=False))
        resp = self.train_respondents
        if cfg.respondents is not None and resp.size > cfg.respondents:
            resp = np.sort(rng.choice(resp, cfg.respondents, replace=False))
        rows = heldout_rows(a, self.space.heldout_mask, resp, questions, None, rng)
        if rows.size == 0:
            raise ValueError("no held-out answers to evaluate on (check the SPM's questions and respondents)")
        return rows, questions

    # ------------------------------------------------------------------- run
    def run(self) -> dict[str, Any]:
        cfg, space, survey = self.config, self.space, self.space.survey
        a = survey.answers
        t_all = time.perf_counter()
        rows, questions = self.eval_rows()
        R, Q, Y = a.respondent[rows], a.question[rows], a.option[rows]
        emb = space.embeddings
        cohorts = np.asarray(space.likely_cohorts)
        seconds: dict[str, float] = {}
        preds: dict[str, list[np.ndarray]] = {}
        bar = tqdm(cfg.methods, desc="eval", unit="method", disable=not cfg.progress, file=sys.stderr)
        for name in bar:
            bar.set_postfix_str(name)
            t = time.perf_counter()
            preds[name] = self._cached(name, rows, lambda: self._method(name, rows, R, Q))
            seconds[name] = round(time.perf_counter() - t, 2)
        methods = {name: self._scores(R, lp, Y) for name, lp in preds.items()}
        align = self._cohort_alignment(preds, R, Q, Y, cohorts)
        base = {m: methods[m]["accuracy"] for m in BASELINES if m in methods}
        prompting = {m: methods[m]["accuracy"] for m in PROMPTING if m in methods}
        spm_acc = methods.get("spm_individual", {}).get("accuracy")
        result: dict[str, Any] = {
            "methods": methods,
            "cohort_alignment": align,
            "spm_relative_improvement": (spm_acc / max(base.values()) - 1.0) if spm_acc is not None and base else None,
            "n_respondents": int(np.unique(R).size),
            "n_heldout": int(rows.size),
        }
        result["spm_ratio_to_best_prompting"] = spm_acc / max(prompting.values()) if spm_acc is not None and prompting else None
        if spm_acc is not None:
            for other in ("majority", "cf", "spm_population"):
                if other in methods:
                    result[f"spm_minus_{other}"] = spm_acc - methods[other]["accuracy"]
        result["n_questions"] = int(questions.size)
        t = time.perf_counter()
        result["unseen"] = self.unseen_test(questions) if cfg.unseen_ks and self.unseen.size else {}
        seconds["unseen"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        result["new_questions"] = self.new_question_test() if cfg.new_questions else {}
        seconds["new_questions"] = round(time.perf_counter() - t, 2)
        seconds["total"] = round(time.perf_counter() - t_all, 2)
        result["seconds"] = seconds
        result["spm"] = {"mode": self.spm.config.mode, "n_tokens": self.spm.config.n_tokens,
                         "adapter": self.spm.steered_lm is not None,
                         "run_key": self.record.get("run_key"), "steps": self.record.get("step")}
        result["config"] = asdict(self.config)
        return result

    def _method(self, name: str, rows, R, Q) -> list[np.ndarray]:
        cfg, space, survey = self.config, self.space, self.space.survey
        common = dict(progress=cfg.progress, desc=name)
        if name == "majority":
            return self._majority_logprobs(Q)
        if name == "unsteered":
            return text_logprobs(self.model, self.builder, self.heads, survey, Q, None, **common)
        if name == "demographic":
            return text_logprobs(self.model, self.builder, self.heads, survey, Q, demographic_texts(survey, R),
                                 batch_size=cfg.text_batch_size, **common)
        if name == "history":
            hp = HistoryPrompter(survey, space.train_answers, space.factorization.question_factors_, cfg.history_k)
            return text_logprobs(self.model, self.builder, self.heads, survey, Q, hp.texts(R, Q),
                                 batch_size=cfg.text_batch_size, **common)
        if name == "shared_prompt":
            a = survey.answers
            train_mask = ~space.heldout_mask & np.isin(a.respondent, self.train_respondents)
            sp = SharedPromptBaseline(self.model, self.tokenizer, n_tokens=self.spm.config.n_tokens,
                                      lr=cfg.shared_prompt_lr, steps=cfg.shared_prompt_steps,
                                      batch_size=cfg.shared_prompt_batch, seed=cfg.seed, progress=cfg.progress)
            sp.fit(survey, a.take(train_mask), self.spm_questions)
            return sp.predict_logprobs(survey, Q)
        if name == "spm_individual":
            return spm_logprobs(self.spm_lm, self.builder, self.spm_heads, survey, self.spm, space.embeddings[R], Q,
                                batch_size=cfg.batch_size, **common)
        if name == "spm_cohort":
            vecs = np.stack([self._cohort_vector(int(c)) for c in np.asarray(space.likely_cohorts)[R]])
            return spm_logprobs(self.spm_lm, self.builder, self.spm_heads, survey, self.spm, vecs, Q,
                                batch_size=cfg.batch_size, **common)
        if name == "spm_population":
            return spm_logprobs(self.spm_lm, self.builder, self.spm_heads, survey, self.spm,
                                self._population_vectors(len(Q)), Q, batch_size=cfg.batch_size, **common)
        if name == "cf":
            return _cf_logprobs(space.factorization, R, Q, survey)
        raise ValueError(f"unknown method {name!r}")

    def _cached(self, name: str, rows: np.ndarray, compute) -> list[np.ndarray]:
        """Baselines do not depend on the SPM: keep their predictions per (embedding run, rows,
        settings) so re-evaluating a retrained SPM does not recompute them."""
        if self.cache_dir is None or name not in NON_SPM:
            return compute()
        cfg = self.config
        settings = {
            "run_key": self.space.run_key, "rows": hashlib.sha256(np.ascontiguousarray(rows).tobytes()).hexdigest(),
            "model": getattr(self.model, "name_or_path", None) or str(self.model.config._name_or_path),
            "fingerprint": self.space.survey.fingerprint(),
        }
        if name == "history":
            settings["k"] = cfg.history_k
        if name == "shared_prompt":
            settings.update(t=self.spm.config.n_tokens, steps=cfg.shared_prompt_steps, lr=cfg.shared_prompt_lr,
                            batch=cfg.shared_prompt_batch, seed=cfg.seed, questions=self.spm_questions.tolist())
        key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        path = self.cache_dir / f"{name}-{key}.npz"
        if path.exists():
            with np.load(path) as f:
                return [row[: int(n)] for row, n in zip(f["logprobs"], f["n"])]
        preds = compute()
        width = max(len(p) for p in preds)
        padded = np.full((len(preds), width), np.nan)
        for i, p in enumerate(preds):
            padded[i, : len(p)] = p
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, logprobs=padded, n=np.array([len(p) for p in preds]))
        tmp.replace(path)
        return preds

    def _scores(self, R: np.ndarray, lp: list[np.ndarray], Y: np.ndarray) -> dict[str, Any]:
        """:func:`summarize` plus the accuracy's 95 % bootstrap interval."""
        scores: dict[str, Any] = summarize(R, lp, Y)
        scores["accuracy_ci95"] = list(accuracy_interval(R, lp, Y, seed=self.config.seed))
        return scores

    def _population_vectors(self, n: int) -> np.ndarray:
        """The population-mean persona (mean of the training respondents' embeddings), ``n`` times."""
        mean = self.space.embeddings[self.train_respondents].mean(axis=0).astype(np.float32)
        return np.repeat(mean[None], n, axis=0)

    def _group_alignment(self, lp: list[np.ndarray], idx: np.ndarray, Y: np.ndarray, q: int) -> float:
        """Alignment of the mean predicted distribution of rows ``idx`` (all on question ``q``)
        with those rows' real answer distribution."""
        question = self.space.survey.questions[int(q)]
        real = np.bincount(Y[idx], minlength=question.n_options).astype(np.float64)
        return alignment(np.mean([np.exp(lp[i]) for i in idx], axis=0), real, question.ordinal)

    def _majority_logprobs(self, Q: np.ndarray) -> list[np.ndarray]:
        """The per-question distribution of the training respondents' training answers (its top
        option is the majority answer), add-one smoothed."""
        survey, a = self.space.survey, self.space.survey.answers
        train = ~self.space.heldout_mask & np.isin(a.respondent, self.train_respondents)
        out = {}
        for q in np.unique(Q):
            counts = np.bincount(a.option[train & (a.question == q)], minlength=survey.questions[int(q)].n_options)
            out[int(q)] = np.log((counts + 1.0) / (counts.sum() + counts.size))
        return [out[int(q)] for q in Q]

    def _cohort_vector(self, label: int) -> np.ndarray:
        cents = self.space.cohort_centroids
        if label in cents:
            return np.asarray(cents[label], np.float32)
        return self.space.embeddings.mean(axis=0)  # no cohort at all: the population centroid

    def _cohort_alignment(self, preds, R, Q, Y, cohorts) -> dict[str, Any]:
        """Per cohort: every answer of the cohort on the eval questions, each question's mean
        predicted distribution against the cohort's real one there, averaged weighted by answers
        (so each cohort's figure rests on all its answers, with their count). Per method, the
        answer-weighted mean over those cohorts (what ``n_answers`` counts). ``pairs``: the mean
        over single (cohort, question) pairs with at least ``min_cohort_answers`` answers."""
        c = cohorts[R]
        min_n = self.config.min_cohort_answers
        per_cohort: dict[str, dict[str, float]] = {}
        for label in np.unique(c):
            rows_c = np.flatnonzero(c == label)
            if rows_c.size < min_n:
                continue
            groups = [(q, rows_c[Q[rows_c] == q]) for q in np.unique(Q[rows_c])]
            entry: dict[str, float] = {"n_answers": int(rows_c.size), "n_questions": len(groups)}
            for name, lp in preds.items():
                entry[name] = float(np.average([self._group_alignment(lp, idx, Y, q) for q, idx in groups],
                                               weights=[idx.size for _, idx in groups]))
            per_cohort[str(int(label))] = entry
        out: dict[str, Any] = {"per_cohort": per_cohort, "n_cohorts": len(per_cohort),
                               "n_answers": int(sum(e["n_answers"] for e in per_cohort.values()))}
        for name in preds:
            out[name] = (float(np.average([e[name] for e in per_cohort.values()],
                                          weights=[e["n_answers"] for e in per_cohort.values()])) if per_cohort else None)
        pairs = []
        for key in np.unique(np.stack([c, Q], axis=1), axis=0):
            idx = np.flatnonzero((c == key[0]) & (Q == key[1]))
            if idx.size >= min_n:
                pairs.append((int(key[1]), idx))
        out["pairs"] = {"n_pairs": len(pairs), "min_answers": min_n,
                        **{name: float(np.mean([self._group_alignment(lp, idx, Y, q) for q, idx in pairs])) if pairs else None
                           for name, lp in preds.items()}}
        if per_cohort and "spm_cohort" in preds and "unsteered" in preds:
            out["spm_cohort_better_share"] = float(np.mean([e["spm_cohort"] > e["unsteered"] for e in per_cohort.values()]))
        return out

    # ---------------------------------------------------- new-question test
    def new_question_test(self) -> dict[str, Any]:
        """Questions the SPM never trained on, as an analyst asking a new question would.

        The factorization is refitted without any answer to the new questions (see
        :class:`persona_core.evaluate.refit.ExcludingFit`; its map into the SPM's space is
        learned on respondents outside this test), and each respondent's persona is folded in
        against that refit from their training answers to every *other* question, so nothing
        about the new questions reaches the persona vectors. Reports per-respondent accuracy of
        ``unsteered``, ``spm_individual`` and ``spm_population`` and, per (cohort, question)
        pair with at least ``min_cohort_answers`` answers, whether the steered cohort
        distribution (mean over the cohort's members) is closer to the real one than the
        unsteered distribution.
        """
        cfg, survey = self.config, self.space.survey
        new_q, people = self.new_question_draw()
        if new_q.size == 0:
            return {"n_questions": 0, "note": "the SPM trained on every question; none is new to it"}
        run = self.new_question_predictions(new_q, people)
        if run is None:
            return {"n_questions": int(new_q.size), "n_answers": 0}
        R, Q, Y, preds, order, refit = run.R, run.Q, run.Y, run.preds, np.unique(run.R), run.refit
        out: dict[str, Any] = {"n_questions": int(new_q.size), "n_respondents": int(order.size), "n_answers": int(R.size),
                               "questions": [survey.questions[int(q)].id for q in new_q],
                               "refit": {"excluded": "every answer to the new questions", "map_r2": refit.map_r2_}}
        out["methods"] = {name: self._scores(R, lp, Y) for name, lp in preds.items()}
        pairs = self.cohort_question_pairs(run, preds["spm_individual"])
        out["cohort_question_pairs"] = len(pairs)
        closer = [p["spm"] > p["unsteered"] for p in pairs]
        out["steered_closer_share"] = float(np.mean(closer)) if pairs else None
        # pairs of one question win or lose together: the interval resamples whole questions
        out["steered_closer_share_ci95"] = (list(cluster_share_interval(closer, [p["question"] for p in pairs], seed=cfg.seed))
                                            if pairs else None)
        out["alignment"] = {k: float(np.mean([p[k] for p in pairs])) if pairs else None for k in ("spm", "unsteered")}
        out["pairs"] = pairs
        return out

    def cohort_question_pairs(self, run: "NewQuestionRun", steered: list[np.ndarray]) -> list[dict[str, Any]]:
        """Per (cohort, question) pair of ``run`` with at least ``min_cohort_answers`` answers: the
        alignment with the cohort's real answers of the mean of ``steered`` (one log-prob vector
        per row of ``run``) and of the unsteered distribution."""
        survey, min_n = self.space.survey, self.config.min_cohort_answers
        cohorts = np.asarray(self.space.likely_cohorts)[run.R]
        pairs = []
        for c in np.unique(cohorts):
            for q in np.unique(run.Q):
                idx = np.flatnonzero((cohorts == c) & (run.Q == q))
                if idx.size < min_n:
                    continue
                pairs.append({"cohort": int(c), "question": survey.questions[int(q)].id, "n_answers": int(idx.size),
                              "spm": self._group_alignment(steered, idx, run.Y, q),
                              "unsteered": self._group_alignment(run.preds["unsteered"], idx, run.Y, q)})
        return pairs

    def new_question_draw(self, exclude: np.ndarray | None = None, n: int | None = None,
                          seed_offset: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """``(questions, people)``: a seeded choice of ``n`` (default ``new_questions``) questions
        the SPM never trained on, among those with enough answers and not in ``exclude``, and the
        training respondents asked them (enough others are left for the refit's linear map)."""
        cfg, space, survey = self.config, self.space, self.space.survey
        a = survey.answers
        rng = np.random.default_rng(cfg.seed + seed_offset)
        counts = np.bincount(a.question, minlength=survey.n_questions)
        pool = np.setdiff1d(np.flatnonzero(counts >= max(cfg.min_cohort_answers, 2)), self.spm_questions)
        if exclude is not None:
            pool = np.setdiff1d(pool, exclude)
        if pool.size == 0:
            return pool, pool
        new_q = np.sort(rng.choice(pool, min(cfg.new_questions if n is None else n, pool.size), replace=False))
        others = np.setdiff1d(np.unique(a.respondent), self.train_respondents)
        room = self.train_respondents.size - max(_min_map_respondents(space) - others.size, 0)
        n_people = max(min(cfg.new_question_respondents, room), 1)
        return new_q, np.sort(rng.permutation(self.train_respondents)[:n_people])

    def new_question_predictions(self, new_q: np.ndarray, people: np.ndarray, readout: str = "letter",
                                 builder: PromptBuilder | None = None) -> "NewQuestionRun | None":
        """Unsteered, SPM and population-persona option log-probs of ``people``'s answers to
        ``new_q``, each persona folded in (against a factorization refitted without any answer to
        ``new_q``) from the person's training answers to the other questions; ``None`` when
        they gave no such answer. ``readout`` and ``builder`` (default: the eval's prompts) say how
        the options are asked and read (see :func:`persona_core.steer.engine.read_options`)."""
        cfg, space, survey = self.config, self.space, self.space.survey
        a = survey.answers
        rows = np.flatnonzero(np.isin(a.respondent, people) & np.isin(a.question, new_q))
        if rows.size == 0:
            return None
        R, Q, Y = a.respondent[rows], a.question[rows], a.option[rows]
        other = ~space.heldout_mask & ~np.isin(a.question, new_q)
        refit = ExcludingFit(space.factorization).fit(
            survey, a.take(other), np.setdiff1d(np.unique(a.respondent[other]), people))
        order = np.unique(R)
        pos = {int(p): i for i, p in enumerate(order)}
        fold = [(a.question[other & (a.respondent == p)], a.option[other & (a.respondent == p)]) for p in order]
        _, vecs = refit.fold_in(fold)
        R_local = np.array([pos[int(r)] for r in R])
        builder = builder or self.builder
        common = dict(batch_size=cfg.batch_size, progress=cfg.progress, readout=readout)
        preds = {
            "unsteered": text_logprobs(self.model, builder, self.heads, survey, Q, None, progress=cfg.progress,
                                       desc="new q unsteered", readout=readout),
            "spm_individual": spm_logprobs(self.spm_lm, builder, self.spm_heads, survey, self.spm, vecs[R_local], Q,
                                           desc="new q spm", **common),
            "spm_population": spm_logprobs(self.spm_lm, builder, self.spm_heads, survey, self.spm,
                                           self._population_vectors(len(Q)), Q, desc="new q population", **common),
        }
        return NewQuestionRun(R=R, Q=Q, Y=Y, preds=preds, refit=refit)

    # ---------------------------------------------------------- unseen test
    def unseen_test(self, questions: np.ndarray | None = None) -> dict[str, Any]:
        """Respondents never seen by the SPM nor by the factorization: the factorization is
        refitted without any of their answers (see :class:`persona_core.evaluate.refit.ExcludingFit`,
        its map into the SPM's space learned on the SPM's training respondents), and each is
        folded in against that refit from K of their training answers (any questions), then
        scored on their held-out answers to ``questions`` (default: the SPM's). ``cf`` is the
        refit's own prediction from the same K answers."""
        cfg, space, survey = self.config, self.space, self.space.survey
        a = survey.answers
        rng = np.random.default_rng(cfg.seed + 1)
        people = self.unseen
        if people.size > cfg.unseen_respondents:
            people = np.sort(rng.choice(people, cfg.unseen_respondents, replace=False))
        questions = self.spm_questions if questions is None else questions
        rows = heldout_rows(a, space.heldout_mask, people, questions, cfg.unseen_answers_per_respondent, rng)
        R, Q, Y = a.respondent[rows], a.question[rows], a.option[rows]
        train = ~space.heldout_mask
        refit = ExcludingFit(space.factorization).fit(
            survey, a.take(train & ~np.isin(a.respondent, self.unseen)), self.train_respondents)
        history = {int(p): rng.permutation(np.flatnonzero(train & (a.respondent == p))) for p in people}
        out: dict[str, Any] = {}
        for K in cfg.unseen_ks:
            order = sorted(history)
            pos = {p: i for i, p in enumerate(order)}
            fold = [(a.question[history[p][:K]], a.option[history[p][:K]]) for p in order]
            refit_vecs, vecs = refit.fold_in(fold)
            R_local = np.array([pos[int(r)] for r in R])
            lp = spm_logprobs(self.spm_lm, self.builder, self.spm_heads, survey, self.spm, vecs[R_local], Q,
                              batch_size=cfg.batch_size, progress=cfg.progress, desc=f"unseen K={K}")
            cf = _cf_logprobs(refit.factorization_, R_local, Q, survey, factors=refit_vecs)
            out[str(K)] = {
                "spm_individual": summarize(R, lp, Y)["accuracy"],
                "cf": summarize(R, cf, Y)["accuracy"],
                "n_respondents": int(np.unique(R).size),
                "n_heldout": int(rows.size),
                "map_r2": refit.map_r2_,
            }
        return out


def _min_map_respondents(space) -> int:
    """Respondents the refit's linear map needs at least (four per coefficient row)."""
    return 4 * (space.embeddings.shape[1] + 1)
