"""The Ray engine on a local 2-CPU cluster gives the local engine's rows, row for row.

Both engines score the same batches with the same code, so with the same torch thread count the
results are bit for bit equal: the local run here uses one thread, as each of the two actors
does (1 CPU each). With different thread counts a matrix product may add in another order;
measured on this test's rows, probabilities then differ by up to ~5e-6 (float32).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from persona_core.simulate.config import RayConfig, SimulateConfig
from persona_core.simulate.local import LocalEngine
from persona_core.simulate.ray_engine import RayEngine
from persona_core.simulate.run import simulate
from persona_core.simulate.scorer import WorkerSpec
from persona_core.simulate.store import read_rows


@pytest.mark.slow
def test_ray_rows_equal_local_rows(trained, loaded, tmp_path, ray_cluster):
    from db.session import upgrade_database

    model, tokenizer, spm = loaded
    space = trained.space
    ids = tuple(q.id for q in space.survey.questions[:6])
    # 10 personas, batches of 4 rows: 4 + 4 + 2 per question; chunks of up to 8 rows ([4, 4], [2, 4], ...) cross questions
    config = SimulateConfig(personas="10", questions=ids, batch_size=4, chunk_rows=8, progress=False)
    urls = {name: f"sqlite:///{tmp_path / f'{name}.db'}" for name in ("ray", "local")}
    for url in urls.values():
        upgrade_database(url)

    spec = WorkerSpec(model=None, checkpoint=str(trained.checkpoint), run_key=space.run_key, batch_size=4)
    engine = RayEngine(spec, RayConfig(workers=2))
    got = simulate(space, trained.checkpoint, engine, config, db_url=urls["ray"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the actors' thread count (see the module docstring)
    try:
        want = simulate(space, trained.checkpoint, LocalEngine(model, tokenizer, spm, batch_size=4), config,
                        db_url=urls["local"])
    finally:
        torch.set_num_threads(threads)

    assert got["engine"] == "ray" and got["workers"] == 2 and want["engine"] == "local"
    assert got["rows"] == want["rows"] == 60 and got["rows_scored"] == 60
    assert got["key"] == want["key"]  # the engine is not part of the run key
    assert got["chunks"] == 9 and len(engine.worker_pids) == 2  # both actors of the pool scored
    ray_rows, local_rows = read_rows(urls["ray"], got["simulation_run"]), read_rows(urls["local"], want["simulation_run"])
    for column in ("position", "chunk", "persona_kind", "persona_key", "question_key"):
        assert ray_rows[column] == local_rows[column]
    for column in ("steered", "unsteered"):
        for a, b in zip(ray_rows[column], local_rows[column]):
            assert a.shape == b.shape and np.array_equal(a, b)
    assert ray_cluster.is_initialized()  # the engine leaves a cluster it did not start running
