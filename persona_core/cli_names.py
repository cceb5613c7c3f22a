"""``python -m persona_core name-cohorts``: the LLM names each cohort of a persona space from its
distinctive answers; names are cached in the database (see :mod:`persona_core.naming`)."""
from __future__ import annotations

import argparse
import sys
import time

from persona_core.data.errors import DataError


def add_name_cohorts_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("name-cohorts", help="the LLM names each cohort from its distinctive answers (cached)")
    p.add_argument("--db", metavar="URL", default=None, help="SQLAlchemy database URL (default: PERSONA_DB_URL, else var/persona.db)")
    p.add_argument("--dataset", default=None, help="the newest persona space of this stored dataset (default: newest of any)")
    p.add_argument("--run", type=int, default=None, help="an embedding run id instead of the newest")
    p.add_argument("--model", default=None, help="language model (default: PERSONA_MODEL, else the embedded SmolLM2-135M)")
    p.add_argument("--fresh", action="store_true", help="write every name again instead of using the cached ones")
    p.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    p.set_defaults(func=run_name_cohorts)


def _run_id(args) -> int:
    from db.session import session_scope, upgrade_database
    from db.store import list_embedding_runs

    upgrade_database(args.db)
    with session_scope(args.db) as session:
        runs = list_embedding_runs(session, args.dataset)
    if args.run is not None:
        if args.run not in {r.id for r in runs}:
            raise DataError(f"no embedding run {args.run}" + (f" of dataset {args.dataset!r}" if args.dataset else ""))
        return args.run
    if not runs:
        what = f"dataset {args.dataset!r}" if args.dataset else "any dataset"
        raise DataError(f"no persona space found for {what}: run `python -m persona_core build` first")
    return runs[0].id


def run_name_cohorts(args: argparse.Namespace) -> dict:
    from persona_core import progress
    from persona_core.llm import LLM, LLMConfig
    from persona_core.naming import CohortNamingConfig
    from persona_core.service import cohort_names
    from persona_core.service.catalog import load_space_view

    t = time.perf_counter()
    config = CohortNamingConfig()
    view = load_space_view(args.db, _run_id(args))
    cached = {} if args.fresh else cohort_names.stored(args.db, view.run_id, args.model, config)
    llm = None
    if any(label not in cached for label in view.cohorts):
        progress.stage("loading the language model")
        llm = LLM.from_config(LLMConfig(model=args.model))
    bar = progress.tqdm(total=len([c for c in view.cohorts if c not in cached]), desc="naming cohorts", unit="cohort",
                        file=sys.stderr)
    with bar:
        names = cohort_names.ensure(args.db, view, llm, args.model, config, fresh=args.fresh,
                                    progress=lambda done, total: bar.update(done - bar.n))
    for label, rec in names.items():
        shown = rec.name if rec.name is not None else f"(no name: {rec.reason}; the model wrote {rec.raw!r})"
        print(f"  cohort {label}: {shown}  <- " + " · ".join(rec.evidence), file=sys.stderr)
    return {
        "dataset": view.dataset_name, "embedding_run": view.run_id, "model": cohort_names.model_key(args.model),
        "prompt_key": config.prompt_key, "cohorts": len(view.cohorts),
        "named": sum(rec.name is not None for rec in names.values()),
        "written": 0 if llm is None else len(view.cohorts) - len(cached),
        "seconds": round(time.perf_counter() - t, 2),
        "names": {str(label): {"name": rec.name, "raw": rec.raw, "reason": rec.reason, "evidence": list(rec.evidence)}
                  for label, rec in names.items()},
    }
