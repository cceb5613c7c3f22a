"""Multiple-choice prompts split into three parts so work can be shared.

A row's prompt is ``head | row part | cue``:

* ``head``: chat template start, the question, its lettered options and the instruction --
  identical for every persona answering that question, so its key/value cache is computed once;
* ``row part``: what differs per row -- virtual tokens (suffix mode), a persona description
  (demographic / answer-history baselines) or nothing (unsteered);
* ``cue``: the end of the user turn and the assistant turn start (5 tokens with ChatML); the
  next token is the answer letter. Kept short on purpose: per-row cost grows with the tokens
  after the shared head.

The probability of each option is the softmax, over the options' letter tokens, of the
next-token logits after the cue.
"""
from __future__ import annotations

import string
from dataclasses import dataclass

import torch

from persona_core.data.survey import Question
from persona_core.llm.prompts import DEFAULT_MC_FORMAT, mc_user_text

LABELS = string.ascii_uppercase
SYSTEM_PROMPT = "You are taking part in a survey. Answer each question as yourself."
_SENTINEL = "\u2063@@ROW@@\u2063"


def chat_split(tokenizer, system: str, user: str, plain_cue: str = "\n") -> tuple[str, str]:
    """The chat prompt of one user turn split right after the user's text: ``(head, cue)``,
    ``head + cue`` the full prompt ending in the assistant header (row parts go between).
    A tokenizer without a chat template gets ``system``, a blank line, ``user`` and ``plain_cue``."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user + _SENTINEL}]
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        text = f"{system}\n\n{user}{_SENTINEL}{plain_cue}"
    head, cue = text.split(_SENTINEL)
    return head, cue


CLOZE_INSTRUCTION = "Answer in a few words."
FREE_INSTRUCTION = "Answer in one or two sentences."  # a free-text question (Compare's, and the free-text term's)


def free_question_block(text: str, instruction: str = FREE_INSTRUCTION) -> str:
    """A question asked alone, without options, and an instruction for the answer."""
    return f"{DEFAULT_MC_FORMAT.question_prefix}{text.strip()}\n{instruction}"


def question_block(question: Question, list_options: bool = True, instruction: str = CLOZE_INSTRUCTION) -> str:
    """The question, its lettered options and the instruction (the LLM backend's format);
    ``list_options=False``: the question alone with ``instruction`` (reading options by their
    text, cloze; or a free-text answer)."""
    if not list_options:
        return free_question_block(question.text, instruction)
    return mc_user_text(question.text, list(question.options), DEFAULT_MC_FORMAT)


@dataclass(frozen=True)
class PromptParts:
    """Token ids of one question's shared head and cue, and its options' label token ids."""

    head: torch.Tensor  # (H,) long
    cue: torch.Tensor  # (C,) long
    labels: torch.Tensor  # (n_options,) long
    option_texts: tuple[torch.Tensor, ...] = ()  # each option's text as the answer (read by text)


class PromptBuilder:
    """Tokenizes the three parts of each question's prompt (memoized per question)."""

    def __init__(self, tokenizer, system_prompt: str = SYSTEM_PROMPT, list_options: bool = True,
                 instruction: str = CLOZE_INSTRUCTION) -> None:
        self.tokenizer = tokenizer
        self.system_prompt = system_prompt
        self.list_options = list_options
        self.instruction = instruction  # after a question asked alone (list_options=False)
        self._memo: dict[tuple, PromptParts] = {}
        self._label_ids = self._letter_ids()

    def _letter_ids(self) -> list[int]:
        ids = []
        for lab in LABELS:
            tok = self.tokenizer.encode(lab, add_special_tokens=False)
            if len(tok) != 1:
                raise ValueError(f"the tokenizer splits the option label {lab!r} into {len(tok)} tokens")
            ids.append(tok[0])
        return ids

    def render(self, question: Question, row_text: str = "") -> str:
        """The full prompt as text (for display and for the one-row-at-a-time path)."""
        head, cue = self._split(question)
        return head + row_text + cue

    def _split(self, question: Question) -> tuple[str, str]:
        return chat_split(self.tokenizer, self.system_prompt, question_block(question, self.list_options, self.instruction),
                          plain_cue="\nAnswer:")

    def parts(self, question: Question, cue_tokens: int | None = None) -> PromptParts:
        """Head, cue and label ids. ``cue_tokens=None``: the row part goes at the end of the user
        turn (where persona texts belong). ``cue_tokens=c``: the prompt is cut ``c`` tokens before
        its end instead (virtual tokens can sit anywhere; a 1-token cue makes each row cheapest)."""
        key = (question.id, question.text, question.options, cue_tokens)  # the builder's format is fixed
        got = self._memo.get(key)
        if got is None:
            head, cue = self._split(question)
            enc = lambda s: torch.tensor(self.tokenizer.encode(s, add_special_tokens=False), dtype=torch.long)
            head_ids, cue_ids = enc(head), enc(cue)
            if cue_tokens is not None:
                if cue_tokens < 1:
                    raise ValueError(f"cue_tokens must be >= 1, got {cue_tokens}")
                full = torch.cat([head_ids, cue_ids])
                head_ids, cue_ids = full[:-cue_tokens], full[-cue_tokens:]
            got = PromptParts(head_ids, cue_ids, torch.tensor(self._label_ids[: question.n_options]),
                              tuple(enc(str(o).strip()) for o in question.options))
            self._memo[key] = got
        return got

    def encode_row_text(self, text: str) -> torch.Tensor:
        """Token ids of a per-row text (e.g. a persona description)."""
        return torch.tensor(self.tokenizer.encode(text, add_special_tokens=False), dtype=torch.long)
