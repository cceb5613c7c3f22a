"""The first run of a fresh checkout, as background jobs: train the default steering model,
store its evaluation, then generate a starter queue of preference pairs for Annotate.

``make app`` calls :func:`start_first_run` (through ``python -m persona_core first-run
--if-needed``) after building the default persona space: it returns at once, the app opens,
and the three jobs run one after the other (each its own row, so each shows its progress).
The same steps are what the app's "Train" and "Evaluate" buttons submit (:func:`train_step`,
:func:`eval_step`), with the same keys, so a second ``make app``, a second tab or a click
while the first run trains never starts a second training of the same model.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from persona_core.data.errors import DataError, no_persona_space
from persona_core.service.jobs import JobStep, list_jobs, submit_chain

STARTER_COHORTS = 3
STARTER_QUESTIONS = 3


@dataclass(frozen=True)
class SpaceRef:
    """A stored persona space a job works on."""

    run_id: int
    run_key: str
    dataset: str
    artifact_path: str


@dataclass
class FirstRun:
    """What :func:`start_first_run` did: the job ids (train, eval, pairs) or why it did nothing."""

    space: SpaceRef | None
    job_ids: list[int] = field(default_factory=list)
    started: bool = False
    reason: str = ""


def stored_spaces(url: str | None, dataset: str | None = None) -> list[SpaceRef]:
    """Stored persona spaces whose artifacts are on disk, newest first."""
    from db.session import session_scope, upgrade_database
    from db.store import list_embedding_runs

    upgrade_database(url)
    with session_scope(url) as session:
        runs = list_embedding_runs(session, dataset)
    return [SpaceRef(int(r.id), str(r.params.get("run_key")), r.dataset_name, str(r.artifact_path))
            for r in runs if r.artifact_path and Path(r.artifact_path).exists() and r.params.get("run_key")]


def space_for_run(url: str | None, run_id: int) -> SpaceRef:
    for space in stored_spaces(url):
        if space.run_id == run_id:
            return space
    raise DataError(f"embedding run {run_id} has no saved persona space on this machine (build it again)")


def _config_name(tiny: bool) -> str:
    return "tiny" if tiny else "default"


def train_step(space: SpaceRef, tiny: bool = False) -> JobStep:
    """Train the SPM of ``space`` with the default (or tiny) configuration."""
    return JobStep("train", ["--space", space.artifact_path, *(["--tiny"] if tiny else [])],
                   label=f"Train the {_config_name(tiny)} steering model on {space.dataset} (run {space.run_id})",
                   dedupe_key=f"train:{space.run_key}:{_config_name(tiny)}")


def eval_step(space: SpaceRef, tiny: bool = False) -> JobStep:
    """Evaluate the SPM of ``space`` (default or tiny configuration) and store the result."""
    return JobStep("eval", ["--space", space.artifact_path, *(["--tiny"] if tiny else [])],
                   label=f"Evaluate the {_config_name(tiny)} steering model on {space.dataset} (run {space.run_id})",
                   dedupe_key=f"eval:{space.run_key}:{_config_name(tiny)}")


def starter_pairs_step(space: SpaceRef, cohorts: int = STARTER_COHORTS, questions: int = STARTER_QUESTIONS,
                       max_new_tokens: int = 48) -> JobStep:
    """Steered (SPM) against unsteered answers of the largest cohorts to questions that set them
    apart: the Annotate page's first queue."""
    return JobStep("pairs generate", ["--run", str(space.run_id), "--personas", f"largest:{cohorts}",
                                      "--questions", f"distinctive:{questions}", "--method", "spm",
                                      "--max-new-tokens", str(max_new_tokens)],
                   label=f"Starter pairs for Annotate: {cohorts} cohorts x {questions} questions, steered vs "
                         f"unsteered ({space.dataset}, run {space.run_id})",
                   dedupe_key=f"pairs:{space.run_key}:starter")


def simulate_step(space: SpaceRef, checkpoint: str | Path) -> JobStep:
    """Every cohort (and the population persona) x every survey question, steered by the SPM at
    ``checkpoint`` and unsteered, stored as a simulation run with its alignment (Ask everyone)."""
    ckpt = str(Path(checkpoint).resolve())
    return JobStep("simulate", ["--space", space.artifact_path, "--checkpoint", ckpt, "--personas", "cohorts",
                                "--questions", "all"],
                   label=f"Simulate the whole survey for every cohort ({space.dataset}, run {space.run_id}, "
                         f"{Path(ckpt).name})",
                   dedupe_key=f"simulate:{space.run_key}:{ckpt}")


def has_trained_model(space: SpaceRef) -> bool:
    from persona_core.service.checkpoints import find_checkpoints

    return bool(find_checkpoints(space.run_key))


def start_first_run(url: str | None, dataset: str | None = None, *, tiny: bool = False, if_needed: bool = True,
                    max_new_tokens: int = 48) -> FirstRun:
    """Submit train -> eval -> starter pairs for the newest stored space (of ``dataset``).
    ``if_needed``: only when that space has no SPM checkpoint yet. Either way nothing starts
    while one of these jobs is queued or running for the space."""
    spaces = stored_spaces(url, dataset)
    if not spaces:
        return FirstRun(None, reason=str(no_persona_space(dataset)))
    space = spaces[0]
    if if_needed and has_trained_model(space):
        return FirstRun(space, reason=f"{space.dataset} (run {space.run_id}) already has a steering model")
    steps = [train_step(space, tiny), eval_step(space, tiny), starter_pairs_step(space, max_new_tokens=max_new_tokens)]
    ids = submit_chain(url, steps, run_id=space.run_id)
    if len(ids) == 1:
        return FirstRun(space, ids, reason=f"job {ids[0]} for {space.dataset} (run {space.run_id}) is already "
                                           "queued or running")
    return FirstRun(space, ids, started=True, reason="started")


def training_in_progress(url: str | None, run_id: int) -> list:
    """Queued or running training jobs of embedding run ``run_id``."""
    return [j for j in list_jobs(url, active=True, run_id=run_id) if j.kind == "train"]
