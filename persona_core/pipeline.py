"""Build a persona space and store it: the one path shared by the CLI's ``build`` and the app.

:func:`build_and_store` migrates the database, stores the survey, runs
:func:`persona_core.space.build_persona_space`, saves the fitted objects to the artifacts
folder and records the embedding run (arrays, cohorts, profiles) in the database.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from persona_core.data.survey import Survey
from persona_core.space import STAGES, PersonaSpace, SpaceConfig, build_persona_space

#: The stages :func:`build_and_store` reports through ``on_stage``, in order.
PIPELINE_STAGES: tuple[str, ...] = ("store", *STAGES, "save")


@dataclass
class StoredBuild:
    """What :func:`build_and_store` produced: the space, where it was stored, and timings."""

    space: PersonaSpace
    dataset_id: int
    run_id: int
    artifact_dir: Path
    seconds: dict[str, float] = field(default_factory=dict)


def cohort_records(space: PersonaSpace) -> list[dict]:
    """The space's cohorts as :func:`db.store.save_embedding_run` stores them."""
    return [
        {"label": c, "size": p["size"], "name": p["name"], "centroid": space.cohort_centroids[c].tolist(), "profile": p}
        for c, p in space.profiles.items()
    ]


def build_and_store(
    survey: Survey,
    *,
    db_url: str | None = None,
    kind: str | None = None,
    config: SpaceConfig | None = None,
    replace: bool = False,
    on_stage: Callable[[str], None] | None = None,
    artifact_dir: str | Path | None = None,
    seconds: dict[str, float] | None = None,
) -> StoredBuild:
    """Store ``survey`` (idempotent, see :func:`persona_core.data.survey_db.save_survey`), build its persona space,
    save it (``artifact_dir``, default the artifacts folder / run key) and record the run.

    ``on_stage(name)`` is called as each of :data:`PIPELINE_STAGES` starts; ``seconds``: timings
    of earlier steps (e.g. loading the file) to record with the run.
    """
    from db.session import session_scope, upgrade_database
    from db.store import save_embedding_run
    from persona_core.data.survey_db import save_survey

    config = config or SpaceConfig()
    notify = on_stage or (lambda _name: None)
    seconds = dict(seconds or {})

    notify("store")
    t = time.perf_counter()
    upgrade_database(db_url)
    with session_scope(db_url) as session:
        dataset_id = save_survey(session, survey, kind=kind, replace=replace)
    seconds["store"] = time.perf_counter() - t

    space = build_persona_space(survey, config, on_stage=notify)
    seconds.update(space.seconds)

    notify("save")
    t = time.perf_counter()
    # The fitted objects go to a staging folder first, and into place inside the run's transaction
    # just before it commits: a build killed while saving leaves no run in the database, and at most
    # a folder marked incomplete (a staging folder, removed by the next save on this host, or, killed
    # between the move and the commit, the run's folder still holding its staging.json marker).
    staged = space.save_staged(artifact_dir)
    try:
        with session_scope(db_url) as session:
            run_id = save_embedding_run(
                session,
                dataset_id=dataset_id,
                params={"run_key": space.run_key, **config.to_dict()},
                metrics=space.metrics,
                seconds=seconds,
                artifact_path=str(staged.out),
                respondent_ids=survey.respondent_ids,
                embeddings=space.embeddings,
                coords=space.coords,
                cohort_labels=space.cohort_labels,
                cohort_probabilities=space.cohort_probabilities,
                likely_cohorts=space.likely_cohorts,
                cohorts=cohort_records(space),
            )
            saved = staged.publish()
    except BaseException:
        staged.discard()
        raise
    staged.finish()
    seconds["save"] = time.perf_counter() - t
    return StoredBuild(space=space, dataset_id=dataset_id, run_id=run_id, artifact_dir=saved, seconds=seconds)
