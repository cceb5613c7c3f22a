"""Ask everyone: one question for every cohort, scored by the simulation's own engine (the same
numbers ``simulate`` stores), sorted by distance from the population, typed input checked."""
from __future__ import annotations

import numpy as np
import pytest

from persona_core.data.errors import DataError
from persona_core.data.survey import Question
from persona_core.metrics import alignment, distribution_distance
from persona_core.service import ask
from tests.app.synthetic import train_tiny_spm


@pytest.fixture(scope="module")
def tiny(built_space, view, llm):
    """A tiny trained SPM (with its LoRA adapter) for the app's space, loaded as the app loads it."""
    from persona_core.service.checkpoints import load_spm

    path = train_tiny_spm(built_space, steps=4)
    spm, _ = load_spm(path, view.run_key, llm)
    assert spm.steered_lm is not None
    return path, spm


def test_page_distributions_are_what_simulate_stores(built_space, view, llm, tiny, tmp_path):
    """A whole-survey cohort simulation (as the page's job runs it) and the page asking single
    questions give the same steered and unsteered distributions and the same alignments."""
    from db.session import dispose_engine, upgrade_database
    from persona_core.simulate.align import cohort_alignment
    from persona_core.simulate.config import SimulateConfig
    from persona_core.simulate.local import LocalEngine
    from persona_core.simulate.run import simulate
    from persona_core.simulate.store import read_rows
    from persona_core.space import PersonaSpace

    path, spm = tiny
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    upgrade_database(url)
    space = PersonaSpace.load(view.artifact_path)  # what `python -m persona_core simulate` loads
    config = SimulateConfig(progress=False)
    summary = simulate(space, path, LocalEngine(llm.model, llm.tokenizer, spm, config.batch_size), config, db_url=url)
    rows = read_rows(url, summary["simulation_run"])
    dispose_engine(url)

    calls = []
    for qid in ("parks", "bus", "pet"):  # ordered and unordered options
        result = ask.ask_everyone(view, llm.model, llm.tokenizer, qid, spm=spm, progress=lambda d, n: calls.append((d, n)))
        assert result.method == "spm" and result.in_survey
        assert result.kinds[-1] == "population" and len(result.keys) == len(view.cohorts) + 1
        picked = [i for i, q in enumerate(rows["question_key"]) if q == qid]
        assert [rows["persona_key"][i] for i in picked] == list(result.keys)
        for k, i in enumerate(picked):
            np.testing.assert_allclose(result.steered[k], rows["steered"][i], rtol=0, atol=1e-6)
            np.testing.assert_allclose(result.unsteered, rows["unsteered"][i], rtol=0, atol=1e-6)
        # the cohort that the SPM moves most differs from the unsteered model
        assert float(np.abs(result.steered - result.unsteered).max()) > 1e-3
        # alignment with the real answers: the simulation's own figure for this question
        one = {c: [rows[c][i] for i in picked] for c in rows}
        stored = cohort_alignment(one, space.survey, np.asarray(space.likely_cohorts), config.min_cohort_answers)
        steered, unsteered = result.alignment_with_real()
        compared = 0
        for k, (kind, key) in enumerate(zip(result.kinds, result.keys)):
            entry = stored["per_cohort"].get(key) if kind == "cohort" else stored.get("population")
            if entry is None:
                assert np.isnan(steered[k]) and result.real[k].sum() < config.min_cohort_answers
                continue
            assert steered[k] == pytest.approx(entry["steered"], abs=1e-6)
            assert unsteered[k] == pytest.approx(entry["unsteered"], abs=1e-6)
            compared += 1
        assert compared >= 2
    assert calls[0] == (0, len(view.cohorts) + 1) and calls[-1] == (len(view.cohorts) + 1,) * 2


def test_real_distributions_count_each_cohorts_members(view, llm):
    result = ask.ask_everyone(view, llm.model, llm.tokenizer, "guns", method="text",
                              descriptions=[f"Persona {k}." for k in range(len(view.cohorts) + 1)])
    j = view.survey.question_index("guns")
    a = view.survey.answers
    likely = np.asarray(view.likely_cohorts)
    for k, key in enumerate(result.keys):
        on = a.question == j
        if key != "all":
            on &= likely[a.respondent] == int(key)
        np.testing.assert_array_equal(result.real[k], np.bincount(a.option[on], minlength=2))
        assert result.members[k] == (view.survey.n_respondents if key == "all" else int((likely == int(key)).sum()))
    for row in (*result.steered, result.unsteered):
        assert abs(row.sum() - 1) < 1e-3  # the options' probabilities, renormalised over the options
    # text steering moves at least one cohort away from the unsteered model
    assert float(np.abs(result.steered - result.unsteered).max()) > 1e-3


