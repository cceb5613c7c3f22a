"""The local engine: every batch in this process, chunk after chunk."""
from __future__ import annotations

import time
from typing import Iterator, Sequence

import numpy as np

from persona_core.simulate.rows import Chunk
from persona_core.simulate.scorer import Scorer
from persona_core.simulate.work import ChunkScores, Progress, Workload


class LocalEngine:
    """Scores with a model, tokenizer and SPM already loaded here (as eval does)."""

    name = "local"
    workers = 1

    def __init__(self, model, tokenizer, spm, batch_size: int = 64) -> None:
        self.model, self.tokenizer, self.spm, self.batch_size = model, tokenizer, spm, int(batch_size)

    def run(self, work: Workload, chunks: Sequence[Chunk], progress: Progress | None = None) -> Iterator[ChunkScores]:
        scorer = Scorer(self.model, self.tokenizer, self.spm, work.bank, self.batch_size)
        if scorer.batch_rows != work.plan.batch_rows:
            raise ValueError(f"the plan batches {work.plan.batch_rows} rows, the scorer {scorer.batch_rows}")
        for chunk in chunks:
            t = time.perf_counter()
            positions, steered, unsteered = [], [], []
            for batch in chunk.batches:
                pos, vectors, questions = work.batch_inputs(batch)
                s, u = scorer.probabilities(vectors, questions)
                positions.append(pos)
                if progress is not None:
                    progress(pos.size)
                steered += s
                unsteered += u
            yield ChunkScores(chunk.index, np.concatenate(positions), steered, unsteered, time.perf_counter() - t)
