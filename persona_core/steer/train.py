"""Train a soft-prompting model on respondents' training answers (LLM frozen, or adapted by one
LoRA adapter shared by all personas when the config has an ``adapter`` section).

Each step takes ``questions_per_step`` mini-batches, each of respondents who answered the same
question, so in suffix mode each question's key/value cache is computed once and shared by its
batch (without gradient when the LLM is frozen; with gradient through the adapter otherwise).
Loss: cross-entropy over the options' label tokens. A checkpoint is written after every
epoch; :meth:`SPMTrainer.fit` resumes from the last one in ``checkpoint_dir``.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from persona_core.progress import tqdm

from persona_core.data.survey import Survey
from persona_core.metrics import summarize
from persona_core.steer.checkpoint import (
    has_checkpoint,
    check_run_key,
    load_checkpoint,
    load_optimizer_state,
    read_record,
    save_checkpoint,
)
from persona_core.steer.config import SteerConfig
from persona_core.steer.data import SteerSplit, epoch_batches, make_split
from persona_core.steer.adapter import (FREE_TEXT_ADAPTER_WEIGHTS, adapter_parameters, attach_adapter, inner_model,
                                        restore_adapter, save_adapter)
from persona_core.steer.engine import HeadCache, LiveHeads, continuation_logprobs, model_geometry, score_virtual, virtual_inputs
from persona_core.steer.free_text import TARGETS_FILE, FreeTextTargets, free_text_builder, load_or_sample
from persona_core.steer.model import SoftPromptModel, base_tokens
from persona_core.steer.prompts import PromptBuilder
from persona_core.steer.scoring import spm_logprobs

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """A trained SPM with its learning curve and the data it used. ``lm``: the model the SPM
    steers (the base model, or its adapted copy when the config has an adapter)."""

    spm: SoftPromptModel
    split: SteerSplit
    lm: Any = None
    learning_curve: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    seconds_per_step: float = 0.0
    free_text_seconds: float = 0.0  # of ``seconds``: sampling the free-text targets (about 0 when reused)
    resumed_from_epoch: int | None = None
    notes: list[str] = field(default_factory=list)


def teacher_over_options(teacher_proba: np.ndarray, n_options: int, floor: float = 0.0) -> np.ndarray:
    """The teacher's probabilities of a question's first ``n_options`` options (the rest are
    padding), each at least ``floor``, renormalised to sum to 1 per row."""
    p = np.clip(np.asarray(teacher_proba, np.float32)[:, :n_options], floor, None)
    return p / np.clip(p.sum(axis=1, keepdims=True), 1e-12, None)


def row_targets(options: np.ndarray, n_options: int, distill: float, teacher_proba: np.ndarray | None) -> torch.Tensor:
    """Each row's target distribution: the real answer, mixed with weight ``distill`` with the
    teacher's option probabilities (renormalised over the question's ``n_options``)."""
    target = np.eye(n_options, dtype=np.float32)[np.asarray(options, np.int64)]
    if teacher_proba is not None and distill > 0:
        target = (1.0 - distill) * target + distill * teacher_over_options(teacher_proba, n_options)
    return torch.from_numpy(target)


def select_rows(virtual, index, detach: bool = False):
    """Rows ``index`` (a slice or positions) of a batch of virtual tokens (a tensor, or per-layer
    key/values); ``detach``: cut from the SPM's graph (no gradient flows back into it)."""
    if isinstance(virtual, torch.Tensor):
        return virtual[index].detach() if detach else virtual[index]
    return [(k[index].detach(), v[index].detach()) if detach else (k[index], v[index]) for k, v in virtual]


def persona_shift_loss(logp: torch.Tensor, teacher_proba: np.ndarray) -> torch.Tensor:
    """Per-row squared error between the model's and the teacher's persona shifts on one question:
    a row's option log-probabilities, centred over the options, minus the batch's mean row (so
    what every persona in the batch shares, the question's general answer distribution, drops
    out). Summed over options, one value per row."""
    log_t = torch.from_numpy(np.log(teacher_over_options(teacher_proba, logp.shape[1], floor=1e-6))).to(logp.device)

    def shift(x: torch.Tensor) -> torch.Tensor:
        x = x - x.mean(dim=1, keepdim=True)
        return x - x.mean(dim=0, keepdim=True)

    return ((shift(logp) - shift(log_t)) ** 2).sum(dim=1)


