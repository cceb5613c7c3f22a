"""Multiple-choice prompt text and option labels.

Default format (:data:`DEFAULT_MC_FORMAT`), the user turn of the chat template::

    Question: <question>
    Options:
    A. <option 1>
    B. <option 2>
    Answer with the letter of one option.

then the chat template's end of turn and assistant header, then the answer cue (empty by
default). The model's next token is read there: option ``k`` is scored by the logit of its
label token (``"A"``, ``"B"``, ...; with a leading space, ``" A"``, when the cue ends in a
word such as ``"Answer:"``). An optional persona text becomes the system message.

Why no ``Answer:`` cue by default: on 16 questions with an obvious answer (2-4 options),
SmolLM2-135M-Instruct put the most probability on the right option for 9 with the answer
read right after the assistant header, against 5 with ``Answer:`` (chance is about 5).
"""
from __future__ import annotations

import string
from dataclasses import dataclass

MAX_OPTIONS = len(string.ascii_uppercase)


@dataclass(frozen=True)
class MCFormat:
    """How a multiple-choice question is written. ``answer_cue`` follows the assistant
    header; the labels get a leading space when the cue ends in a non-space character."""

    question_prefix: str = "Question: "
    options_header: str = "Options:"
    instruction: str = "Answer with the letter of one option."
    answer_cue: str = ""

    @property
    def label_prefix(self) -> str:
        return " " if self.answer_cue and not self.answer_cue[-1].isspace() else ""


DEFAULT_MC_FORMAT = MCFormat()


def option_labels(n: int, fmt: MCFormat = DEFAULT_MC_FORMAT) -> list[str]:
    """Label tokens of ``n`` options: ``["A", "B", ...]`` (``[" A", ...]`` after a cue
    such as ``"Answer:"``); at most 26."""
    if not 1 <= n <= MAX_OPTIONS:
        raise ValueError(f"number of options must be between 1 and {MAX_OPTIONS}, got {n}")
    return [fmt.label_prefix + letter for letter in string.ascii_uppercase[:n]]


def mc_user_text(question: str, options: list[str], fmt: MCFormat = DEFAULT_MC_FORMAT) -> str:
    """The user turn: question, lettered options, instruction."""
    lines = [fmt.question_prefix + question.strip()]
    if fmt.options_header:
        lines.append(fmt.options_header)
    for letter, option in zip(string.ascii_uppercase, options):
        lines.append(f"{letter}. {option}")
    if fmt.instruction:
        lines.append(fmt.instruction)
    return "\n".join(lines)
