import numpy as np
import pytest

from persona_core.embed.factorization import CategoricalFactorization, FactorizationConfig, majority_baseline
from persona_core.embed.split import heldout_split
from tests.synthetic import planted_survey

CONFIG = FactorizationConfig(
    n_factors=4, epochs=30, batch_size=64, learning_rate=0.05, respondent_l2=3.0, option_l2=3.0, progress=False
)


@pytest.fixture(scope="module")
def planted():
    survey, groups = planted_survey()
    mask = heldout_split(survey, 0.2, seed=0)
    train, test = survey.answers.take(~mask), survey.answers.take(mask)
    model = CategoricalFactorization(CONFIG).fit(survey, train)
    return survey, groups, train, test, model


def test_beats_majority_on_planted_structure(planted):
    survey, _, train, test, model = planted
    majority = majority_baseline(survey, train, test)
    heldout = model.score(test)
    assert heldout["accuracy"] > majority["accuracy"] + 0.15
    assert heldout["log_loss"] < majority["log_loss"]


def test_probabilities_are_distributions_over_each_questions_options(planted):
    survey, _, _, test, model = planted
    proba = model.predict_proba(test.respondent, test.question)
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    n_opt = survey.n_options_per_question[test.question]
    beyond = np.arange(proba.shape[1])[None, :] >= n_opt[:, None]
    assert np.all(proba[beyond] == 0)


def test_embeddings_separate_planted_groups(planted):
    _, groups, _, _, model = planted
    U = model.respondent_factors_
    centroids = np.stack([U[groups == g].mean(axis=0) for g in range(3)])
    nearest = np.argmin(((U[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (nearest == groups).mean() > 0.9


def test_fold_in_lands_near_full_fit(planted):
    survey, _, train, _, model = planted
    U = model.respondent_factors_
    picks = [0, 7, 42, 100]
    batch = []
    for i in picks:
        m = train.respondent == i
        batch.append((train.question[m], train.option[m]))
    folded = model.fold_in(batch)
    for row, i in zip(folded, picks):
        dist = np.linalg.norm(U - row, axis=1)
        # the fold-in vector is closer to its own full-fit vector than to 95 % of the others
        assert dist[i] <= np.quantile(dist, 0.05)
        assert dist[i] < 0.5 * np.median(dist)


def test_fold_in_from_answers_object_matches_list_form(planted):
    _, _, train, _, model = planted
    m = train.respondent == 5
    from persona_core.data.survey import Answers

    a = Answers(np.zeros(m.sum(), int), train.question[m], train.option[m])
    assert np.allclose(model.fold_in(a), model.fold_in([(train.question[m], train.option[m])]), atol=1e-5)


def test_state_round_trip(planted):
    _, _, _, test, model = planted
    config, arrays = model.get_state()
    again = CategoricalFactorization.from_state(config, arrays)
    assert np.allclose(again.predict_proba(test.respondent, test.question), model.predict_proba(test.respondent, test.question))


def test_unfitted_model_says_so():
    with pytest.raises(RuntimeError, match="not fitted"):
        CategoricalFactorization().predict_proba(np.array([0]), np.array([0]))


def test_question_factors_align_questions_that_split_people_the_same_way():
    survey, groups = planted_survey(n_groups=2, n_questions=20, seed=4)
    model = CategoricalFactorization(CONFIG).fit(survey)
    Q = model.question_factors_
    assert Q.shape == (20, 4)
    assert np.all(np.linalg.norm(Q, axis=1) > 0)


def test_sparse_respondent_optimizer_learns_the_same_structure(planted):
    # above sparse_above respondents the vectors are fitted with SparseAdam (O(respondents) per
    # epoch): forced here on the planted survey, it must learn what the dense fit learns
    from dataclasses import replace

    survey, groups, train, test, dense = planted
    config = replace(CONFIG, respondent_optimizer="sparse_adam")
    assert config.sparse_for(10) and not CONFIG.sparse_for(survey.n_respondents)
    assert FactorizationConfig(sparse_above=100).sparse_for(101) and not FactorizationConfig(sparse_above=100).sparse_for(100)
    sparse = CategoricalFactorization(config).fit(survey, train)
    majority = majority_baseline(survey, train, test)
    assert sparse.score(test)["accuracy"] > majority["accuracy"] + 0.15
    assert abs(sparse.score(test)["accuracy"] - dense.score(test)["accuracy"]) < 0.05
    U = sparse.respondent_factors_
    centroids = np.stack([U[groups == g].mean(axis=0) for g in range(3)])
    assert (np.argmin(((U[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1) == groups).mean() > 0.9
    with pytest.raises(ValueError, match="respondent_optimizer"):
        FactorizationConfig(respondent_optimizer="sgd")