class SPMTrainer:
    """Fits a :class:`SoftPromptModel` for one persona space (embedding run ``run_key``).

    ``embeddings``: (n_respondents x d) persona vectors of the survey's respondents;
    ``heldout_mask``: True for answers hidden from training (the persona space's split).
    """

    def __init__(
        self,
        model,
        tokenizer,
        config: SteerConfig | None = None,
        checkpoint_dir: str | Path | None = None,
        on_curve: Callable[[dict[str, float]], None] | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config or SteerConfig()
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.on_curve = on_curve
        self.builder = PromptBuilder(tokenizer)
        self.text_builder = PromptBuilder(tokenizer, list_options=False)
        self.free_builder = free_text_builder(tokenizer)
        self.free_text_targets: FreeTextTargets | None = None  # the last fit's (train.free_text > 0)
        self.heads = HeadCache(model, max_items=512)

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        survey: Survey,
        embeddings: np.ndarray,
        heldout_mask: np.ndarray,
        run_key: str,
        resume: bool = True,
        stop_after_epochs: int | None = None,
        teacher: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
        free_text_targets: FreeTextTargets | None = None,
    ) -> TrainResult:
        """Train (or resume) and return the SPM. ``stop_after_epochs`` ends early (as if killed).

        ``teacher(respondents, questions)``: option probabilities (n x max options, zeros past a
        question's options) mixed into each row's target with weight ``config.train.distill``,
        e.g. the persona space's factorization's ``predict_proba``.
        ``free_text_targets``: the free-text term's labelled answers (default, when
        ``config.train.free_text > 0``: the base model's, :mod:`persona_core.steer.free_text`).
        """
        cfg, tcfg = self.config, self.config.train
        uses_teacher = tcfg.distill > 0 or tcfg.persona_shift > 0
        if uses_teacher and teacher is None:
            raise ValueError("train.distill > 0 or train.persona_shift > 0 needs a teacher (the factorization's predict_proba)")
        if tcfg.free_text_adapter and cfg.adapter is None:
            raise ValueError(f"train.free_text_params {tcfg.free_text_params!r} needs an adapter (the config's adapter section)")
        embeddings = np.asarray(embeddings, np.float32)
        if embeddings.shape[0] != survey.n_respondents:
            raise ValueError(f"{embeddings.shape[0]} embeddings for {survey.n_respondents} respondents")
        split = make_split(survey, heldout_mask, tcfg)
        notes = self._subsample_notes(survey, split)
        geometry = model_geometry(self.model)
        torch.manual_seed(tcfg.seed)
        train_vecs = embeddings[split.train_respondents]
        spm = SoftPromptModel(
            cfg.spm, embeddings.shape[1], geometry,
            embedding_mean=train_vecs.mean(axis=0), embedding_std=train_vecs.std(axis=0),
            base=base_tokens(self.model, self.tokenizer, cfg.spm),
        )
        free_targets, t_free = None, time.perf_counter()
        if tcfg.free_text > 0:
            free_targets = free_text_targets if free_text_targets is not None else self._free_text_targets(survey, split)
        self.free_text_targets = free_targets
        free_seconds = time.perf_counter() - t_free  # sampling the targets is part of training's time
        if free_targets is not None:
            notes.append(f"free-text term: {sum(map(len, free_targets.answers.values()))} base-model answers to "
                         f"{len(free_targets.answers)} questions; {free_targets.option_coverage():.0%} of their options said by one")
        free_rng = np.random.default_rng(tcfg.seed)
        peft_model = attach_adapter(self.model, cfg.adapter) if cfg.adapter is not None else None
        lm = self.model if peft_model is None else inner_model(peft_model)
        # the free-text term's own adapter (made after the letters' one, so that one starts as without it)
        free_peft = (attach_adapter(self.model, cfg.adapter)
                     if free_targets is not None and tcfg.free_text_adapter else None)
        groups = [{"params": list(spm.parameters()), "lr": tcfg.lr, "base_lr": tcfg.lr}]
        a_lr = tcfg.adapter_lr if tcfg.adapter_lr is not None else tcfg.lr
        for adapted in (peft_model, free_peft):
            if adapted is not None:
                groups.append({"params": adapter_parameters(adapted), "lr": a_lr, "base_lr": a_lr})
        optim = torch.optim.AdamW(groups, lr=tcfg.lr, weight_decay=tcfg.weight_decay)
        heads = self.heads if peft_model is None else LiveHeads(lm)
        free_lm, free_heads = (lm, heads) if free_peft is None else (inner_model(free_peft), LiveHeads(inner_model(free_peft)))
        curve: list[dict[str, float]] = []
        start_epoch, step, elapsed, resumed = 0, 0, 0.0, None
        if resume and self.checkpoint_dir is not None and has_checkpoint(self.checkpoint_dir):
            record = read_record(self.checkpoint_dir)
            check_run_key(record, run_key, self.checkpoint_dir)
            if record["config"] != json.loads(json.dumps(cfg.to_dict())):
                raise ValueError(
                    f"{self.checkpoint_dir}: the checkpoint there was trained with another configuration; "
                    "choose another output directory or start fresh"
                )
            loaded, _ = load_checkpoint(self.checkpoint_dir, run_key, geometry)
            spm.load_state_dict(loaded.state_dict())
            if peft_model is not None:
                restore_adapter(peft_model, self.checkpoint_dir)
            if free_peft is not None:
                restore_adapter(free_peft, self.checkpoint_dir, FREE_TEXT_ADAPTER_WEIGHTS)
            load_optimizer_state(self.checkpoint_dir, optim)
            start_epoch, step = int(record["epoch"]), int(record["step"])
            curve, elapsed, resumed = list(record.get("learning_curve", [])), float(record.get("seconds", 0.0)), start_epoch
            notes.append(f"resumed from the checkpoint after epoch {start_epoch} (step {step})")

        a = survey.answers
        t0 = time.perf_counter() - elapsed - free_seconds
        train_time = 0.0
        train_steps = 0
        end_epoch = tcfg.epochs if stop_after_epochs is None else min(tcfg.epochs, stop_after_epochs)
        for epoch in range(start_epoch, end_epoch):
            batches = epoch_batches(a.question, split.train_rows, tcfg.batch_size, tcfg.seed, epoch,
                                    None if tcfg.steps_per_epoch is None else tcfg.steps_per_epoch * tcfg.questions_per_step)
            k = tcfg.questions_per_step
            batches = [batches[i : i + k] for i in range(0, len(batches), k)]
            bar = tqdm(batches, desc=f"train epoch {epoch + 1}/{tcfg.epochs}", unit="step",
                       disable=not tcfg.progress, leave=False, file=sys.stderr)
            spm.train()
            for step_batches in bar:
                ts = time.perf_counter()
                for g in optim.param_groups:
                    g["lr"] = g["base_lr"] * tcfg.lr_factor(step)
                optim.zero_grad(set_to_none=True)
                n_rows = sum(len(rows) for rows in step_batches)
                loss_sum = 0.0
                for i_batch, rows in enumerate(step_batches):
                    q = int(a.question[rows[0]])
                    parts = self.builder.parts(survey.questions[q], cfg.spm.cue_tokens)
                    virtual = spm(torch.from_numpy(embeddings[a.respondent[rows]]))
                    logp = score_virtual(lm, heads, parts, cfg.spm.mode, virtual)
                    teacher_proba = teacher(a.respondent[rows], a.question[rows]) if uses_teacher else None
                    target = row_targets(a.option[rows], logp.shape[1], tcfg.distill, teacher_proba).to(logp.device)
                    loss = -(target * logp).sum() / n_rows
                    if tcfg.persona_shift > 0:
                        loss = loss + tcfg.persona_shift * persona_shift_loss(logp, teacher_proba).sum() / n_rows
                    if tcfg.text_answer > 0 and i_batch < tcfg.text_answer_questions:
                        text_parts = self.text_builder.parts(survey.questions[q], cfg.spm.cue_tokens)
                        n_text = min(tcfg.text_answer_rows, len(rows))
                        text_logp = score_virtual(lm, heads, text_parts, cfg.spm.mode, select_rows(virtual, slice(0, n_text)),
                                                  readout="text")
                        # weighted per row as the letter term: the few rows stand for their batch
                        loss = loss - tcfg.text_answer * (target[:n_text] * text_logp).sum() * (len(rows) / n_text) / n_rows
                    if free_targets is not None:
                        picked = free_targets.pick(q, a.option[rows[: tcfg.free_text_rows]], free_rng)
                        if picked:
                            where = torch.tensor([i for i, _ in picked])
                            free_parts = self.free_builder.parts(survey.questions[q], cfg.spm.cue_tokens)
                            free_virtual = select_rows(virtual, where, detach=tcfg.free_text_params == "own_adapter_only")
                            inputs = virtual_inputs(free_lm, free_heads, free_parts, cfg.spm.mode, free_virtual)
                            free_lp = continuation_logprobs(free_lm, inputs, [torch.tensor(ids) for _, ids in picked])
                            # weighted per row as the letter term: the few rows stand for their batch
                            free_loss = -tcfg.free_text * free_lp.sum() * (len(rows) / len(picked)) / n_rows
                            if tcfg.free_text_params == "spm" and peft_model is not None:
                                # into the SPM's weights only; the graph up to `virtual` is the letters' too
                                free_loss.backward(inputs=list(spm.parameters()), retain_graph=True)
                                loss_sum += float(free_loss.detach())
                            else:
                                loss = loss + free_loss
                    loss.backward()  # per question: frees its graph before the next one
                    loss_sum += float(loss.detach())
                    if peft_model is not None:
                        heads.clear()
                    if free_peft is not None:
                        free_heads.clear()
                optim.step()
                train_time += time.perf_counter() - ts
                train_steps += 1
                step += 1
                bar.set_postfix(loss=f"{loss_sum:.3f}")
                if tcfg.eval_every and step % tcfg.eval_every == 0:
                    curve.append(self._curve_point(survey, spm, lm, embeddings, split, step, epoch + 1, t0, peft_model))
            if not curve or curve[-1]["step"] != step:
                curve.append(self._curve_point(survey, spm, lm, embeddings, split, step, epoch + 1, t0, peft_model))
            if self.checkpoint_dir is not None:
                record = {
                    "run_key": run_key, "config": cfg.to_dict(), "epoch": epoch + 1, "step": step,
                    "learning_curve": curve, "seconds": time.perf_counter() - t0,
                    "split": split.to_record(survey), "survey": survey.name,
                    "survey_fingerprint": survey.fingerprint(),
                }
                if peft_model is not None:
                    self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
                    save_adapter(peft_model, self.checkpoint_dir)
                if free_peft is not None:
                    save_adapter(free_peft, self.checkpoint_dir, FREE_TEXT_ADAPTER_WEIGHTS)
                save_checkpoint(self.checkpoint_dir, spm, record, optim)
        spm.eval()
        if peft_model is not None:
            for p in adapter_parameters(peft_model):
                p.requires_grad_(False)
            spm.bind_lm(lm)
        if free_peft is not None:
            for p in adapter_parameters(free_peft):
                p.requires_grad_(False)
            spm.bind_generation_lm(free_lm)
        return TrainResult(
            spm=spm, split=split, lm=lm, learning_curve=curve, steps=step, seconds=time.perf_counter() - t0,
            seconds_per_step=train_time / train_steps if train_steps else float("nan"),
            free_text_seconds=free_seconds, resumed_from_epoch=resumed, notes=notes,
        )

    # ------------------------------------------------------------- helpers
    def _curve_point(self, survey, spm, lm, embeddings, split, step, epoch, t0, peft_model=None) -> dict[str, float]:
        spm.eval()
        a = survey.answers
        rows = split.curve_rows
        # an adapter changes the question heads at every step: score with fresh ones
        heads = self.heads if peft_model is None else HeadCache(lm, max_items=512)
        lp = spm_logprobs(lm, self.builder, heads, survey, spm,
                          embeddings[a.respondent[rows]], a.question[rows], desc="curve")
        spm.train()
        point = {"step": step, "epoch": epoch, "seconds": round(time.perf_counter() - t0, 2)}
        point.update(summarize(a.respondent[rows], lp, a.option[rows]))
        if self.on_curve is not None:
            self.on_curve(point)
        return point

    def _free_text_targets(self, survey: Survey, split: SteerSplit) -> FreeTextTargets:
        """The base model's option-labelled answers to the training questions (reused from the
        checkpoint folder when made with the same settings)."""
        tcfg = self.config.train
        path = None if self.checkpoint_dir is None else self.checkpoint_dir / TARGETS_FILE
        return load_or_sample(path, self.model, self.tokenizer, survey.questions, split.questions.tolist(),
                              tcfg.free_text_samples, tcfg.free_text_tokens, tcfg.seed, tcfg.progress)

    def _subsample_notes(self, survey: Survey, split: SteerSplit) -> list[str]:
        notes = []
        n_pool = survey.n_respondents - split.unseen_respondents.size
        if split.train_respondents.size < n_pool:
            notes.append(f"subsampled {split.train_respondents.size} of {n_pool} training respondents (max_respondents)")
        if split.questions.size < survey.n_questions:
            notes.append(f"using {split.questions.size} of {survey.n_questions} questions (max_questions / min_question_answers)")
        notes.append(f"{split.unseen_respondents.size} respondents kept out for the unseen-respondent test")
        return notes
