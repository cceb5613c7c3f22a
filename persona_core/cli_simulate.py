"""``python -m persona_core simulate``: the steered answer distribution of every chosen
(persona, question) pair, stored as a resumable simulation run.

The persona space, the steering config and the checkpoint are found as ``eval`` finds them
(``--dataset`` / ``--space``, ``--config`` / ``--tiny``, ``--checkpoint``). ``--engine local``
scores in this process; ``--engine ray`` on a Ray cluster (a local one unless ``--address``).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from persona_core.cli_steer import _common, load_llm, read_config, resolve_space, default_checkpoint_dir
from persona_core.data.errors import DataError


def add_simulate_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("simulate", help="score every (persona, question) pair with the steering model; store the run")
    _common(p)
    p.add_argument("--personas", default="cohorts", help="cohorts (with the population mean), respondents, or N (a seeded sample)")
    p.add_argument("--questions", nargs="+", default=["all"], metavar="Q",
                   help="all, survey question ids, or a questions.csv file of new questions (the CSV layout's format)")
    p.add_argument("--engine", choices=["local", "ray"], default="local")
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local cluster)")
    p.add_argument("--workers", type=int, default=1, help="Ray actors (each loads the model once)")
    p.add_argument("--cpus-per-worker", type=int, default=None, help="CPUs (and torch threads) per Ray actor")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray cluster (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the respondent sample (--personas N)")
    p.add_argument("--batch-size", type=int, default=64, help="rows per forward pass (as eval)")
    p.add_argument("--chunk-rows", type=int, default=1024, help="about how many rows are stored per transaction")
    p.add_argument("--no-population", action="store_true", help="with --personas cohorts, leave out the population mean")
    p.add_argument("--min-cohort-answers", type=int, default=10,
                   help="real answers a (cohort, question) pair needs to count in the alignment")
    p.set_defaults(func=run_simulate)


def _simulate_config(args):
    from persona_core.simulate.config import SimulateConfig

    try:
        return SimulateConfig(personas=args.personas, questions=tuple(args.questions), seed=args.seed,
                              batch_size=args.batch_size, chunk_rows=args.chunk_rows, population=not args.no_population,
                              min_cohort_answers=args.min_cohort_answers)
    except ValueError as exc:
        raise DataError(str(exc)) from None


def run_simulate(args: argparse.Namespace) -> dict:
    from persona_core.simulate.run import plan_workload, simulate
    from persona_core.steer.checkpoint import has_checkpoint

    sim_config = _simulate_config(args)
    config, _ = read_config(args)
    space, run_id = resolve_space(args)
    ckpt = Path(args.checkpoint) if args.checkpoint else default_checkpoint_dir(space.run_key, config)
    if not has_checkpoint(ckpt):
        raise DataError("no trained SPM here: run `python -m persona_core train` first (same --config), or pass --checkpoint",
                        file=ckpt)
    plan_workload(space, ckpt, sim_config)  # bad personas / questions fail before any model is loaded
    t = time.perf_counter()
    engine = _engine(args, config, space, ckpt, sim_config.batch_size)
    load_seconds = time.perf_counter() - t
    summary = simulate(space, ckpt, engine, sim_config, db_url=args.db, run_id=run_id, model=config.model,
                       extra_seconds={"load_model": load_seconds})
    _print_report(summary)
    return summary


def _engine(args, config, space, ckpt: Path, batch_size: int):
    if args.engine == "local":
        from persona_core.simulate.local import LocalEngine
        from persona_core.steer.checkpoint import load_checkpoint
        from persona_core.steer.engine import model_geometry

        model, tokenizer = load_llm(config, args.threads)
        spm, _ = load_checkpoint(ckpt, run_key=space.run_key, geometry=model_geometry(model), base_model=model)
        return LocalEngine(model, tokenizer, spm, batch_size)
    try:
        from persona_core.simulate.config import RayConfig
        from persona_core.simulate.ray_engine import RayEngine
        from persona_core.simulate.scorer import WorkerSpec

        ray_config = RayConfig(address=args.address, workers=args.workers, cpus_per_worker=args.cpus_per_worker,
                               num_cpus=args.num_cpus)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    spec = WorkerSpec(model=config.model, checkpoint=str(ckpt.resolve()), run_key=space.run_key, batch_size=batch_size)
    return RayEngine(spec, ray_config)


def _print_report(summary: dict) -> None:
    rate = summary["rows_per_second"]
    print(f"simulation run {summary['simulation_run']}: {summary['rows']} rows ({summary['rows_scored']} scored, "
          f"{summary['chunks_skipped']} of {summary['chunks']} chunks already stored) with engine {summary['engine']} "
          f"in {summary['seconds']:.1f} s{'' if rate is None else f' ({rate:.1f} rows/s)'}", file=sys.stderr)
    align = summary.get("alignment")
    if align and align.get("pairs"):
        print(f"alignment with the real cohort distributions over {align['pairs']} (cohort, question) pairs: "
              f"steered {align['steered']:.3f}, unsteered {align['unsteered']:.3f}; steered closer for "
              f"{align['steered_better_share']:.0%}", file=sys.stderr)
        for label, entry in align["per_cohort"].items():
            print(f"  cohort {label}: steered {entry['steered']:.3f}, unsteered {entry['unsteered']:.3f} "
                  f"({entry['n_questions']} questions)", file=sys.stderr)
