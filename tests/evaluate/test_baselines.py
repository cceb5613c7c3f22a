"""Persona texts of the prompting baselines."""
from __future__ import annotations

import numpy as np
import pandas as pd

from persona_core.data.survey import Answers, Question, Survey
from persona_core.evaluate.baselines import HistoryPrompter, demographic_texts


def _survey() -> Survey:
    qs = [Question(f"q{j}", f"Question number {j}", ("yes", "no")) for j in range(5)]
    # respondent 0 answered everything; respondent 1 only q0 and q4
    r = np.array([0, 0, 0, 0, 0, 1, 1])
    q = np.array([0, 1, 2, 3, 4, 0, 4])
    o = np.array([0, 1, 0, 1, 0, 1, 1])
    attrs = pd.DataFrame({"age": [34.0, np.nan], "sex": ["female", "male"], "shoe": ["9", "10"]}, index=["a", "b"])
    return Survey.from_codes("t", qs, ["a", "b"], Answers(r, q, o), attributes=attrs,
                             source={"attribute_labels": {"age": "age of respondent"}})


def test_demographic_text_lists_known_attributes_and_skips_missing():
    s = _survey()
    t0, t1 = demographic_texts(s, [0, 1])
    assert "age of respondent: 34;" in t0 and "sex: female" in t0
    assert "shoe" not in t0  # not a demographic column when the usual ones exist
    assert "age" not in t1 and "sex: male" in t1


def test_history_uses_most_similar_training_answers_only():
    s = _survey()
    # question vectors: q1 parallel to q0, q2 opposite-ish, q3 orthogonal, q4 close to q0
    vecs = np.array([[1, 0], [2, 0.1], [-1, 0], [0, 1], [1, 0.3]], float)
    train = s.answers.take(np.array([True, True, True, True, False, True, True]))  # q4 of respondent 0 held out
    hp = HistoryPrompter(s, train, vecs, k=2)
    pairs = hp.similar(0, 0)
    assert [q for q, _ in pairs] == [1, 3]  # most similar first; q4 is held out, q0 is the asked question
    assert pairs[0] == (1, 1)
    assert hp.text(0, 0).endswith("\n- Question number 1: no\n- Question number 3: no")
    assert hp.similar(1, 0) == [(4, 1)]
    assert hp.text(1, 4) == "\nAnswer as the person with these earlier answers would:\n- Question number 0: no"
