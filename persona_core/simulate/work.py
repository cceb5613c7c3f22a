"""What an engine is given (:class:`Workload`) and what it hands back (:class:`ChunkScores`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Protocol, Sequence

import numpy as np

from persona_core.simulate.rows import Batch, Chunk, PersonaSet, QuestionBank, RowPlan


@dataclass(frozen=True)
class Workload:
    """The rows of one run: their plan, personas and questions."""

    plan: RowPlan
    personas: PersonaSet
    bank: QuestionBank

    def batch_inputs(self, batch: Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(positions, persona vectors, bank question per row)`` of one batch."""
        positions = np.arange(batch.start, batch.stop, dtype=np.int64)
        vectors = self.personas.vectors[self.plan.persona_of(positions)]
        return positions, vectors, np.full(positions.size, batch.question, dtype=np.int64)


@dataclass
class ChunkScores:
    """One chunk's rows scored: positions and each row's steered and unsteered probabilities."""

    chunk: int
    positions: np.ndarray
    steered: list[np.ndarray]
    unsteered: list[np.ndarray]
    seconds: float


Progress = Callable[[int], None]  # called with the number of rows just scored


class Engine(Protocol):
    """Scores chunks of a workload; yields each chunk once all its rows are scored (any order),
    calling ``progress`` (if given) as rows are scored."""

    name: str
    workers: int

    def run(self, work: Workload, chunks: Sequence[Chunk], progress: Progress | None = None) -> Iterator[ChunkScores]: ...
