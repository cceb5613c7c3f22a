"""The Ray engine: Ray Data reads the rows, a pool of actors scores them, the driver stores chunks.

The driver turns the pending chunks into a dataset with one block per chunk (columns
``position``, ``chunk``, ``question``, ``vector``; rows sorted by question). ``map_batches``
runs :class:`SimulateActor` (a class-based UDF) in a pool of ``workers`` actors: each loads the
base model, the adapter and the SPM once, in ``__init__``, with torch threads set to its CPU
share, and scores each block batch by batch -- the same batches (up to ``batch_rows`` rows of
one question) the local engine scores, so the question's key/value cache is reused and results
match the local engine's. Results stream back to the driver, which yields each chunk as soon as
all its rows are in (the caller stores it). With no address, Ray starts a local cluster
(``ray.init(num_cpus=..., include_dashboard=False)``) and stops it after; with one, the same code
runs on that cluster (its nodes need this package, the model and the checkpoint at the same paths).
"""
from __future__ import annotations

import os
import time
from collections import defaultdict
from typing import Any, Iterator, Sequence

import numpy as np

from persona_core.data.paths import worker_pythonpath
from persona_core.simulate.config import RayConfig
from persona_core.simulate.rows import Chunk, QuestionBank, RowPlan
from persona_core.simulate.scorer import Scorer, WorkerSpec
from persona_core.simulate.work import ChunkScores, Progress, Workload

IN_FLIGHT = 2  # chunks queued per actor: one scoring, one waiting (so no actor idles between chunks)


class SimulateActor:
    """Ray Data UDF: scores blocks of rows. Loads the models once per actor."""

    def __init__(self, spec: dict[str, Any], questions: list[dict[str, Any]], n_personas: int, batch_rows: int) -> None:
        self.scorer = Scorer.load(WorkerSpec(**spec), QuestionBank.from_records(questions))
        if self.scorer.batch_rows != batch_rows:
            raise ValueError(f"the plan batches {batch_rows} rows, this worker's scorer {self.scorer.batch_rows}")
        self.plan = RowPlan(int(n_personas), len(self.scorer.bank), int(batch_rows), ())  # for batch_of only
        self.width = self.scorer.bank.max_options

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        positions = np.asarray(batch["position"], np.int64)
        questions = np.asarray(batch["question"], np.int64)
        vectors = np.asarray(batch["vector"], np.float32)
        n = positions.size
        steered = np.full((n, self.width), np.nan, np.float32)
        unsteered = np.full((n, self.width), np.nan, np.float32)
        n_options = np.zeros(n, np.int64)
        group = self.plan.batch_of(positions)  # the plan's batches, as the local engine scores them
        for g in dict.fromkeys(group.tolist()):
            idx = np.flatnonzero(group == g)
            s, u = self.scorer.probabilities(vectors[idx], questions[idx])
            for i, sv, uv in zip(idx, s, u):
                steered[i, : sv.size], unsteered[i, : uv.size], n_options[i] = sv, uv, sv.size
        return {"position": positions, "chunk": np.asarray(batch["chunk"], np.int64), "steered": steered,
                "unsteered": unsteered, "n_options": n_options, "worker": np.full(n, os.getpid(), np.int64)}


