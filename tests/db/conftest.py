"""Small surveys for the database tests."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from persona_core.data.survey import Answers, Question, Survey


def build_survey(name: str = "tiny", *, seed: int = 0, n_respondents: int = 12, n_questions: int = 5,
                 density: float = 0.7) -> Survey:
    """A random survey with mixed-type attributes (categorical, ordered categorical, float with
    gaps, strings, ints, booleans) and unicode texts."""
    rng = np.random.default_rng(seed)
    n_opt = rng.integers(2, 6, size=n_questions)
    questions = [
        Question(id=f"q{j}", text=f"Question {j}: ¿está de acuerdo? “yes”", options=tuple(f"opt {k} ✓" for k in range(n_opt[j])),
                 ordinal=bool(j % 2 == 0))
        for j in range(n_questions)
    ]
    mask = rng.random((n_respondents, n_questions)) < density
    mask[:, 0] = True  # everybody answers something
    r, q = np.nonzero(mask)
    order = rng.permutation(len(r))  # answers in no particular order: the store must keep it
    r, q = r[order], q[order]
    o = rng.integers(0, n_opt[q])
    ids = [f"R{1000 + i}" for i in range(n_respondents)]
    age = rng.integers(18, 90, n_respondents).astype(float)
    age[1] = np.nan
    attributes = pd.DataFrame({
        "age": age,
        "sex": pd.Categorical(rng.choice(["male", "female"], n_respondents)),
        "degree": pd.Categorical(rng.choice(["high school", "bachelor", "graduate"], n_respondents),
                                 categories=["high school", "bachelor", "graduate"], ordered=True),
        "region": np.array(rng.choice(["north", "south", None], n_respondents), dtype=object),
        "city": pd.Series(rng.choice(["Boston", "Zürich"], n_respondents), index=ids).astype("string"),
        "children": rng.integers(0, 5, n_respondents),
        "voted": rng.random(n_respondents) < 0.5,
    }, index=ids)
    source = {"kind": "test", "wave": 2016, "files": ["a.csv", "b.csv"], "nested": {"x": [1, 2.5]}}
    return Survey.from_codes(name, questions, ids, Answers(r, q, o), attributes, source)


@pytest.fixture
def make_survey():
    return build_survey
