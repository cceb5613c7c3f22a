"""Simulation runs: open (or find) a run by its key, write its chunks, read its rows back.

Every function works in the caller's session (one transaction per :func:`db.session.session_scope`).
:func:`save_chunk` inserts a chunk's rows and its ``simulation_chunk`` marker together, so in
the caller's transaction a chunk is stored whole or not at all; :func:`finished_chunks` is what
a resumed run skips. Inputs are plain Python values (ints, strings, lists, dicts; distributions
as sequences of floats), stored as little-endian float32 bytes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.bulk import bulk_insert
from db.models import EmbeddingRun, SimulationChunk, SimulationRow, SimulationRun, utcnow

ROW_COLUMNS = ("position", "persona_kind", "persona_key", "question_key", "steered", "unsteered")
_F32 = np.dtype("<f4")


class SimulationError(ValueError):
    """A simulation run cannot be opened or written as asked."""


@dataclass(frozen=True)
class SimulationInfo:
    """One simulation run as stored (no rows)."""

    id: int
    key: str
    run_id: int | None
    space_run_key: str
    model_name: str
    checkpoint: str
    settings: dict[str, Any]
    questions: list[Any]
    n_rows: int
    n_chunks: int
    status: str
    summary: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None


def _info(run: SimulationRun) -> SimulationInfo:
    return SimulationInfo(
        id=int(run.id), key=run.key, run_id=run.run_id, space_run_key=run.space_run_key, model_name=run.model_name,
        checkpoint=run.checkpoint, settings=dict(run.settings or {}), questions=list(run.questions or []),
        n_rows=int(run.n_rows), n_chunks=int(run.n_chunks), status=run.status, summary=dict(run.summary or {}),
        created_at=run.created_at, finished_at=run.finished_at,
    )


def encode_distribution(values: Sequence[float]) -> bytes:
    """Option probabilities as little-endian float32 bytes."""
    return np.asarray(values, dtype=_F32).tobytes()


def decode_distribution(data: bytes) -> np.ndarray:
    """The inverse of :func:`encode_distribution` (a float32 array)."""
    return np.frombuffer(data, dtype=_F32).copy()


def open_simulation(
    session: Session,
    *,
    key: str,
    run_id: int | None,
    space_run_key: str,
    model_name: str,
    checkpoint: str,
    settings: dict[str, Any],
    questions: list[Any],
    n_rows: int,
    n_chunks: int,
) -> tuple[SimulationInfo, bool]:
    """The simulation run with ``key``, created if there is none: ``(info, created)``.

    A stored run with the same key must have the same shape (``n_rows``, ``n_chunks``): the key
    covers every input, so a mismatch means a corrupted or hand-edited row."""
    existing = session.scalars(select(SimulationRun).where(SimulationRun.key == key)).one_or_none()
    if existing is not None:
        if (existing.n_rows, existing.n_chunks) != (int(n_rows), int(n_chunks)):
            raise SimulationError(
                f"simulation run {existing.id} (key {key}) has {existing.n_rows} rows in {existing.n_chunks} chunks, "
                f"this run plans {n_rows} rows in {n_chunks} chunks; delete it to start over")
        return _info(existing), False
    if run_id is not None and session.get(EmbeddingRun, run_id) is None:
        raise SimulationError(f"no embedding run with id {run_id}")
    run = SimulationRun(
        key=key, run_id=run_id, space_run_key=str(space_run_key), model_name=str(model_name),
        checkpoint=str(checkpoint), settings=settings, questions=questions, n_rows=int(n_rows),
        n_chunks=int(n_chunks), status="running", summary={},
    )
    session.add(run)
    session.flush()
    return _info(run), True


def finished_chunks(session: Session, simulation_id: int) -> set[int]:
    """Chunks of the run already stored (with all their rows)."""
    stmt = select(SimulationChunk.chunk).where(SimulationChunk.simulation_id == simulation_id)
    return {int(c) for c in session.scalars(stmt)}


def save_chunk(
    session: Session,
    simulation_id: int,
    chunk: int,
    rows: Mapping[str, Sequence],
    *,
    engine: str,
    seconds: float,
) -> int:
    """Insert one chunk's rows (columns :data:`ROW_COLUMNS`, ``steered`` / ``unsteered`` as
    sequences of floats) and mark the chunk finished, in the session's transaction. Returns
    the number of rows. A chunk stored before raises (its marker's primary key)."""
    missing = [c for c in ROW_COLUMNS if c not in rows]
    if missing:
        raise SimulationError(f"chunk {chunk}: missing row columns {missing}")
    n = len(rows["position"])
    if n == 0:
        raise SimulationError(f"chunk {chunk} has no rows")
    columns: dict[str, Sequence] = {
        "simulation_id": [int(simulation_id)] * n,
        "chunk": [int(chunk)] * n,
        "position": [int(p) for p in rows["position"]],
        "persona_kind": [str(v) for v in rows["persona_kind"]],
        "persona_key": [str(v) for v in rows["persona_key"]],
        "question_key": [str(v) for v in rows["question_key"]],
        "steered": [encode_distribution(v) for v in rows["steered"]],
        "unsteered": [encode_distribution(v) for v in rows["unsteered"]],
    }
    session.add(SimulationChunk(simulation_id=int(simulation_id), chunk=int(chunk), n_rows=n, engine=str(engine),
                                seconds=float(seconds)))
    session.flush()  # the marker first: a chunk written twice fails here, before its rows
    bulk_insert(session, SimulationRow.__table__, columns)
    return n


def finish_simulation(session: Session, simulation_id: int, summary: dict[str, Any]) -> None:
    """Mark the run done with its ``summary`` (JSON-ready). Every chunk must be stored."""
    run = session.get(SimulationRun, simulation_id)
    if run is None:
        raise SimulationError(f"no simulation run with id {simulation_id}")
    done = len(finished_chunks(session, simulation_id))
    if done != run.n_chunks:
        raise SimulationError(f"simulation run {simulation_id} has {done} of {run.n_chunks} chunks stored")
    run.status, run.summary, run.finished_at = "done", summary, utcnow()
    session.flush()


def get_simulation(session: Session, simulation_id: int) -> SimulationInfo | None:
    run = session.get(SimulationRun, simulation_id)
    return None if run is None else _info(run)


def list_simulations(session: Session, run_id: int | None = None) -> list[SimulationInfo]:
    """Simulation runs (of one embedding run, or all), newest first."""
    stmt = select(SimulationRun).order_by(SimulationRun.created_at.desc(), SimulationRun.id.desc())
    if run_id is not None:
        stmt = stmt.where(SimulationRun.run_id == run_id)
    return [_info(r) for r in session.scalars(stmt)]


def load_rows(session: Session, simulation_id: int, persona_kinds: Sequence[str] | None = None) -> dict[str, list]:
    """The run's stored rows in position order, column-wise (:data:`ROW_COLUMNS` plus ``chunk``;
    distributions as float32 arrays); optionally only some persona kinds."""
    t = SimulationRow.__table__
    stmt = select(t.c.position, t.c.chunk, t.c.persona_kind, t.c.persona_key, t.c.question_key, t.c.steered,
                  t.c.unsteered).where(t.c.simulation_id == simulation_id).order_by(t.c.position)
    if persona_kinds is not None:
        stmt = stmt.where(t.c.persona_kind.in_(list(persona_kinds)))
    out: dict[str, list] = {c: [] for c in ("position", "chunk", *ROW_COLUMNS[1:])}
    for row in session.execute(stmt):
        out["position"].append(int(row.position))
        out["chunk"].append(int(row.chunk))
        out["persona_kind"].append(row.persona_kind)
        out["persona_key"].append(row.persona_key)
        out["question_key"].append(row.question_key)
        out["steered"].append(decode_distribution(row.steered))
        out["unsteered"].append(decode_distribution(row.unsteered))
    return out


def delete_simulation(session: Session, simulation_id: int) -> bool:
    """Delete a run with its chunks and rows; ``False`` if there was none."""
    run = session.get(SimulationRun, simulation_id)
    if run is None:
        return False
    session.execute(delete(SimulationRow).where(SimulationRow.simulation_id == simulation_id))
    session.execute(delete(SimulationChunk).where(SimulationChunk.simulation_id == simulation_id))
    session.delete(run)
    session.flush()
    return True
