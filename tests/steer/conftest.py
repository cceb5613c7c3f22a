"""A tiny survey with a planted persona -> answer mapping, and the real small LLM."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from persona_core.data.survey import Answers, Question, Survey
from persona_core.embed.split import heldout_split

QUESTIONS = [
    ("tea", "Do you enjoy drinking tea?"),
    ("city", "Would you rather live in a big city?"),
    ("sport", "Do you watch sports on television?"),
    ("pets", "Should pets be allowed in restaurants?"),
    ("rain", "Do you like rainy weather?"),
    ("books", "Do you read books every week?"),
]


def planted_steer_survey(n_respondents: int = 80, seed: int = 0):
    """Two groups: group 0 always answers the first option, group 1 the second.

    Returns (survey, embeddings (n x 4): the group's one-hot code plus noise, groups).
    """
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 2, n_respondents)
    questions = [Question(qid, text, ("Yes", "No"), ordinal=False) for qid, text in QUESTIONS]
    r, q = np.meshgrid(np.arange(n_respondents), np.arange(len(questions)), indexing="ij")
    r, q = r.ravel(), q.ravel()
    survey = Survey.from_codes(
        "planted-steer",
        questions,
        [f"p{i}" for i in range(n_respondents)],
        Answers(r, q, groups[r]),
        attributes=pd.DataFrame({"group": groups}, index=[f"p{i}" for i in range(n_respondents)]),
    )
    emb = np.zeros((n_respondents, 4), np.float32)
    emb[np.arange(n_respondents), groups] = 1.0
    emb += rng.normal(0, 0.1, emb.shape).astype(np.float32)
    return survey, emb, groups


@pytest.fixture(scope="session")
def lm():
    from persona_core.llm.loading import load_model

    return load_model()


@pytest.fixture(scope="session")
def planted():
    survey, emb, groups = planted_steer_survey()
    return survey, emb, groups, heldout_split(survey, 0.34, seed=0)
