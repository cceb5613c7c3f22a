"""The whole evaluation on a tiny planted survey: every method, the JSON shape, the unseen test."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from persona_core.embed.factorization import CategoricalFactorization, FactorizationConfig
from persona_core.embed.split import heldout_split
from persona_core.evaluate.run import METHODS, EvalConfig, Evaluator
from persona_core.steer.config import SPMConfig, SteerConfig, TrainConfig
from persona_core.steer.train import SPMTrainer
from tests.steer.conftest import planted_steer_survey


@pytest.mark.slow
def test_evaluation_scores_every_method_on_the_same_rows():
    from persona_core.llm.loading import load_model

    model, tok = load_model()
    survey, _, groups = planted_steer_survey(n_respondents=60, seed=1)
    mask = heldout_split(survey, 0.34, seed=0)
    fac = CategoricalFactorization(FactorizationConfig(n_factors=2, epochs=60, batch_size=64, respondent_l2=0.1, option_l2=0.1,
                                                      progress=False))
    fac.fit(survey, survey.answers.take(~mask))
    space = SimpleNamespace(
        survey=survey, heldout_mask=mask, factorization=fac, embeddings=fac.respondent_factors_,
        likely_cohorts=groups, cohort_centroids={g: fac.respondent_factors_[groups == g].mean(0) for g in (0, 1)},
        train_answers=survey.answers.take(~mask), run_key="planted",
    )
    cfg = SteerConfig(
        spm=SPMConfig(mode="suffix_kv", n_tokens=1, hidden=(16,)),
        train=TrainConfig(lr=3e-2, weight_decay=0.0, epochs=1, steps_per_epoch=20, batch_size=16,
                          max_respondents=None, max_questions=4, min_question_answers=1, unseen_fraction=0.2,
                          eval_every=0, eval_respondents=10, eval_questions=None, progress=False),
    )
    trainer = SPMTrainer(model, tok, cfg)
    trained = trainer.fit(survey, space.embeddings, mask, "planted")
    record = {"run_key": "planted", "step": trained.steps, "split": trained.split.to_record(survey)}
    ev = EvalConfig(respondents=20, questions=3, shared_prompt_steps=2, unseen_ks=(1, 5), unseen_respondents=12,
                    unseen_answers_per_respondent=6, min_cohort_answers=3, progress=False)
    result = Evaluator(model, tok, space, trained.spm, record, ev).run()

    assert set(result["methods"]) == set(METHODS)
    assert {"accuracy", "loglik", "pooled_accuracy"} <= set(result["methods"]["cf"])
    assert 10 <= result["n_respondents"] <= 20 and result["n_heldout"] >= result["n_respondents"]
    m = {k: v["accuracy"] for k, v in result["methods"].items()}
    # The planted answer is the respondent's group: the SPM and CF know it, the unsteered model cannot.
    assert m["spm_individual"] >= 0.9 and m["cf"] >= 0.9
    assert m["spm_cohort"] >= 0.9  # cohorts are the groups here
    assert m["spm_individual"] > m["unsteered"] + 0.2
    assert m["spm_individual"] > m["majority"] + 0.2  # the groups are about even: the majority is ~chance
    assert m["spm_population"] < m["spm_individual"] - 0.2  # without the persona the SPM cannot know the group
    for v in result["methods"].values():
        low, high = v["accuracy_ci95"]
        assert low <= v["accuracy"] <= high and high - low < 0.6
    assert result["spm_relative_improvement"] == pytest.approx(
        m["spm_individual"] / max(m[k] for k in ("unsteered", "demographic", "history", "shared_prompt")) - 1)
    align = result["cohort_alignment"]
    assert align["spm_cohort"] > align["unsteered"] and align["pairs"]["n_pairs"] > 0
    assert set(align["per_cohort"]) == {"0", "1"} and align["spm_cohort_better_share"] == 1.0
    assert all(e["n_answers"] >= 3 for e in align["per_cohort"].values())
    # the all-cohorts figure is the answer-weighted mean of the cohorts' figures it counts
    per = align["per_cohort"].values()
    assert align["n_answers"] == sum(e["n_answers"] for e in per) == result["n_heldout"]
    assert align["spm_cohort"] == pytest.approx(
        sum(e["spm_cohort"] * e["n_answers"] for e in per) / align["n_answers"])
    # two questions the SPM never trained on, personas folded in from the other questions
    new = result["new_questions"]
    assert new["n_questions"] == 2 and not set(new["questions"]) & set(record["split"]["questions"])
    assert new["methods"]["spm_individual"]["accuracy"] > new["methods"]["unsteered"]["accuracy"] + 0.2
    assert new["cohort_question_pairs"] == 4 and new["steered_closer_share"] >= 0.75
    assert set(result["unseen"]) == {"1", "5"}
    assert result["unseen"]["5"]["cf"] >= 0.9 and result["unseen"]["5"]["spm_individual"] >= 0.8
    # the unseen respondents were never trained on
    unseen = set(record["split"]["unseen_respondents"])
    assert unseen and not unseen & set(record["split"]["train_respondents"])
