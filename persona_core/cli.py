"""Command line: ``python -m persona_core <command> ...`` runs pipelines headless.

Every command takes ``--db URL`` (default: ``PERSONA_DB_URL``, else the SQLite file in ``var/``).
With ``--json`` a command prints one JSON object as its last line of standard output; progress
bars and logs go to standard error.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from persona_core.progress import tqdm

log = logging.getLogger("persona_core")

SubcommandAdder = Callable[[argparse._SubParsersAction], None]


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL", default=None, help="SQLAlchemy database URL (default: PERSONA_DB_URL, else var/persona.db)")


# ------------------------------------------------------------------ build
def add_build_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="load a survey and build its persona space (embed, map, cohorts, profiles)")
    p.add_argument("--dataset", choices=["gss", "csv", "opinionqa"], default="gss")
    p.add_argument("--wave", default=None, help="GSS: 2016 (default), 2018, 2020; OpinionQA: e.g. W26")
    p.add_argument("--path", default=None, help="data file or folder (GSS: default ../shared/data/gss/gss_panel20.rda)")
    p.add_argument("--config", default=None, help="JSON file with SpaceConfig overrides, e.g. {\"factorization\": {\"n_factors\": 8}}")
    p.add_argument("--replace", action="store_true", help="replace a stored dataset of the same name whose content changed")
    p.add_argument("--if-missing", action="store_true", help="do nothing if this dataset already has a persona space")
    p.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    add_db_argument(p)
    p.set_defaults(func=run_build)


def add_warmup_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("warmup", help="compile the map's numba code once for this environment (make setup runs it)")
    p.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    p.set_defaults(func=run_warmup)


def run_warmup(args: argparse.Namespace) -> dict:
    from persona_core.jit_warmup import warm_jit_caches

    t = time.perf_counter()
    seconds = warm_jit_caches()
    return {"seconds": seconds, "total_seconds": round(time.perf_counter() - t, 2)}


def load_space_config(path: str | None):
    from persona_core.space import SpaceConfig

    if path is None:
        return SpaceConfig()
    try:
        return SpaceConfig.from_dict(json.loads(Path(path).read_text()))
    except (OSError, json.JSONDecodeError, TypeError) as exc:
        raise SystemExit(f"error: cannot use config {path}: {exc}") from exc


def run_build(args: argparse.Namespace) -> dict:
    from db.session import session_scope, upgrade_database
    from db.store import latest_embedding_run
    from persona_core.data.loaders import load_survey
    from persona_core.pipeline import PIPELINE_STAGES, build_and_store

    config = load_space_config(args.config)
    wave = args.wave or ("2016" if args.dataset == "gss" else None)
    if args.dataset != "gss" and args.path is None:
        raise SystemExit(f"error: --dataset {args.dataset} needs --path DIR")

    stages = tqdm(total=1 + len(PIPELINE_STAGES), desc="build", unit="stage", file=sys.stderr)
    stages.set_postfix_str("load")
    t = time.perf_counter()
    survey = load_survey(args.dataset, path=args.path, wave=wave)
    load_seconds = time.perf_counter() - t
    stages.update(1)
    _print_classification(survey)
    if args.if_missing:
        upgrade_database(args.db)
        with session_scope(args.db) as session:
            existing = latest_embedding_run(session, survey.name)
        from persona_core.data.survey_files import META

        readable = existing is not None and existing.artifact_path and (Path(existing.artifact_path) / META).is_file()
        if existing is not None and not readable:
            print(f"{survey.name}: persona space run {existing.id} was saved in an older format; building it again",
                  file=sys.stderr)
        if readable:
            stages.close()
            print(f"{survey.name} already has persona space run {existing.id}; nothing to do", file=sys.stderr)
            return {"dataset": survey.name, "embedding_run": existing.id, "built": False}

    started: list[str] = []

    def on_stage(name: str) -> None:
        if started:
            stages.update(1)
        started.append(name)
        stages.set_postfix_str(name)

    built = build_and_store(
        survey, db_url=args.db, kind=args.dataset, config=config, replace=args.replace,
        on_stage=on_stage, seconds={"load": load_seconds},
    )
    stages.update(1)
    stages.close()
    space, seconds = built.space, built.seconds
    # the "load" stage covers reading the file and storing it in the database
    seconds["load"] = seconds.get("load", 0.0) + seconds.pop("store", 0.0)
    summary = {
        "dataset": survey.name,
        "embedding_run": built.run_id,
        "run_key": space.run_key,
        "built": True,
        **{k: space.metrics[k] for k in (
            "respondents", "questions", "answers", "heldout_accuracy", "heldout_log_loss",
            "majority_accuracy", "bias_only_accuracy", "bias_only_log_loss", "cohorts", "outlier_share",
            "shown_outlier_share",
        )},
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "artifacts": str(built.artifact_dir),
    }
    _print_build_report(space)
    return summary


def _print_classification(survey) -> None:
    counts = survey.source.get("classification")
    if counts:
        from persona_core.data.gss import format_classification

        print(format_classification(counts, survey.source.get("wave")), file=sys.stderr)


def _print_build_report(space) -> None:
    m = space.metrics
    print(
        f"{m['respondents']} respondents, {m['questions']} questions, {m['answers']} answers\n"
        f"held-out accuracy {m['heldout_accuracy']:.3f} (majority {m['majority_accuracy']:.3f}, "
        f"bias-only {m['bias_only_accuracy']:.3f}); log-loss {m['heldout_log_loss']:.3f} "
        f"(bias-only {m['bias_only_log_loss']:.3f})\n"
        f"{m['cohorts']} cohorts, {m['outlier_share']:.1%} outliers (HDBSCAN), {m['shown_outlier_share']:.1%} grey on the map",
        file=sys.stderr,
    )
    for label, prof in space.profiles.items():
        print(f"  cohort {label} ({prof['size']}): {prof['name']}", file=sys.stderr)


# ------------------------------------------------------------------- main
def build_parser(extra: list[SubcommandAdder] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m persona_core", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    parser.add_argument("--job", type=int, default=None, metavar="ID",
                        help="run as background job ID: report progress and the end into its database row "
                             "(set by persona_core.service.jobs.submit; not for typing)")
    sub = parser.add_subparsers(dest="command", required=True)
    for adder in [add_build_parser, add_warmup_parser, *_optional_adders(), *(extra or [])]:
        adder(sub)
    return parser


def _optional_adders() -> list[SubcommandAdder]:
    """Subcommands of other parts of the library (steering, preferences), when present."""
    adders: list[SubcommandAdder] = []
    for module, names in (
        ("persona_core.cli_steer", ("add_train_parser", "add_eval_parser")),
        ("persona_core.cli_pairs", ("add_pairs_parser", "add_personas_parser")),
        ("persona_core.cli_simulate", ("add_simulate_parser",)),
        ("persona_core.cli_names", ("add_name_cohorts_parser",)),
        ("persona_core.cli_jobs", ("add_first_run_parser", "add_jobs_parser")),
    ):
        try:
            mod = __import__(module, fromlist=list(names))
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        adders.extend(getattr(mod, n) for n in names if hasattr(mod, n))
    return adders


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    job = _attach_job(argv)
    if job is not None:
        from persona_core.service.jobs import lower_priority

        lower_priority()  # a background job gives way to the app the user is working in
    parser = build_parser()
    if job is None:
        args = parser.parse_args(argv)
    else:
        import contextlib
        import io

        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                args = parser.parse_args(argv)
        except SystemExit as exc:
            sys.stderr.write(err.getvalue())
            lines = err.getvalue().strip().splitlines()
            job.fail(f"{lines[-1] if lines else 'bad arguments'} (exit status {exc.code})")
            raise
        sys.stderr.write(err.getvalue())
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    from persona_core.data.errors import DataError

    try:
        result = args.func(args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if job is not None:
            job.fail(str(exc))
        return 2
    except BaseException as exc:
        if job is not None:
            from persona_core.service.jobs import describe_exit

            job.fail(describe_exit(exc))
        raise
    if job is not None:
        job.finish(json.loads(json.dumps(result, default=_json_default)) if isinstance(result, dict) else {})
    if getattr(args, "json", False) and result is not None:
        print(json.dumps(result, default=_json_default))
    return 0


def _attach_job(argv: list[str]):
    """``--job ID`` before the subcommand: this process is that background job (see
    :mod:`persona_core.service.jobs`); its progress and end go into the job's row."""
    for i, word in enumerate(argv):
        if not word.startswith("-"):
            return None  # the subcommand: global options come before it
        if word == "--job" and i + 1 < len(argv) and argv[i + 1].isdigit():
            from persona_core.service.jobs import JobRun

            return JobRun.attach(None, int(argv[i + 1]))
        if word.startswith("--job="):
            from persona_core.service.jobs import JobRun

            return JobRun.attach(None, int(word.split("=", 1)[1]))
    return None


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "__dataclass_fields__"):
        return asdict(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
