"""``python -m persona_core name-cohorts``: the LLM names each cohort of a persona space from its
distinctive answers; names are cached in the database (see :mod:`persona_core.naming`)."""
from __future__ import annotations

import argparse
import sys
import time


def add_name_cohorts_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("name-cohorts", help="the LLM names each cohort from its distinctive answers (cached)")
    p.add_argument("--db", metavar="URL", default=None, help="SQLAlchemy database URL (default: PERSONA_DB_URL, else var/persona.db)")
    p.add_argument("--dataset", default=None, help="the newest persona space of this stored dataset (default: newest of any)")
    p.add_argument("--run", type=int, default=None, help="an embedding run id instead of the newest")
    p.add_argument("--model", default=None, help="language model (default: PERSONA_MODEL, else the embedded SmolLM2-135M)")
    p.add_argument("--fresh", action="store_true", help="write every name again instead of using the cached ones")
    p.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    p.set_defaults(func=run_name_cohorts)


def run_name_cohorts(args: argparse.Namespace) -> dict:
    from persona_core import progress
    from persona_core.llm import LLM, LLMConfig
    from persona_core.naming import CohortNamingConfig
    from persona_core.service import cohort_names
    from persona_core.service.catalog import load_space_view, stored_run_id

    t = time.perf_counter()
    config = CohortNamingConfig()
    view = load_space_view(args.db, stored_run_id(args.db, args.dataset, args.run))

    def load_model() -> LLM:
        progress.stage("loading the language model")
        return LLM.from_config(LLMConfig(model=args.model))

    def report(done: int, total: int) -> None:  # total: the cohorts named in this call
        bar.total = total
        bar.update(done - bar.n)

    with progress.tqdm(total=0, desc="naming cohorts", unit="cohort", file=sys.stderr) as bar:
        names = cohort_names.ensure(args.db, view, load_model, args.model, config, fresh=args.fresh, progress=report)
    for label, rec in names.items():
        shown = rec.name if rec.name is not None else f"(no name: {rec.reason}; the model wrote {rec.raw!r})"
        print(f"  cohort {label}: {shown}  <- " + " · ".join(rec.evidence), file=sys.stderr)
    return {
        "dataset": view.dataset_name, "embedding_run": view.run_id, "model": cohort_names.model_key(args.model),
        "prompt_key": config.prompt_key, "cohorts": len(view.cohorts),
        "named": sum(rec.name is not None for rec in names.values()),
        "written": bar.total,
        "seconds": round(time.perf_counter() - t, 2),
        "names": {str(label): {"name": rec.name, "raw": rec.raw, "reason": rec.reason, "evidence": list(rec.evidence)}
                  for label, rec in names.items()},
    }
