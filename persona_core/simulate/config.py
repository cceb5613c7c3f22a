"""Settings of a simulation run (:class:`SimulateConfig`) and of the Ray engine (:class:`RayConfig`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PERSONA_KINDS = ("cohorts", "respondents")


@dataclass
class SimulateConfig:
    """What to simulate and how rows are batched and stored.

    ``personas``: ``cohorts`` (every cohort centroid, plus the population-mean persona when
    ``population``), ``respondents`` (everyone) or a number N (a sample of N respondents drawn
    with ``seed``). ``questions``: ``("all",)`` (every survey question), survey question ids,
    or one path to a ``questions.csv`` of new questions (the CSV layout's format).
    ``batch_size``: rows per forward pass (as in eval; the prompt/prefix modes use a quarter).
    ``chunk_rows``: about how many rows are stored per transaction (a resumed run redoes at most
    one unfinished chunk per worker). ``min_cohort_answers``: a (cohort, question) pair needs at
    least this many real answers to be compared with its real distribution.
    """

    personas: str = "cohorts"
    questions: tuple[str, ...] = ("all",)
    seed: int = 0
    batch_size: int = 64
    chunk_rows: int = 1024
    population: bool = True
    min_cohort_answers: int = 10
    progress: bool = True

    def __post_init__(self) -> None:
        self.personas = str(self.personas).strip()
        self.questions = tuple(str(q) for q in self.questions)
        if self.personas not in PERSONA_KINDS and not (self.personas.isdigit() and int(self.personas) > 0):
            raise ValueError(f"personas must be 'cohorts', 'respondents' or a positive number, not {self.personas!r}")
        if not self.questions:
            raise ValueError("questions must name at least one question, 'all' or a file")
        for name in ("batch_size", "chunk_rows", "min_cohort_answers"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)!r}")

    @property
    def n_sampled(self) -> int | None:
        """N when ``personas`` is a number, else ``None``."""
        return int(self.personas) if self.personas.isdigit() else None

    def key_settings(self) -> dict[str, Any]:
        """The settings the stored rows depend on (part of the run key; the engine is not)."""
        return {"seed": int(self.seed), "batch_size": int(self.batch_size), "chunk_rows": int(self.chunk_rows),
                "population": bool(self.population)}


@dataclass
class RayConfig:
    """Where and how wide the Ray engine runs.

    ``address``: an existing cluster (``ray.init(address=...)``); ``None`` starts a local one
    with ``num_cpus`` CPUs (default: this machine's). ``workers``: actors in the pool, each with
    ``cpus_per_worker`` CPUs (default: the local cluster's CPUs / workers, at least 1) and as
    many torch threads. ``gpus_per_worker``: GPUs Ray gives each actor (0: CPU actors; Ray hides
    the GPUs from them); ``None``: the cluster's GPUs shared evenly, at most 1 each. ``env``: extra environment
    variables for the workers.
    """

    address: str | None = None
    workers: int = 1
    cpus_per_worker: int | None = None
    num_cpus: int | None = None
    gpus_per_worker: float | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if int(self.workers) < 1:
            raise ValueError(f"workers must be at least 1, not {self.workers!r}")
        if self.cpus_per_worker is not None and int(self.cpus_per_worker) < 1:
            raise ValueError(f"cpus_per_worker must be at least 1, not {self.cpus_per_worker!r}")
        if self.gpus_per_worker is not None and float(self.gpus_per_worker) < 0:
            raise ValueError(f"gpus_per_worker must not be negative, not {self.gpus_per_worker!r}")
