"""db.simulation on SQLite and PostgreSQL: a chunk is stored whole or not at all."""
from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy.exc import IntegrityError

from db.session import session_scope
from db.simulation import (SimulationError, delete_simulation, finish_simulation, finished_chunks, get_simulation,
                           list_simulations, load_rows, open_simulation, save_chunk)


def _open(url, key="k1", n_rows=3, n_chunks=2):
    with session_scope(url) as s:
        return open_simulation(s, key=key, run_id=None, space_run_key="space", model_name="m", checkpoint="/ck",
                               settings={"seed": 0}, questions=[{"id": "q"}], n_rows=n_rows, n_chunks=n_chunks)


def _rows(positions, kind="cohort"):
    return {"position": positions, "persona_kind": [kind] * len(positions), "persona_key": [str(p) for p in positions],
            "question_key": ["q"] * len(positions), "steered": [[0.25, 0.75]] * len(positions),
            "unsteered": [[0.5, 0.5]] * len(positions)}


def test_chunks_rows_resume_and_finish(db_url):
    info, created = _open(db_url)
    assert created and info.status == "running"
    again, created = _open(db_url)
    assert not created and again.id == info.id
    with pytest.raises(SimulationError, match="plans 4 rows"):
        _open(db_url, n_rows=4)

    with session_scope(db_url) as s:
        assert save_chunk(s, info.id, 0, _rows([0, 1]), engine="local", seconds=0.5) == 2
    with pytest.raises(IntegrityError):  # the same chunk twice: refused, and nothing of it is added
        with session_scope(db_url) as s:
            save_chunk(s, info.id, 0, _rows([0, 1]), engine="local", seconds=0.5)
    with pytest.raises(SimulationError, match="1 of 2 chunks"):
        with session_scope(db_url) as s:
            finish_simulation(s, info.id, {})
    with pytest.raises(RuntimeError):  # a failure after the rows went in rolls the whole chunk back
        with session_scope(db_url) as s:
            save_chunk(s, info.id, 1, _rows([2], kind="population"), engine="ray", seconds=0.1)
            raise RuntimeError("killed")
    with session_scope(db_url) as s:
        assert finished_chunks(s, info.id) == {0}
        assert load_rows(s, info.id)["position"] == [0, 1]
        save_chunk(s, info.id, 1, _rows([2], kind="population"), engine="ray", seconds=0.1)
    with session_scope(db_url) as s:
        finish_simulation(s, info.id, {"rows": 3})
        rows = load_rows(s, info.id)
        assert rows["position"] == [0, 1, 2] and rows["chunk"] == [0, 0, 1]
        assert rows["steered"][0].dtype == np.float32 and rows["steered"][0].tolist() == [0.25, 0.75]
        assert load_rows(s, info.id, ["population"])["persona_key"] == ["2"]
        done = get_simulation(s, info.id)
        assert done.status == "done" and done.summary == {"rows": 3} and done.finished_at is not None
        assert [r.id for r in list_simulations(s)] == [info.id]
        assert delete_simulation(s, info.id) and not delete_simulation(s, info.id)
    with session_scope(db_url) as s:
        assert load_rows(s, info.id)["position"] == [] and list_simulations(s) == []