class RayEngine:
    """Scores on a Ray cluster (a local one when ``config.address`` is ``None``)."""

    name = "ray"

    def __init__(self, spec: WorkerSpec, config: RayConfig | None = None) -> None:
        self.spec, self.config = spec, config or RayConfig()
        self.workers = int(self.config.workers)
        self.startup_seconds: float | None = None
        self.worker_pids: set[int] = set()  # the actors' processes that scored rows (last run)

    def run(self, work: Workload, chunks: Sequence[Chunk], progress: Progress | None = None) -> Iterator[ChunkScores]:
        try:
            import ray
        except ModuleNotFoundError as exc:
            raise RuntimeError("the Ray engine needs ray[data]: .venv/bin/pip install -r requirements.txt") from exc
        t0 = time.perf_counter()
        started = self._connect(ray)
        try:
            self.startup_seconds = time.perf_counter() - t0
            if not chunks:
                return
            yield from self._score(ray, work, chunks, progress)
        finally:
            if started:
                ray.shutdown()

    # ------------------------------------------------------------- internals
    def _connect(self, ray) -> bool:
        """Start or join a cluster; ``True`` when this call started it (and so stops it)."""
        if ray.is_initialized():
            return False
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True}
        if self.config.address:
            ray.init(address=self.config.address, **kwargs)
        else:
            ray.init(num_cpus=self.config.num_cpus or os.cpu_count() or 1, **kwargs)
        return True

    def _cpus_per_worker(self, ray) -> int:
        if self.config.cpus_per_worker:
            return int(self.config.cpus_per_worker)
        total = int(ray.cluster_resources().get("CPU", 1))
        return max(1, total // self.workers)

    def _gpus_per_worker(self, ray) -> float:
        """Set, or the cluster's GPUs shared evenly by the actors (at most one each; none: CPU)."""
        if self.config.gpus_per_worker is not None:
            return float(self.config.gpus_per_worker)
        total = float(ray.cluster_resources().get("GPU", 0.0))
        return min(1.0, total / self.workers)

    def _dataset(self, ray, work: Workload, chunks: Sequence[Chunk]):
        """One block per chunk, rows in position order (so by question)."""
        import pyarrow as pa
        from ray.data.extensions import ArrowTensorArray

        tables = []
        for chunk in chunks:
            positions = np.arange(chunk.start, chunk.stop, dtype=np.int64)
            tables.append(pa.table({
                "position": positions,
                "chunk": np.full(positions.size, chunk.index, np.int64),
                "question": work.plan.question_of(positions).astype(np.int64),
                "vector": ArrowTensorArray.from_numpy(work.personas.vectors[work.plan.persona_of(positions)]),
            }))
        return ray.data.from_arrow(tables)

    def _score(self, ray, work: Workload, chunks: Sequence[Chunk], progress: Progress | None) -> Iterator[ChunkScores]:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        cpus = self._cpus_per_worker(ray)
        spec = {**self.spec.to_dict(), "threads": cpus}
        env = {"PYTHONPATH": worker_pythonpath(),
               **{k: v for k, v in os.environ.items() if k.startswith("PERSONA_")}, **self.config.env}
        scored = self._dataset(ray, work, chunks).map_batches(
            SimulateActor,
            fn_constructor_kwargs={"spec": spec, "questions": work.bank.to_records(),
                                   "n_personas": work.plan.n_personas, "batch_rows": work.plan.batch_rows},
            batch_size=None, batch_format="numpy", zero_copy_batch=True, num_cpus=cpus,
            num_gpus=self._gpus_per_worker(ray), runtime_env={"env_vars": env},
            compute=ray.data.ActorPoolStrategy(size=self.workers, max_tasks_in_flight_per_actor=IN_FLIGHT),
        )
        expected = {c.index: len(c) for c in chunks}
        parts: dict[int, list[dict[str, np.ndarray]]] = defaultdict(list)
        received: dict[int, int] = defaultdict(int)
        last = time.perf_counter()
        self.worker_pids = set()
        for out in scored.iter_batches(batch_size=None, batch_format="numpy"):
            self.worker_pids.update(np.unique(out["worker"]).tolist())
            if progress is not None:
                progress(int(out["position"].size))
            for c in np.unique(out["chunk"]).tolist():
                sel = out["chunk"] == c
                parts[c].append({k: np.asarray(v)[sel] for k, v in out.items()})
                received[c] += int(sel.sum())
                if received[c] > expected[c]:
                    raise RuntimeError(f"chunk {c}: {received[c]} rows came back, {expected[c]} were sent")
                if received[c] == expected[c]:
                    now = time.perf_counter()
                    yield _assemble(c, parts.pop(c), now - last)
                    last = now
        incomplete = sorted(c for c in expected if received.get(c, 0) != expected[c])
        if incomplete:
            raise RuntimeError(f"Ray returned no or partial results for chunk(s) {incomplete[:10]}")


def _assemble(chunk: int, parts: list[dict[str, np.ndarray]], seconds: float) -> ChunkScores:
    """One chunk's rows, in position order, distributions cut to their question's options."""
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(cols["position"], kind="stable")
    n_opt = cols["n_options"][order]
    steered = [row[:k].copy() for row, k in zip(cols["steered"][order], n_opt)]
    unsteered = [row[:k].copy() for row, k in zip(cols["unsteered"][order], n_opt)]
    return ChunkScores(chunk, cols["position"][order], steered, unsteered, seconds)
