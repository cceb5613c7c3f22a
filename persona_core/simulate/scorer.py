"""Scores one batch of (persona, question) rows: the steered and the unsteered distribution.

The same calls as eval (:class:`persona_core.evaluate.run.Evaluator`) and Compare: steered
rows through :func:`persona_core.steer.scoring.spm_logprobs` on the SPM's adapted model
(``spm.steered_lm``) when the SPM was trained with an adapter, else the base model; unsteered
rows through :func:`persona_core.steer.scoring.text_logprobs` on the base model. Each model
keeps an LRU of question heads (key/values), so every batch of a question reuses its cache.
:class:`WorkerSpec` is what a process needs to build a :class:`Scorer` itself (a Ray actor).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from persona_core.simulate.rows import QuestionBank
from persona_core.steer.engine import HeadCache
from persona_core.steer.prompts import PromptBuilder
from persona_core.steer.scoring import spm_batch_rows, spm_logprobs, text_logprobs

HEAD_CACHE_ITEMS = 256


@dataclass(frozen=True)
class WorkerSpec:
    """Plain values from which a worker loads the base model, the adapter and the SPM."""

    model: str | None
    checkpoint: str
    run_key: str
    batch_size: int = 64
    threads: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Scorer:
    """Steered and unsteered option probabilities of batches of rows (one question per batch)."""

    def __init__(self, model, tokenizer, spm, bank: QuestionBank, batch_size: int = 64) -> None:
        self.model, self.spm, self.bank, self.batch_size = model, spm, bank, int(batch_size)
        self.builder = PromptBuilder(tokenizer)
        self.heads = HeadCache(model, max_items=HEAD_CACHE_ITEMS)
        self.spm_lm = spm.steered_lm if spm.steered_lm is not None else model
        self.spm_heads = self.heads if self.spm_lm is model else HeadCache(self.spm_lm, max_items=HEAD_CACHE_ITEMS)
        self._unsteered: dict[int, np.ndarray] = {}

    @property
    def batch_rows(self) -> int:
        """Rows per forward pass (see :func:`persona_core.steer.scoring.spm_batch_rows`)."""
        return spm_batch_rows(self.spm.config.mode, self.batch_size)

    @classmethod
    def load(cls, spec: WorkerSpec, bank: QuestionBank) -> "Scorer":
        """Load the base model, the checkpoint's SPM and adapter (refusing a checkpoint of another
        persona space or LLM), as ``python -m persona_core eval`` does."""
        import torch

        from persona_core.llm.config import LLMConfig
        from persona_core.llm.loading import load_model
        from persona_core.steer.checkpoint import load_checkpoint
        from persona_core.steer.engine import model_geometry

        if spec.threads:
            torch.set_num_threads(int(spec.threads))
        model, tokenizer = load_model(LLMConfig(model=spec.model))
        spm, _ = load_checkpoint(spec.checkpoint, run_key=spec.run_key, geometry=model_geometry(model), base_model=model)
        return cls(model, tokenizer, spm, bank, spec.batch_size)

    def logprobs(self, vectors: np.ndarray, questions: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Steered and unsteered option log-probs of rows (persona ``vectors``, bank ``questions``)."""
        steered = spm_logprobs(self.spm_lm, self.builder, self.spm_heads, self.bank, self.spm,
                               np.asarray(vectors, np.float32), np.asarray(questions), batch_size=self.batch_size)
        return steered, self._unsteered_logprobs(np.asarray(questions))

    def probabilities(self, vectors: np.ndarray, questions: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """:meth:`logprobs` as probabilities (float32, each row summing to 1)."""
        steered, unsteered = self.logprobs(vectors, questions)
        return _exp(steered), _exp(unsteered)

    def _unsteered_logprobs(self, questions: np.ndarray) -> list[np.ndarray]:
        """Unsteered rows depend only on the question: one pass per question, memoized."""
        todo = [int(q) for q in np.unique(questions) if int(q) not in self._unsteered]
        if todo:
            if len(self._unsteered) > HEAD_CACHE_ITEMS:
                self._unsteered.clear()
            lps = text_logprobs(self.model, self.builder, self.heads, self.bank, np.array(todo), None)
            self._unsteered.update(zip(todo, lps))
        return [self._unsteered[int(q)] for q in questions]


def _exp(logprobs: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [np.exp(np.asarray(lp, np.float64)).astype(np.float32) for lp in logprobs]
