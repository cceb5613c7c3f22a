from __future__ import annotations

import numpy as np
import pytest

from persona_core.service.personas import cohort_persona, describe_persona, respondent_persona, selection_persona


def test_respondent_cohort_and_selection_vectors(view):
    p = respondent_persona(view, " r5 ")
    assert p.key == "r5" and p.members == (5,)
    np.testing.assert_array_equal(p.vector, view.embeddings[5])
    c = view.cohorts[0]
    cp = cohort_persona(view, c)
    np.testing.assert_array_equal(cp.vector, view.cohort_centroids[c])
    assert set(cp.members) == set(np.flatnonzero(view.cohort_labels == c))
    sp = selection_persona(view, ["r1", "r2", "r2", "r9"])
    assert sp.members == (1, 2, 9)
    np.testing.assert_allclose(sp.vector, view.embeddings[[1, 2, 9]].mean(axis=0), rtol=1e-6)
    assert sp.same_as(selection_persona(view, ["r9", "r1", "r2"])) and not sp.same_as(p)


def test_bad_personas_are_refused_with_a_reason(view):
    with pytest.raises(KeyError, match="nobody"):
        respondent_persona(view, "nobody")
    with pytest.raises(ValueError, match="selection is empty"):
        selection_persona(view, [])
    with pytest.raises(KeyError, match="unknown cohort 99"):
        cohort_persona(view, 99)


def test_descriptions_name_attributes_and_opinions(view):
    text = describe_persona(view, respondent_persona(view, "r3"))
    party = view.survey.attributes.loc["r3", "party"]
    assert text.startswith("I am a survey respondent.") and f"party: {party}" in text and 'I answered "' in text
    c = view.cohorts[0]
    group = describe_persona(view, cohort_persona(view, c))
    top = view.profiles[c]["distinctive_questions"][0]
    assert f"group of {len(view.members(c))}" in group and top["text"] in group and top["top_option"] in group
