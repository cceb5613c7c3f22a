"""Log-likelihood of texts after a context: perplexity of an answer, and an answer's option.

``continuation_logprobs`` runs one forward pass per batch of ``context + continuation`` rows
(right-padded, so a row's tokens never see padding) and returns each continuation token's
log-probability. ``closest_option`` maps a free-text answer to a multiple-choice option by
the model's length-normalised log-likelihood of each option's text after the answer (the
"cloze" form OLMES recommends for small models, which cannot answer by letter).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

MAP_INSTRUCTION = "In a few words, which answer did this person give?"


def continuation_logprobs(
    model, contexts: Sequence[Sequence[int]], continuations: Sequence[Sequence[int]], batch_size: int = 8
) -> list[np.ndarray]:
    """Per-token log-probabilities (float64) of each ``continuations[i]`` after ``contexts[i]``."""
    if len(contexts) != len(continuations):
        raise ValueError(f"{len(contexts)} contexts but {len(continuations)} continuations")
    if any(len(c) == 0 for c in contexts):
        raise ValueError("every context needs at least one token (the first continuation token is predicted from it)")
    device = next(model.parameters()).device
    out: list[np.ndarray] = []
    for start in range(0, len(contexts), batch_size):
        rows = [list(c) + list(t) for c, t in zip(contexts[start : start + batch_size], continuations[start : start + batch_size])]
        width = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, : len(r)] = 1
        with torch.inference_mode():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
            logp = torch.log_softmax(logits, dim=-1).cpu()
        for i, (c, t) in enumerate(zip(contexts[start : start + batch_size], continuations[start : start + batch_size])):
            n_ctx, n_t = len(c), len(t)
            positions = torch.arange(n_ctx - 1, n_ctx - 1 + n_t)
            out.append(logp[i, positions, torch.tensor(list(t), dtype=torch.long)].double().numpy())
    return out


def perplexity(token_logprobs: Sequence[np.ndarray]) -> float:
    """Perplexity pooled over every token of the given texts (exp of the mean negative log-prob)."""
    flat = np.concatenate([np.asarray(x, np.float64) for x in token_logprobs]) if token_logprobs else np.zeros(0)
    if flat.size == 0:
        raise ValueError("no tokens to take a perplexity of")
    return float(np.exp(-flat.mean()))


NULL_ANSWER = "N/A"  # a content-free answer: what the mapper says with nothing to go on


def option_scores(llm, question: str, answer: str, options: Sequence[str], system: str | None = None) -> np.ndarray:
    """Length-normalised log-likelihood of each option's text as ``llm``'s reply to "this person
    answered ``answer``: which answer was it?"; ``llm`` is a :class:`persona_core.llm.LLM`."""
    user = f"Question: {question.strip()}\nThis person answered: \"{answer.strip()}\"\n{MAP_INSTRUCTION}"
    context = llm.encode([llm.chat_prompt(user, system=system)])[0]
    texts = llm.encode([str(o).strip() for o in options])
    lps = continuation_logprobs(llm.model, [context] * len(texts), texts)
    return np.array([lp.mean() for lp in lps])


def closest_option(llm, question: str, answer: str, options: Sequence[str], system: str | None = None,
                   calibrate: bool = False) -> np.ndarray:
    """Distribution over ``options``: softmax of :func:`option_scores`. ``calibrate``: minus the
    scores after a content-free answer (:data:`NULL_ANSWER`), so the model's preference for some
    options' words whatever was answered drops out (contextual calibration, Zhao et al. 2021;
    domain-conditional PMI, Holtzman et al. 2021). ``bench/answer_mapper.py`` measures both."""
    if len(options) < 2:
        raise ValueError("mapping an answer to an option needs at least two options")
    score = option_scores(llm, question, answer, options, system)
    if calibrate:
        score = score - option_scores(llm, question, NULL_ANSWER, options, system)
    p = np.exp(score - score.max())
    return p / p.sum()
