"""The refit the unseen-respondent and new-question tests score against."""
from __future__ import annotations

import numpy as np

from persona_core.data.survey import Answers
from persona_core.embed.factorization import CategoricalFactorization, FactorizationConfig
from persona_core.embed.split import heldout_split
from persona_core.evaluate.refit import ExcludingFit
from tests.synthetic import planted_survey

CONFIG = FactorizationConfig(n_factors=4, epochs=30, batch_size=64, progress=False)


def _fixture():
    survey, groups = planted_survey(n_respondents=240, n_questions=30, n_groups=3, seed=3)
    mask = heldout_split(survey, 0.2, seed=0)
    base = CategoricalFactorization(CONFIG).fit(survey, survey.answers.take(~mask))
    excluded = np.arange(0, 240, 5)  # 48 respondents the test calls unseen
    kept = np.setdiff1d(np.arange(240), excluded)
    return survey, groups, mask, base, excluded, kept


def test_refit_does_not_depend_on_the_excluded_answers():
    survey, _, mask, base, excluded, kept = _fixture()
    a = survey.answers
    train = ~mask & ~np.isin(a.respondent, excluded)
    first = ExcludingFit(base).fit(survey, a.take(train), kept)
    # change every answer of the excluded respondents: the refit must not move at all
    option = a.option.copy()
    hit = np.isin(a.respondent, excluded)
    n_opt = survey.n_options_per_question[a.question[hit]]
    option[hit] = (option[hit] + 1) % n_opt
    changed = Answers(a.respondent, a.question, option)
    second = ExcludingFit(base).fit(survey, changed.take(train), kept)
    np.testing.assert_array_equal(first.factorization_.option_factors_, second.factorization_.option_factors_)
    np.testing.assert_array_equal(first.map_, second.map_)


def test_folded_vectors_land_in_the_base_space():
    survey, groups, mask, base, excluded, kept = _fixture()
    a = survey.answers
    refit = ExcludingFit(base).fit(survey, a.take(~mask & ~np.isin(a.respondent, excluded)), kept)
    assert refit.map_r2_ > 0.8
    fold = [(a.question[~mask & (a.respondent == p)], a.option[~mask & (a.respondent == p)]) for p in excluded]
    refit_vecs, mapped = refit.fold_in(fold)
    assert mapped.shape == (excluded.size, CONFIG.n_factors) and mapped.dtype == np.float32
    # in the base space, an excluded respondent lands nearest their own group's centroid
    centroids = np.stack([base.respondent_factors_[kept][groups[kept] == g].mean(0) for g in range(3)])
    nearest = np.argmin(((mapped[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (nearest == groups[excluded]).mean() >= 0.9
    # the base model predicts their held-out answers from the mapped vectors about as well as the
    # refit does from its own vectors (the map loses little)
    held = np.flatnonzero(mask & np.isin(a.respondent, excluded))
    local = np.searchsorted(excluded, a.respondent[held])
    base_acc = (base.predict(local, a.question[held], factors=mapped) == a.option[held]).mean()
    refit_acc = (refit.factorization_.predict(local, a.question[held], factors=refit_vecs) == a.option[held]).mean()
    assert base_acc >= refit_acc - 0.05
    assert refit_acc > 0.6  # the planted groups are learnable (chance is ~0.3)
