"""Simulation runs in the database, from the library's side: plain values go to :mod:`db.simulation`,
one transaction per call (a chunk's rows and its marker are stored together or not at all)."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from db.session import session_scope
from db.simulation import finish_simulation, finished_chunks, load_rows, open_simulation, save_chunk
from persona_core.simulate.rows import QuestionBank, RowPlan
from persona_core.simulate.work import ChunkScores, Workload


def jsonable(obj: Any) -> Any:
    """``obj`` as JSON-ready Python: numpy scalars and arrays converted, non-finite floats ``None``."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def open_run(db_url: str | None, *, key: str, run_id: int | None, space_run_key: str, model_name: str,
             checkpoint: str, settings: dict[str, Any], bank: QuestionBank, plan: RowPlan) -> tuple[int, bool, set[int]]:
    """``(simulation id, created, finished chunks)`` of the run with ``key`` (created if new)."""
    with session_scope(db_url, write_lock=True) as session:
        info, created = open_simulation(
            session, key=key, run_id=run_id, space_run_key=space_run_key, model_name=model_name, checkpoint=checkpoint,
            settings=jsonable(settings), questions=bank.to_records(), n_rows=plan.n_rows, n_chunks=len(plan.chunks),
        )
        done = finished_chunks(session, info.id)
    return info.id, created, done


def write_chunk(db_url: str | None, simulation_id: int, work: Workload, scores: ChunkScores, engine: str) -> int:
    """Store one scored chunk with its marker, in one transaction. Returns the rows written."""
    positions = np.asarray(scores.positions, np.int64)
    persona = work.plan.persona_of(positions)
    question = work.plan.question_of(positions)
    rows = {
        "position": positions.tolist(),
        "persona_kind": [work.personas.kinds[p] for p in persona],
        "persona_key": [work.personas.keys[p] for p in persona],
        "question_key": [work.bank.questions[q].id for q in question],
        "steered": [np.asarray(v, np.float32).tolist() for v in scores.steered],
        "unsteered": [np.asarray(v, np.float32).tolist() for v in scores.unsteered],
    }
    with session_scope(db_url, write_lock=True) as session:
        return save_chunk(session, simulation_id, scores.chunk, rows, engine=engine, seconds=scores.seconds)


def read_rows(db_url: str | None, simulation_id: int, persona_kinds: Sequence[str] | None = None) -> dict[str, list]:
    """The run's stored rows, column-wise, in position order."""
    with session_scope(db_url) as session:
        return load_rows(session, simulation_id, persona_kinds)


def finish_run(db_url: str | None, simulation_id: int, summary: dict[str, Any]) -> None:
    with session_scope(db_url, write_lock=True) as session:
        finish_simulation(session, simulation_id, jsonable(summary))