def _result(steered, ordinal, real=None) -> ask.AskResult:
    n, k = np.asarray(steered).shape
    return ask.AskResult(Question("q", "Q?", tuple("abcdefgh"[:k]), ordinal), real is not None, "spm",
                         ("cohort",) * (n - 1) + ("population",), tuple(str(i) for i in range(n - 1)) + ("all",),
                         tuple(f"Cohort {i}" for i in range(n - 1)) + (ask.POPULATION_TITLE,), np.ones(n, np.int64),
                         np.asarray(steered, float), np.full(k, 1 / k), None if real is None else np.asarray(real, float), 0.0)


def test_sorted_by_distance_from_the_population_under_the_right_metric():
    # population [1, 0, 0]; cohort 0 moves all mass one step, cohort 1 moves 70 % two steps
    steered = [[0, 1, 0], [0.3, 0, 0.7], [1, 0, 0], [1, 0, 0]]
    nominal, ordered = _result(steered, False), _result(steered, True)
    np.testing.assert_allclose(nominal.divergence(), [1.0, 0.7, 0.0, 0.0])  # total variation
    np.testing.assert_allclose(ordered.divergence(), [0.5, 0.7, 0.0, 0.0])  # W1 / (n - 1)
    assert nominal.order("steered") == [3, 0, 1, 2]
    assert ordered.order("steered") == [3, 1, 0, 2]
    assert ordered.order("cohort") == [3, 0, 1, 2]
    table = ordered.table("steered")
    assert list(table["persona"]) == [ask.POPULATION_TITLE, "Cohort 1", "Cohort 0", "Cohort 2"]
    assert list(table["differs from population (simulated)"]) == pytest.approx([0.0, 0.7, 0.5, 0.0])
    with pytest.raises(ValueError, match="no real answers"):
        ordered.order("real")


def test_sort_by_real_answers_puts_cohorts_without_answers_last():
    real = [[0, 5, 5], [0, 0, 0], [9, 1, 0], [10, 10, 0]]
    result = _result([[1, 0, 0]] * 4, True, real)
    d = result.divergence("real")
    assert np.isnan(d[1])
    assert d[0] == pytest.approx(distribution_distance(np.array([0, 5, 5]), np.array([10, 10, 0]), True))
    assert result.order("real") == [3, 0, 2, 1]
    steered, _ = result.alignment_with_real(min_answers=10)
    assert steered[0] == pytest.approx(alignment(np.array([1, 0, 0]), np.array([0, 5, 5]), True))
    assert np.isnan(steered[1])


@pytest.mark.parametrize("text, options, field, message", [
    ("", "Yes\nNo", "question", "Type a question"),
    ("   \n ", "Yes\nNo", "question", "Type a question"),
    ("x" * 1001, "Yes\nNo", "question", "1,001 characters; at most 1,000"),
    ("Bikes?", "", "options", "between 2 and 10 answer options, one per line (got 0)"),
    ("Bikes?", "Yes\n\n  \n", "options", "(got 1)"),
    ("Bikes?", "\n".join(f"o{i}" for i in range(11)), "options", "(got 11)"),
    ("Bikes?", "Yes\nno\nNO", "options", "Options 2 and 3 are the same ('NO')"),
    ("Bikes?", "Yes\n" + "y" * 201, "options", "Option 2 has 201 characters"),
])
def test_bad_typed_questions_say_what_to_fix(text, options, field, message):
    with pytest.raises(ask.InvalidQuestion, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        ask.typed_question(text, options)
    assert info.value.field == field


def test_typed_question_is_new_and_has_no_real_answers(view, llm):
    q = ask.typed_question("  Should the city build more bike lanes? ", ["  Yes ", "No", "Not sure", ""], ordinal=False)
    assert q.text == "Should the city build more bike lanes?" and q.options == ("Yes", "No", "Not sure")
    result = ask.ask_everyone(view, llm.model, llm.tokenizer, q, method="text",
                              descriptions=["Someone."] * (len(view.cohorts) + 1))
    assert not result.in_survey and result.real is None
    assert result.steered.shape == (len(view.cohorts) + 1, 3)
    assert set(result.shares()["source"]) == {"simulated"}
    assert "alignment (steered)" not in result.table().columns


def test_unknown_question_and_missing_spm_are_refused(view, llm):
    with pytest.raises(DataError, match="unknown question id 'nope'"):
        ask.ask_everyone(view, llm.model, llm.tokenizer, "nope", method="text", descriptions=["x"] * 99)
    with pytest.raises(ValueError, match="needs a steering model"):
        ask.ask_everyone(view, llm.model, llm.tokenizer, "parks", method="spm")
