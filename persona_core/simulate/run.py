"""One simulation run, whatever the engine: choose rows, open or resume the run, score the
unfinished chunks, store each as it comes, then compare cohorts with their real answers.

A run is identified by its key (:func:`persona_core.simulate.key.simulation_key`): started
again with the same inputs, it skips the chunks already stored and scores only the rest.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from persona_core.progress import tqdm

from persona_core.simulate import store
from persona_core.simulate.align import cohort_alignment
from persona_core.simulate.config import SimulateConfig
from persona_core.simulate.key import checkpoint_digest, simulation_key
from persona_core.simulate.rows import NEW, choose_personas, choose_questions, plan_rows
from persona_core.simulate.work import Engine, Workload
from persona_core.steer.checkpoint import read_record
from persona_core.steer.config import SteerConfig
from persona_core.steer.scoring import spm_batch_rows

ChunkCallback = Callable[[int, int, float], None]  # (chunk index, rows, time.perf_counter())


def plan_workload(space, checkpoint: str | Path, config: SimulateConfig) -> Workload:
    """The rows of a run on ``space`` with the SPM at ``checkpoint`` (its mode sets the batch size)."""
    personas = choose_personas(space, config.personas, config.seed, config.population)
    bank = choose_questions(space.survey, config.questions)
    mode = SteerConfig.from_dict(read_record(checkpoint)["config"]).spm.mode
    plan = plan_rows(len(personas), len(bank), spm_batch_rows(mode, config.batch_size), config.chunk_rows)
    return Workload(plan, personas, bank)


def simulate(
    space,
    checkpoint: str | Path,
    engine: Engine,
    config: SimulateConfig | None = None,
    *,
    db_url: str | None = None,
    run_id: int | None = None,
    model: str | None = None,
    on_chunk: ChunkCallback | None = None,
    extra_seconds: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Score every row of the run not stored yet with ``engine`` and store it; returns the summary
    (also stored with the run). ``run_id``: the embedding run of ``space`` in the database (or
    ``None``); ``model``: the LLM's name as configured (part of the key); ``extra_seconds``:
    stages timed by the caller (e.g. loading the model), reported beside this run's own."""
    config = config or SimulateConfig()
    t0 = time.perf_counter()
    checkpoint = str(Path(checkpoint))
    work = plan_workload(space, checkpoint, config)
    plan = work.plan
    key = simulation_key(space.run_key, checkpoint_digest(checkpoint), work.personas, work.bank, plan,
                         config.key_settings(), model)
    settings = {"personas": config.personas, "questions": list(config.questions), **config.key_settings()}
    sim_id, created, done = store.open_run(db_url, key=key, run_id=run_id, space_run_key=space.run_key,
                                           model_name=model or "default", checkpoint=checkpoint, settings=settings,
                                           bank=work.bank, plan=plan)
    pending = [c for c in plan.chunks if c.index not in done]
    seconds = {"plan": time.perf_counter() - t0, "score": 0.0, "store": 0.0}
    bar = tqdm(total=plan.n_rows, initial=plan.n_rows - sum(len(c) for c in pending), desc=f"simulate ({engine.name})",
               unit="row", file=sys.stderr, disable=not config.progress)  # rows scored; stored chunks in the postfix
    stored = len(plan.chunks) - len(pending)
    scored = 0
    t_loop = time.perf_counter()
    stream = engine.run(work, pending, bar.update)
    try:
        for scores in stream:
            t = time.perf_counter()
            n = store.write_chunk(db_url, sim_id, work, scores, engine.name)
            seconds["store"] += time.perf_counter() - t
            scored += n
            stored += 1
            bar.set_postfix_str(f"{stored}/{len(plan.chunks)} chunks stored", refresh=False)
            if on_chunk is not None:
                on_chunk(scores.chunk, n, time.perf_counter())
    finally:
        bar.close()
        close = getattr(stream, "close", None)
        if close is not None:  # a failed write stops the engine now (the Ray engine stops its cluster)
            close()
    seconds["score"] = time.perf_counter() - t_loop - seconds["store"]
    t = time.perf_counter()
    align = _alignment(db_url, sim_id, space, work, config)
    seconds["align"] = time.perf_counter() - t
    total = time.perf_counter() - t0
    loop = seconds["score"] + seconds["store"]
    summary: dict[str, Any] = {
        "simulation_run": sim_id,
        "key": key,
        "engine": engine.name,
        "workers": engine.workers,
        "dataset": space.survey.name,
        "run_key": space.run_key,
        "checkpoint": checkpoint,
        "personas": {"spec": config.personas, "n": len(work.personas),
                     "kinds": {k: work.personas.kinds.count(k) for k in dict.fromkeys(work.personas.kinds)}},
        "questions": {"n": len(work.bank), "source": work.bank.source,
                      "new": int((work.bank.survey_index == NEW).sum())},
        "rows": plan.n_rows,
        "rows_scored": scored,
        "chunks": len(plan.chunks),
        "chunks_skipped": len(plan.chunks) - len(pending),
        "resumed": not created,
        "seconds": round(total, 3),
        "rows_per_second": round(scored / loop, 2) if scored and loop > 0 else None,
        "seconds_by_stage": {k: round(v, 3) for k, v in {**(extra_seconds or {}), **seconds}.items()},
        "engine_startup_seconds": _round(getattr(engine, "startup_seconds", None)),
        "load_average": list(os.getloadavg()),
        "alignment": align,
    }
    store.finish_run(db_url, sim_id, summary)
    return summary


def _alignment(db_url: str | None, sim_id: int, space, work: Workload, config: SimulateConfig) -> dict[str, Any] | None:
    """Cohort alignment from the stored rows (so a resumed run counts every chunk)."""
    if "cohort" not in work.personas.kinds or not (work.bank.survey_index != NEW).any():
        return None
    rows = store.read_rows(db_url, sim_id, ("cohort", "population"))
    return cohort_alignment(rows, space.survey, np.asarray(space.likely_cohorts), config.min_cohort_answers)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)
