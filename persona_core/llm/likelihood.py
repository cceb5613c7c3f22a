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


def _right_padded(rows: Sequence[Sequence[int]], device) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask of ``rows``, right-padded (so a row's tokens never see padding)."""
    width = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(list(r), dtype=torch.long)
        mask[i, : len(r)] = 1
    return ids.to(device), mask.to(device)


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
        batch = list(zip(contexts[start : start + batch_size], continuations[start : start + batch_size]))
        ids, mask = _right_padded([list(c) + list(t) for c, t in batch], device)
        # logits only where a continuation token is predicted: the vocabulary projection and its
        # softmax over every context position were half the work of mapping a short answer
        first = min(len(c) for c, _ in batch) - 1
        last = max(len(c) + len(t) for c, t in batch) - 1
        with torch.inference_mode():
            logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=torch.arange(first, last, device=device)).logits
            for i, (c, t) in enumerate(batch):
                logp = torch.log_softmax(logits[i, len(c) - 1 - first : len(c) - 1 - first + len(t)].float(), dim=-1)
                out.append(logp.gather(-1, torch.tensor(list(t), device=device)[:, None])[:, 0].double().cpu().numpy())
    return out


def next_token_logprobs(model, contexts: Sequence[Sequence[int]], tokens: Sequence[int], batch_size: int = 8) -> np.ndarray:
    """Log-probability (float64, contexts x tokens) of each of ``tokens`` as the next token after each
    context: what :func:`continuation_logprobs` gives for one-token continuations, from one row per
    context instead of one per (context, token)."""
    if any(len(c) == 0 for c in contexts):
        raise ValueError("every context needs at least one token (the next token is predicted from it)")
    device = next(model.parameters()).device
    wanted = torch.tensor(list(tokens), dtype=torch.long, device=device)
    out = []
    for start in range(0, len(contexts), batch_size):
        batch = contexts[start : start + batch_size]
        ids, mask = _right_padded(batch, device)
        first, last = min(len(c) for c in batch) - 1, max(len(c) for c in batch)
        with torch.inference_mode():
            logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=torch.arange(first, last, device=device)).logits
            for i, c in enumerate(batch):
                out.append(torch.log_softmax(logits[i, len(c) - 1 - first].float(), dim=-1)[wanted].double().cpu().numpy())
    return np.array(out).reshape(len(contexts), len(wanted))


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
    return option_scores_many(llm, question, [answer], options, system)[0]


def option_scores_many(llm, question: str, answers: Sequence[str], options: Sequence[str],
                       system: str | None = None) -> np.ndarray:
    """:func:`option_scores` of several answers to one question (answers x options), in batches."""
    contexts = llm.encode([llm.chat_prompt(f"Question: {question.strip()}\nThis person answered: \"{a.strip()}\"\n"
                                           f"{MAP_INSTRUCTION}", system=system) for a in answers])
    texts = llm.encode([str(o).strip() for o in options])
    if all(len(t) == 1 for t in texts):  # e.g. yes / no: every option is read at the answer's last position
        return next_token_logprobs(llm.model, contexts, [t[0] for t in texts])
    lps = continuation_logprobs(llm.model, [c for c in contexts for _ in texts], [t for _ in contexts for t in texts])
    return np.array([lp.mean() for lp in lps]).reshape(len(answers), len(texts))


def closest_option(llm, question: str, answer: str, options: Sequence[str], system: str | None = None,
                   calibrate: bool = False) -> np.ndarray:
    """Distribution over ``options``: softmax of :func:`option_scores`. ``calibrate``: minus the
    scores after a content-free answer (:data:`NULL_ANSWER`), so the model's preference for some
    options' words whatever was answered drops out (contextual calibration, Zhao et al. 2021;
    domain-conditional PMI, Holtzman et al. 2021). ``bench/answer_mapper.py`` measures both."""
    return closest_options(llm, question, [answer], options, system, calibrate)[0]


def closest_options(llm, question: str, answers: Sequence[str], options: Sequence[str], system: str | None = None,
                    calibrate: bool = False) -> np.ndarray:
    """:func:`closest_option` of several answers to one question (answers x options), scored in batches."""
    if len(options) < 2:
        raise ValueError("mapping an answer to an option needs at least two options")
    score = option_scores_many(llm, question, list(answers), options, system)
    if calibrate:
        score = score - option_scores(llm, question, NULL_ANSWER, options, system)
    p = np.exp(score - score.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)
