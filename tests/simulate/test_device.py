"""The device path: the steering model scores on whatever device the LLM is on, in bfloat16.

Marked ``gpu``: on a CUDA machine (``bench/gpu_check.sh``) these run on the GPU; elsewhere they
run the same code on the CPU, where bfloat16 is emulated, so CI checks every line but the
device itself. Each compares the bfloat16 scores with the float32 ones of the same rows.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from persona_core.llm.config import LLMConfig
from persona_core.simulate.local import LocalEngine
from persona_core.simulate.rows import choose_personas, choose_questions
from persona_core.simulate.scorer import Scorer
from persona_core.steer.checkpoint import load_checkpoint
from persona_core.steer.engine import model_geometry


@pytest.fixture(scope="module")
def bf16(trained):
    """The base model on the resolved device (CUDA when there is one) in bfloat16, with the SPM."""
    from persona_core.llm.loading import load_model

    config = LLMConfig(device="auto", dtype="bfloat16")
    model, tokenizer = load_model(config)
    spm, _ = load_checkpoint(trained.checkpoint, run_key=trained.space.run_key, geometry=model_geometry(model),
                             base_model=model)
    return config, model, tokenizer, spm


def _rows(space, n_questions: int = 4):
    personas = choose_personas(space, "cohorts")
    bank = choose_questions(space.survey, [q.id for q in space.survey.questions[:n_questions]])
    P, Q = len(personas), len(bank)
    positions = np.arange(P * Q)
    return personas, bank, personas.vectors[positions % P], positions // P


@pytest.mark.gpu
@pytest.mark.slow
def test_steering_model_lives_on_the_models_device_and_dtype(bf16):
    config, model, _, spm = bf16
    device = config.resolved_device()
    assert next(model.parameters()).dtype == torch.bfloat16
    assert {p.device.type for p in spm.parameters()} == {device.type}
    adapted = spm.steered_lm
    assert adapted is not None and adapted is not model
    assert {p.device.type for p in adapted.parameters()} == {device.type}
    assert next(adapted.parameters()).dtype == torch.bfloat16


@pytest.mark.gpu
@pytest.mark.slow
def test_bf16_scores_match_float32_scores(trained, loaded, bf16):
    """Steered and unsteered distributions in bfloat16 are the float32 ones, to bfloat16's precision:
    the same most likely option for nearly every row, probabilities within a few points."""
    _, model, tokenizer, spm = bf16
    personas, bank, vectors, questions = _rows(trained.space)
    half = Scorer(model, tokenizer, spm, bank).probabilities(vectors, questions)
    full = Scorer(*loaded, bank).probabilities(vectors, questions)
    for side, (got, want) in zip(("steered", "unsteered"), zip(half, full)):
        assert len(got) == len(want) == len(questions)
        for g in got:
            assert np.isfinite(g).all() and abs(float(g.sum()) - 1) < 1e-3
        gap = np.mean([np.abs(g - w).max() for g, w in zip(got, want)])
        agree = np.mean([int(np.argmax(g) == np.argmax(w)) for g, w in zip(got, want)])
        assert gap < 0.05, f"{side}: mean largest probability gap {gap:.3f} between bfloat16 and float32"
        assert agree >= 0.8, f"{side}: bfloat16 and float32 pick the same option for only {agree:.0%} of rows"
    # the persona still moves the answers in bfloat16
    steered, unsteered = half
    assert max(float(np.abs(s - u).max()) for s, u in zip(steered, unsteered)) > 1e-2


@pytest.mark.gpu
@pytest.mark.slow
def test_local_engine_runs_a_simulation_in_bf16(trained, bf16, fresh_db):
    from persona_core.simulate.config import SimulateConfig
    from persona_core.simulate.run import simulate
    from persona_core.simulate.store import read_rows

    _, model, tokenizer, spm = bf16
    config = SimulateConfig(personas="cohorts", questions=tuple(q.id for q in trained.space.survey.questions[:3]),
                            chunk_rows=8, min_cohort_answers=3, progress=False)
    summary = simulate(trained.space, trained.checkpoint, LocalEngine(model, tokenizer, spm), config, db_url=fresh_db)
    assert summary["rows_scored"] == summary["rows"] > 0
    rows = read_rows(fresh_db, summary["simulation_run"])
    assert len(rows["steered"]) == summary["rows"]
    assert all(abs(float(np.sum(s)) - 1) < 1e-3 for s in rows["steered"])
