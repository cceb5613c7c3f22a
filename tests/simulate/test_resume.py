"""A run killed after some chunks resumes: only the unfinished chunks are scored again, a chunk
that failed mid-write left nothing, and the rows end up those of an uninterrupted run."""
from __future__ import annotations

import numpy as np
import pytest

import db.simulation
from persona_core.simulate import store
from persona_core.simulate.config import SimulateConfig
from persona_core.simulate.local import LocalEngine
from persona_core.simulate.run import simulate
from tests.test_cli import count


class Killed(RuntimeError):
    pass


class SpyEngine(LocalEngine):
    """The local engine, recording which chunks it was asked to score."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.asked: list[int] = []

    def run(self, work, chunks, progress=None):
        self.asked += [c.index for c in chunks]
        return super().run(work, chunks, progress)


@pytest.mark.slow
def test_a_killed_run_resumes_with_only_the_unfinished_chunks(trained, loaded, fresh_db, tmp_path, monkeypatch):
    from db.session import upgrade_database

    model, tokenizer, spm = loaded
    space = trained.space
    ids = tuple(q.id for q in space.survey.questions[:5])
    config = SimulateConfig(personas="6", questions=ids, batch_size=4, chunk_rows=4, progress=False)  # 10 chunks

    real_write = store.write_chunk
    real_bulk = db.simulation.bulk_insert
    writes = []

    def dying_write(db_url, sim_id, work, scores, engine):
        writes.append(scores.chunk)
        if len(writes) == 3:  # the third chunk dies after its rows went in, before the commit
            def rows_then_die(*args, **kwargs):
                real_bulk(*args, **kwargs)
                raise Killed("killed while writing")

            monkeypatch.setattr(db.simulation, "bulk_insert", rows_then_die)
        return real_write(db_url, sim_id, work, scores, engine)

    monkeypatch.setattr(store, "write_chunk", dying_write)
    first = SpyEngine(model, tokenizer, spm, batch_size=4)
    with pytest.raises(Killed):
        simulate(space, trained.checkpoint, first, config, db_url=fresh_db)
    monkeypatch.setattr(store, "write_chunk", real_write)
    monkeypatch.setattr(db.simulation, "bulk_insert", real_bulk)

    # two chunks are stored whole; the third left neither rows nor its marker
    assert count(fresh_db, "simulation_chunk") == 2
    assert count(fresh_db, "simulation_row") == 6  # 6 personas per question in batches (= chunks) of 4 and 2
    from db.session import session_scope
    from db.simulation import finished_chunks, list_simulations

    with session_scope(fresh_db) as session:
        (run,) = list_simulations(session)
        assert run.status == "running" and finished_chunks(session, run.id) == {0, 1}

    again = SpyEngine(model, tokenizer, spm, batch_size=4)
    resumed = simulate(space, trained.checkpoint, again, config, db_url=fresh_db)
    n_chunks = resumed["chunks"]
    assert n_chunks == 10 and again.asked == list(range(2, n_chunks))
    assert resumed["resumed"] and resumed["chunks_skipped"] == 2 and resumed["simulation_run"] == run.id
    assert resumed["rows"] == 30 and resumed["rows_scored"] == 24
    assert count(fresh_db, "simulation_row") == 30 and count(fresh_db, "simulation_run") == 1

    # once done, the same command has nothing left to score
    idle = SpyEngine(model, tokenizer, spm, batch_size=4)
    done = simulate(space, trained.checkpoint, idle, config, db_url=fresh_db)
    assert idle.asked == [] and done["rows_scored"] == 0 and done["chunks_skipped"] == n_chunks

    whole_url = f"sqlite:///{tmp_path / 'whole.db'}"
    upgrade_database(whole_url)
    whole = simulate(space, trained.checkpoint, LocalEngine(model, tokenizer, spm, batch_size=4), config, db_url=whole_url)
    assert whole["key"] == resumed["key"]
    a, b = store.read_rows(fresh_db, run.id), store.read_rows(whole_url, whole["simulation_run"])
    for column in ("position", "chunk", "persona_kind", "persona_key", "question_key"):
        assert a[column] == b[column]
    for column in ("steered", "unsteered"):
        assert all(np.array_equal(x, y) for x, y in zip(a[column], b[column]))
