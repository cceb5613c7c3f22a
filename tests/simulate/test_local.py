"""The local engine on a tiny trained SPM: the stored rows are eval's scores for the same rows."""
from __future__ import annotations

import numpy as np
import pytest

from persona_core.simulate.config import SimulateConfig
from persona_core.simulate.local import LocalEngine
from persona_core.simulate.rows import choose_personas
from persona_core.simulate.run import simulate
from persona_core.simulate.store import read_rows
from persona_core.steer.engine import HeadCache
from persona_core.steer.prompts import PromptBuilder
from persona_core.steer.scoring import spm_logprobs, text_logprobs
from tests.test_cli import count


@pytest.mark.slow
def test_local_cohort_run_stores_eval_scores_and_alignment(trained, loaded, fresh_db):
    model, tokenizer, spm = loaded
    space, survey = trained.space, trained.space.survey
    config = SimulateConfig(personas="cohorts", questions=("all",), chunk_rows=16, min_cohort_answers=3, progress=False)
    summary = simulate(space, trained.checkpoint, LocalEngine(model, tokenizer, spm), config, db_url=fresh_db)

    n_personas = len(space.cohort_centroids) + 1  # the population persona too
    assert n_personas >= 3
    n_rows = n_personas * survey.n_questions
    assert summary["rows"] == summary["rows_scored"] == n_rows and summary["engine"] == "local"
    assert count(fresh_db, "simulation_row") == n_rows
    assert count(fresh_db, "simulation_chunk") == summary["chunks"] > 1
    assert summary["rows_per_second"] > 0 and summary["seconds"] > 0 and summary["chunks_skipped"] == 0

    rows = read_rows(fresh_db, summary["simulation_run"])
    assert rows["position"] == list(range(n_rows))
    steered, unsteered = np.array(rows["steered"], dtype=object), np.array(rows["unsteered"], dtype=object)
    for s, u in zip(steered, unsteered):
        assert abs(float(s.sum()) - 1) < 1e-5 and abs(float(u.sum()) - 1) < 1e-5

    # the same rows scored directly as eval scores them
    personas = choose_personas(space, "cohorts")
    P = len(personas)
    positions = np.arange(n_rows)
    Q, R = positions // P, positions % P
    assert rows["persona_key"] == [personas.keys[r] for r in R]
    assert rows["question_key"] == [survey.questions[q].id for q in Q]
    builder = PromptBuilder(tokenizer)
    direct = spm_logprobs(spm.steered_lm, builder, HeadCache(spm.steered_lm), survey, spm, personas.vectors[R], Q)
    base = text_logprobs(model, builder, HeadCache(model), survey, Q, None)
    for got, want in zip(rows["steered"], direct):
        np.testing.assert_allclose(got, np.exp(want), rtol=0, atol=1e-6)
    for got, want in zip(rows["unsteered"], base):
        np.testing.assert_allclose(got, np.exp(want), rtol=0, atol=1e-6)
    # the adapter and the persona move the answers: steered is not the base model
    assert max(float(np.abs(s - u).max()) for s, u in zip(rows["steered"], rows["unsteered"])) > 1e-3

    align = summary["alignment"]
    labels = {str(c) for c in space.cohort_centroids}
    assert set(align["per_cohort"]) <= labels and align["per_cohort"]
    assert set(align["per_question"]) <= {q.id for q in survey.questions}
    assert align["pairs"] == sum(e["n_questions"] for e in align["per_cohort"].values())
    assert 0.0 <= align["steered_better_share"] <= 1.0
    for key in ("steered", "unsteered"):
        assert 0.0 <= align[key] <= 1.0
    assert align["population"]["n_questions"] == survey.n_questions


@pytest.mark.slow
def test_local_respondent_sample_on_chosen_questions(trained, loaded, fresh_db):
    model, tokenizer, spm = loaded
    space = trained.space
    ids = [q.id for q in space.survey.questions[:3]]
    config = SimulateConfig(personas="9", questions=tuple(ids), seed=5, batch_size=4, chunk_rows=10, progress=False)
    summary = simulate(space, trained.checkpoint, LocalEngine(model, tokenizer, spm, batch_size=4), config,
                       db_url=fresh_db)
    assert summary["rows"] == 27 and summary["alignment"] is None  # no cohort personas: nothing to align
    rows = read_rows(fresh_db, summary["simulation_run"])
    assert rows["persona_kind"] == ["respondent"] * 27
    assert rows["persona_key"][:9] == choose_personas(space, "9", seed=5).keys
    assert sorted(set(rows["question_key"])) == sorted(ids)
