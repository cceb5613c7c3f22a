"""Choosing personas and questions, and planning batches and chunks (no LLM)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from persona_core.data.errors import DataError
from persona_core.simulate.config import SimulateConfig
from persona_core.simulate.rows import NEW, choose_personas, choose_questions, load_question_file, plan_rows
from tests.synthetic import planted_survey


@pytest.fixture(scope="module")
def space():
    survey, groups = planted_survey(n_respondents=30, n_questions=6, seed=1)
    emb = np.random.default_rng(0).normal(size=(30, 3)).astype(np.float32)
    centroids = {g: emb[groups == g].mean(0) for g in np.unique(groups)}
    return SimpleNamespace(survey=survey, embeddings=emb, cohort_centroids=centroids, likely_cohorts=groups)


@pytest.mark.parametrize("n_personas,n_questions,batch_rows,chunk_rows", [(7, 3, 3, 8), (10, 4, 4, 1), (5, 6, 64, 12),
                                                                          (1, 1, 1, 1), (64, 2, 16, 1024)])
def test_plan_covers_every_row_once_in_question_batches(n_personas, n_questions, batch_rows, chunk_rows):
    plan = plan_rows(n_personas, n_questions, batch_rows, chunk_rows)
    batches = [b for c in plan.chunks for b in c.batches]
    covered = np.concatenate([np.arange(b.start, b.stop) for b in batches])
    assert np.array_equal(covered, np.arange(n_personas * n_questions))
    for b in batches:
        assert 1 <= len(b) <= batch_rows
        assert set(plan.question_of(np.arange(b.start, b.stop)).tolist()) == {b.question}
        assert len(set(plan.batch_of(np.arange(b.start, b.stop)).tolist())) == 1
    assert len({int(plan.batch_of(np.array([b.start]))[0]) for b in batches}) == len(batches)
    for c in plan.chunks:
        assert len(c) <= max(chunk_rows, max(len(b) for b in c.batches))
    assert [c.index for c in plan.chunks] == list(range(len(plan.chunks)))


def test_chunks_take_whole_batches_up_to_the_size():
    plan = plan_rows(10, 3, 4, 8)  # batches 4,4,2 per question
    assert [len(c) for c in plan.chunks] == [8, 6, 6, 8, 2]
    assert [[len(b) for b in c.batches] for c in plan.chunks][:2] == [[4, 4], [2, 4]]


def test_cohort_personas_are_centroids_plus_the_population(space):
    ps = choose_personas(space, "cohorts")
    labels = sorted(space.cohort_centroids)
    assert ps.kinds == ["cohort"] * len(labels) + ["population"]
    assert ps.keys == [str(c) for c in labels] + ["all"]
    assert np.allclose(ps.vectors[0], space.cohort_centroids[labels[0]])
    assert np.allclose(ps.vectors[-1], space.embeddings.mean(0))
    assert ps.cohort.tolist() == labels + [-1]
    assert len(choose_personas(space, "cohorts", population=False)) == len(labels)


def test_respondent_sample_is_seeded_and_in_survey_order(space):
    a, b = choose_personas(space, "7", seed=3), choose_personas(space, "7", seed=3)
    assert a.keys == b.keys and len(a) == 7 and a.kinds == ["respondent"] * 7
    idx = [space.survey.respondent_index(k) for k in a.keys]
    assert idx == sorted(idx) and np.array_equal(a.vectors, space.embeddings[idx])
    assert choose_personas(space, "7", seed=4).keys != a.keys
    assert len(choose_personas(space, "respondents")) == 30
    with pytest.raises(DataError, match="only 30 respondents"):
        choose_personas(space, "31")


def test_questions_all_or_ids(space):
    survey = space.survey
    bank = choose_questions(survey, ["all"])
    assert [q.id for q in bank.questions] == [q.id for q in survey.questions] and bank.source == "survey"
    bank = choose_questions(survey, ["q3", "q1", "q3"])
    assert [q.id for q in bank.questions] == ["q3", "q1"] and bank.survey_index.tolist() == [3, 1]
    with pytest.raises(DataError, match="unknown question id 'nope'"):
        choose_questions(survey, ["q1", "nope"])
    with pytest.raises(DataError, match="cannot be combined"):
        choose_questions(survey, ["all", "q1"])


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_new_questions_from_a_file(space, tmp_path):
    f = _write(tmp_path / "new.csv", 'question_id,text,options,ordinal\nn1,Do you garden?,Yes|No,false\n'
                                      'n2,How often?,"[""never"", ""sometimes"", ""often""]",\n')
    bank = choose_questions(space.survey, [str(f)])
    assert [q.id for q in bank.questions] == ["n1", "n2"] and bank.source == str(f)
    assert bank.questions[1].options == ("never", "sometimes", "often") and bank.questions[1].ordinal
    assert not bank.questions[0].ordinal and (bank.survey_index == NEW).all()
    records = bank.to_records()
    assert records[0] == {"id": "n1", "text": "Do you garden?", "options": ["Yes", "No"], "ordinal": False, "survey": False}


@pytest.mark.parametrize("body,row,column,problem", [
    ("question_id,text,options\nn1,Text,Yes|No\nn1,Again,Yes|No\n", 3, "question_id", "duplicate question id"),
    ("question_id,text,options\nn1,Text,Yes\n", 2, "options", "at least 2 options"),
    ("question_id,text,options\nn1,Text,[oops\n", 2, "options", "cannot read options"),
    ("question_id,text,options\nq2,Text,Yes|No\n", 2, "question_id", "already a question of survey"),
    ("question_id,text,options\nn1,Text," + "|".join(f"o{i}" for i in range(27)) + "\n", 2, "options", "27 options"),
    ("question_id,text\nn1,Text\n", 1, "options", "missing column"),
])
def test_a_bad_questions_file_names_file_row_and_column(space, tmp_path, body, row, column, problem):
    f = _write(tmp_path / "bad.csv", body)
    with pytest.raises(DataError) as info:
        load_question_file(f, space.survey)
    err = info.value
    assert err.file == str(f) and err.row == row and err.column == column and problem in err.problem


def test_a_missing_questions_file_is_an_error(space, tmp_path):
    with pytest.raises(DataError, match="file not found"):
        choose_questions(space.survey, [str(tmp_path / "missing.csv")])


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="personas"):
        SimulateConfig(personas="some")
    with pytest.raises(ValueError, match="chunk_rows"):
        SimulateConfig(chunk_rows=0)
    assert SimulateConfig(personas="12").n_sampled == 12
    assert "progress" not in SimulateConfig().key_settings()
