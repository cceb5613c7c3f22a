"""Synthetic surveys with planted structure, shared by the persona-space tests."""
from __future__ import annotations

import numpy as np
import pandas as pd

from persona_core.data.survey import Answers, Question, Survey


def planted_survey(
    n_respondents: int = 300,
    n_questions: int = 40,
    n_groups: int = 3,
    observed: float = 0.7,
    noise: float = 0.5,
    seed: int = 0,
) -> tuple[Survey, np.ndarray]:
    """A survey whose respondents fall into ``n_groups`` opinion groups.

    Each group has a preferred option per question; a respondent answers their group's preferred
    option with high probability (softmax of planted logits with some noise). Returns the survey
    and each respondent's true group.
    """
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, n_groups, n_respondents)
    n_options = rng.integers(2, 6, n_questions)
    questions = [
        Question(f"q{j}", f"Question {j}?", tuple(f"option {k}" for k in range(n_options[j])), ordinal=bool(j % 2))
        for j in range(n_questions)
    ]
    preferred = np.array([[rng.integers(0, n_options[j]) for j in range(n_questions)] for _ in range(n_groups)])
    rows, cols, opts = [], [], []
    for i in range(n_respondents):
        for j in range(n_questions):
            if rng.random() > observed:
                continue
            logits = rng.normal(0, noise, n_options[j])
            logits[preferred[groups[i], j]] += 2.5
            p = np.exp(logits - logits.max())
            rows.append(i)
            cols.append(j)
            opts.append(rng.choice(n_options[j], p=p / p.sum()))
    attributes = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n_respondents),
            "party": np.where(groups == 0, "left", np.where(groups == 1, "right", "none")),
        },
        index=[f"r{i}" for i in range(n_respondents)],
    )
    survey = Survey.from_codes(
        "planted",
        questions,
        [f"r{i}" for i in range(n_respondents)],
        Answers(np.array(rows), np.array(cols), np.array(opts)),
        attributes=attributes,
    )
    return survey, groups
