"""Score many (persona, question) rows at once: grouped by question, caches shared.

Rows are sorted by question; each question's head cache is computed once and every batch of
rows answering it reuses it. Returns one log-probability vector per row (in input order).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from persona_core.progress import tqdm

from persona_core.data.survey import Survey
from persona_core.steer.engine import HeadCache, score_texts, score_virtual
from persona_core.steer.model import SoftPromptModel
from persona_core.steer.prompts import PromptBuilder


def question_groups(questions: np.ndarray, batch_size: int) -> list[tuple[int, np.ndarray]]:
    """``[(question, row indices)]`` chunks of at most ``batch_size`` rows, grouped by question."""
    questions = np.asarray(questions)
    order = np.argsort(questions, kind="stable")
    out = []
    for q in np.unique(questions):
        idx = order[questions[order] == q]
        out += [(int(q), idx[s : s + batch_size]) for s in range(0, len(idx), batch_size)]
    return out


def _run(groups, fn: Callable[[int, np.ndarray], torch.Tensor], n: int, desc: str, progress: bool) -> list[np.ndarray]:
    out: list[np.ndarray | None] = [None] * n
    for q, idx in tqdm(groups, desc=desc, unit="batch", disable=not progress, leave=False):
        lp = fn(q, idx).detach().float().cpu().numpy()
        for row, vec in zip(idx, lp):
            out[row] = vec
    return out  # type: ignore[return-value]


def spm_logprobs(
    model,
    builder: PromptBuilder,
    heads: HeadCache,
    survey: Survey,
    spm: SoftPromptModel,
    vectors: np.ndarray,
    questions: np.ndarray,
    batch_size: int = 64,
    progress: bool = False,
    desc: str = "spm",
    readout: str = "letter",
) -> list[np.ndarray]:
    """Option log-probs of rows steered by persona ``vectors`` (n x d) on ``questions`` (n), read
    by ``readout`` (see :func:`persona_core.steer.engine.read_options`)."""
    vectors = np.asarray(vectors, np.float32)

    def fn(q: int, idx: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            virtual = spm(torch.from_numpy(vectors[idx]))
            return score_virtual(model, heads, builder.parts(survey.questions[q], spm.config.cue_tokens), spm.config.mode, virtual,
                                 readout)

    bs = spm_batch_rows(spm.config.mode, batch_size)
    return _run(question_groups(questions, bs), fn, len(questions), desc, progress)


def spm_batch_rows(mode: str, batch_size: int) -> int:
    """Rows per forward pass that :func:`spm_logprobs` uses for ``batch_size`` in ``mode``:
    the suffix modes share the question's cached head, the others run a full sequence per row."""
    return batch_size if mode in ("suffix", "suffix_kv") else max(1, batch_size // 4)


def text_logprobs(
    model,
    builder: PromptBuilder,
    heads: HeadCache,
    survey: Survey,
    questions: np.ndarray,
    row_texts: Sequence[str] | None = None,
    batch_size: int = 32,
    progress: bool = False,
    desc: str = "text",
    readout: str = "letter",
) -> list[np.ndarray]:
    """Option log-probs of rows whose row part is a text (``None`` = unsteered: one pass per question)."""
    questions = np.asarray(questions)
    if row_texts is None:
        out: list[np.ndarray] = [None] * len(questions)  # type: ignore[list-item]
        empty = torch.zeros(0, dtype=torch.long)
        for q in tqdm(np.unique(questions), desc=desc, unit="question", disable=not progress, leave=False):
            lp = score_texts(model, heads, builder.parts(survey.questions[int(q)]), [empty], readout)[0].numpy()
            for row in np.flatnonzero(questions == q):
                out[row] = lp
        return out
    encoded = [builder.encode_row_text(t) for t in row_texts]

    def fn(q: int, idx: np.ndarray) -> torch.Tensor:
        return score_texts(model, heads, builder.parts(survey.questions[q]), [encoded[i] for i in idx], readout)

    return _run(question_groups(questions, batch_size), fn, len(questions), desc, progress)
