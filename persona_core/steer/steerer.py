"""Serving: a trained SPM bound to its persona space -- option probabilities for any persona.

A persona is a respondent id, a cohort id (its centroid) or a raw vector (e.g. the centroid of
a lasso selection). Steered and unsteered rows of one question are scored in one batch that
shares the question's cache.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from persona_core.data.survey import Question
from persona_core.steer.checkpoint import load_checkpoint
from persona_core.steer.engine import HeadCache, model_geometry, score_texts, score_virtual
from persona_core.steer.model import SoftPromptModel
from persona_core.steer.prompts import PromptBuilder


class Steerer:
    """An SPM, its persona space and the frozen LLM it steers."""

    def __init__(self, space, spm: SoftPromptModel, model, tokenizer) -> None:
        self.space, self.spm, self.model, self.tokenizer = space, spm, model, tokenizer
        self.builder = PromptBuilder(tokenizer)
        self.heads = HeadCache(model, max_items=64)

    @classmethod
    def load(cls, space, checkpoint_dir: str | Path, model, tokenizer) -> "Steerer":
        """Load a checkpoint for ``space``; refuses one trained on another embedding run."""
        spm, _ = load_checkpoint(checkpoint_dir, run_key=space.run_key, geometry=model_geometry(model))
        return cls(space, spm, model, tokenizer)

    def persona_vector(self, respondent: str | None = None, cohort: int | None = None,
                       vector: Sequence[float] | None = None) -> np.ndarray:
        """Exactly one of a respondent id, a cohort label, or a raw vector (checked for size)."""
        if sum(x is not None for x in (respondent, cohort, vector)) != 1:
            raise ValueError("give exactly one of respondent, cohort or vector")
        if vector is not None:
            v = np.asarray(vector, np.float32).reshape(-1)
            if v.size != self.spm.embed_dim:
                raise ValueError(f"persona vector has {v.size} values, the persona space has {self.spm.embed_dim}")
            return v
        return np.asarray(self.space.persona_vector(respondent=respondent, cohort=cohort), np.float32)

    @torch.no_grad()
    def option_probabilities(self, question: Question, personas: Sequence[np.ndarray],
                             include_unsteered: bool = True) -> np.ndarray:
        """(len(personas) [+ 1 unsteered row last]) x n_options probabilities."""
        rows = []
        if len(personas):
            parts = self.builder.parts(question, self.spm.config.cue_tokens)
            virtual = self.spm(torch.from_numpy(np.stack([np.asarray(p, np.float32) for p in personas])))
            rows.append(score_virtual(self.model, self.heads, parts, self.spm.config.mode, virtual).exp())
        if include_unsteered:
            parts = self.builder.parts(question)
            rows.append(score_texts(self.model, self.heads, parts, [torch.zeros(0, dtype=torch.long)]).exp())
        return torch.cat(rows).numpy() if rows else np.zeros((0, question.n_options))
