"""Train a soft-prompting model on respondents' training answers (LLM frozen).

Each step takes one mini-batch of respondents who answered the same question, so in suffix
mode the question's key/value cache is computed once (no gradient) and shared by the whole
batch. Loss: cross-entropy over the options' label tokens. A checkpoint is written after every
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
from tqdm.auto import tqdm

from persona_core.data.survey import Survey
from persona_core.evaluate.metrics import summarize
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
from persona_core.steer.engine import HeadCache, model_geometry, score_virtual
from persona_core.steer.model import SoftPromptModel, base_tokens
from persona_core.steer.prompts import PromptBuilder
from persona_core.steer.scoring import spm_logprobs

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """A trained SPM with its learning curve and the data it used."""

    spm: SoftPromptModel
    split: SteerSplit
    learning_curve: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    seconds_per_step: float = 0.0
    resumed_from_epoch: int | None = None
    notes: list[str] = field(default_factory=list)


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
    ) -> TrainResult:
        """Train (or resume) and return the SPM. ``stop_after_epochs`` ends early (as if killed)."""
        cfg, tcfg = self.config, self.config.train
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
        optim = torch.optim.AdamW(spm.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
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
            load_optimizer_state(self.checkpoint_dir, optim)
            start_epoch, step = int(record["epoch"]), int(record["step"])
            curve, elapsed, resumed = list(record.get("learning_curve", [])), float(record.get("seconds", 0.0)), start_epoch
            notes.append(f"resumed from the checkpoint after epoch {start_epoch} (step {step})")

        a = survey.answers
        t0 = time.perf_counter() - elapsed
        train_time = 0.0
        train_steps = 0
        end_epoch = tcfg.epochs if stop_after_epochs is None else min(tcfg.epochs, stop_after_epochs)
        for epoch in range(start_epoch, end_epoch):
            batches = epoch_batches(a.question, split.train_rows, tcfg.batch_size, tcfg.seed, epoch, tcfg.steps_per_epoch)
            bar = tqdm(batches, desc=f"train epoch {epoch + 1}/{tcfg.epochs}", unit="step",
                       disable=not tcfg.progress, leave=False, file=sys.stderr)
            spm.train()
            for rows in bar:
                ts = time.perf_counter()
                q = int(a.question[rows[0]])
                parts = self.builder.parts(survey.questions[q], cfg.spm.cue_tokens)
                virtual = spm(torch.from_numpy(embeddings[a.respondent[rows]]))
                logp = score_virtual(self.model, self.heads, parts, cfg.spm.mode, virtual)
                loss = torch.nn.functional.nll_loss(logp, torch.from_numpy(a.option[rows].astype(np.int64)))
                optim.zero_grad(set_to_none=True)
                loss.backward()
                optim.step()
                train_time += time.perf_counter() - ts
                train_steps += 1
                step += 1
                bar.set_postfix(loss=f"{loss.item():.3f}")
                if tcfg.eval_every and step % tcfg.eval_every == 0:
                    curve.append(self._curve_point(survey, spm, embeddings, split, step, epoch + 1, t0))
            if not curve or curve[-1]["step"] != step:
                curve.append(self._curve_point(survey, spm, embeddings, split, step, epoch + 1, t0))
            if self.checkpoint_dir is not None:
                record = {
                    "run_key": run_key, "config": cfg.to_dict(), "epoch": epoch + 1, "step": step,
                    "learning_curve": curve, "seconds": time.perf_counter() - t0,
                    "split": split.to_record(survey), "survey": survey.name,
                    "survey_fingerprint": survey.fingerprint(),
                }
                save_checkpoint(self.checkpoint_dir, spm, record, optim)
        spm.eval()
        return TrainResult(
            spm=spm, split=split, learning_curve=curve, steps=step, seconds=time.perf_counter() - t0,
            seconds_per_step=train_time / train_steps if train_steps else float("nan"),
            resumed_from_epoch=resumed, notes=notes,
        )

    # ------------------------------------------------------------- helpers
    def _curve_point(self, survey, spm, embeddings, split, step, epoch, t0) -> dict[str, float]:
        spm.eval()
        a = survey.answers
        rows = split.curve_rows
        lp = spm_logprobs(self.model, self.builder, self.heads, survey, spm,
                          embeddings[a.respondent[rows]], a.question[rows], desc="curve")
        spm.train()
        point = {"step": step, "epoch": epoch, "seconds": round(time.perf_counter() - t0, 2)}
        point.update(summarize(a.respondent[rows], lp, a.option[rows]))
        if self.on_curve is not None:
            self.on_curve(point)
        return point

    def _subsample_notes(self, survey: Survey, split: SteerSplit) -> list[str]:
        notes = []
        n_pool = survey.n_respondents - split.unseen_respondents.size
        if split.train_respondents.size < n_pool:
            notes.append(f"subsampled {split.train_respondents.size} of {n_pool} training respondents (max_respondents)")
        if split.questions.size < survey.n_questions:
            notes.append(f"using {split.questions.size} of {survey.n_questions} questions (max_questions / min_question_answers)")
        notes.append(f"{split.unseen_respondents.size} respondents kept out for the unseen-respondent test")
        return notes
