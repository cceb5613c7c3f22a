"""A (personalized) LLM judge of preference pairs: given a conversation and two responses,
the probability that the person prefers the first one.

The judge's prompt holds, optionally, a persona text and labelled demonstration pairs (with
reasoning); the answer is read from the next-token probabilities of the labels ``A`` and
``B`` after the assistant header (:meth:`persona_core.llm.LLM.score_options`), so one forward
pass per judgement and no parsing of generated text. Works unchanged with any chat model.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

JUDGE_SYSTEM = "You predict which of two responses a specific person prefers."
QUESTION = "Which response would this person prefer? Answer with A or B."


@dataclass(frozen=True)
class Example:
    """One decided pair of one person: the conversation and the chosen/rejected response."""

    pair_id: int
    prompt: str
    chosen: str
    rejected: str


@dataclass(frozen=True)
class Demo:
    """A labelled demonstration: an example shown in ``order`` (``"cr"``: chosen first) with
    the reasoning kept for it."""

    example: Example
    order: str = "cr"
    reasoning: str = ""


@dataclass(frozen=True)
class JudgeConfig:
    max_chars: int = 400  # each text is cut to this many characters in a prompt (CPU budget)
    batch_size: int = 8


def clip(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def pair_block(prompt: str, first: str, second: str, n: int) -> str:
    return f"Conversation: {clip(prompt, n)}\nResponse A: {clip(first, n)}\nResponse B: {clip(second, n)}"


@dataclass
class Judge:
    """``persona``: text describing the person (``None``: the default judge); ``demos``:
    labelled examples of the person's choices."""

    llm: object
    persona: str | None = None
    demos: Sequence[Demo] = field(default_factory=list)
    config: JudgeConfig = field(default_factory=JudgeConfig)

    def user_text(self, prompt: str, first: str, second: str, reasoning: str | None = None) -> str:
        n = self.config.max_chars
        parts = []
        if self.persona:
            parts.append(f"About this person: {self.persona.strip()}")
        if self.demos:
            lines = ["Examples of this person's past choices:"]
            for i, d in enumerate(self.demos, 1):
                ex = d.example
                a, b = (ex.chosen, ex.rejected) if d.order == "cr" else (ex.rejected, ex.chosen)
                label = "A" if d.order == "cr" else "B"
                why = f"\nWhy: {clip(d.reasoning, n)}" if d.reasoning else ""
                lines.append(f"Example {i}\n{pair_block(ex.prompt, a, b, n)}{why}\nPreferred: {label}")
            parts.append("\n\n".join(lines))
        parts.append(pair_block(prompt, first, second, n))
        if reasoning:
            parts.append(f"Notes about this person: {clip(reasoning, n)}")
        parts.append(QUESTION)
        return "\n\n".join(parts)

    def prompts(self, items: Sequence[tuple[str, str, str]], reasoning: Sequence[str] | None = None) -> list[str]:
        return [
            self.llm.chat_prompt(self.user_text(p, a, b, None if reasoning is None else reasoning[i]), system=JUDGE_SYSTEM)
            for i, (p, a, b) in enumerate(items)
        ]

    def prob_first(self, items: Sequence[tuple[str, str, str]], reasoning: Sequence[str] | None = None) -> np.ndarray:
        """P(the person prefers the first response) per ``(prompt, first, second)``: the
        label probabilities renormalized over A and B."""
        prompts = self.prompts(items, reasoning)
        out = np.empty(len(prompts))
        bs = self.config.batch_size
        for start in range(0, len(prompts), bs):
            chunk = prompts[start:start + bs]
            probs = self.llm.score_options(chunk, [["A", "B"]] * len(chunk))
            out[start:start + len(chunk)] = [float(p[0]) for p in probs]
        return out

    def both_orders(self, examples: Sequence[Example], reasoning: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """P(chosen) with the chosen response shown first, and shown second."""
        items = [(e.prompt, e.chosen, e.rejected) for e in examples] + [(e.prompt, e.rejected, e.chosen) for e in examples]
        r = None if reasoning is None else list(reasoning) * 2
        p = self.prob_first(items, r)
        n = len(examples)
        return p[:n], 1.0 - p[n:]


def pairwise_accuracy(p_chosen_first: np.ndarray, p_chosen_second: np.ndarray) -> float:
    """Accuracy over both presentation orders: each order is one judgement, correct when the
    chosen response gets more than half the probability; an exact tie counts as wrong."""
    judged = np.concatenate([np.asarray(p_chosen_first), np.asarray(p_chosen_second)])
    return float(np.mean(judged > 0.5)) if judged.size else float("nan")


def debiased_correct(p_chosen_first: np.ndarray, p_chosen_second: np.ndarray) -> np.ndarray:
    """Per pair: the two orders' P(chosen) averaged (position bias cancels) exceeds 1/2."""
    return (np.asarray(p_chosen_first) + np.asarray(p_chosen_second)) / 2 > 0.5
