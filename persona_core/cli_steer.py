"""``python -m persona_core train`` and ``eval``: train a soft-prompting model, judge it.

Both find the persona space through the database (the newest embedding run, optionally of one
``--dataset``) or a saved space folder (``--space DIR``). Progress and tables go to standard
error / output; with ``--json`` the command's summary is printed as the last line.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from persona_core import progress
from persona_core.data.errors import DataError, no_persona_space


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", default=None, help="SQLAlchemy database URL (default: PERSONA_DB_URL, else var/persona.db)")
    p.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    p.add_argument("--config", default=None, help="JSON file with sections spm / train / model (and eval for eval)")
    p.add_argument("--dataset", default=None, help="use the newest persona space of this stored dataset (default: newest of any)")
    p.add_argument("--space", default=None, help="a saved persona space folder instead of the database's newest")
    p.add_argument("--checkpoint", default=None, help="SPM checkpoint folder (default: var/artifacts/spm/<run_key>/<config>)")
    p.add_argument("--tiny", action="store_true", help="the tiny CI configuration (seconds, not minutes)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice; 1 is faster on a machine busy with other work)")


def add_train_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train the soft-prompting model (SPM) on the persona space")
    _common(p)
    p.add_argument("--mode", choices=["prefix", "prompt", "suffix", "suffix_kv"], default=None, help="override spm.mode")
    p.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint and start over")
    p.set_defaults(func=run_train)


def add_eval_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help="score the SPM and the baselines on held-out answers")
    _common(p)
    p.add_argument("--methods", default=None, help="comma-separated subset of the seven methods")
    p.add_argument("--no-store", action="store_true", help="do not store the results in the database")
    p.set_defaults(func=run_eval)


# ------------------------------------------------------------------ helpers
def read_config(args) -> tuple[Any, dict]:
    from persona_core.steer.config import SteerConfig, default_config, tiny_config

    data: dict = {}
    if args.config:
        try:
            data = json.loads(Path(args.config).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"cannot read the config ({exc})", file=args.config) from None
    eval_section = data.pop("eval", {}) if isinstance(data, dict) else {}
    base = tiny_config() if args.tiny else default_config()
    merged = base.to_dict()
    for section in ("spm", "train"):
        merged[section].update(data.get(section, {}))
    if "model" in data:
        merged["model"] = data["model"]
    if "adapter" in data:  # null: frozen LLM; an object: overrides of the default adapter
        adapter = data["adapter"]
        merged["adapter"] = None if adapter is None else {**(merged["adapter"] or {}), **adapter}
    unknown = set(data) - {"spm", "train", "model", "adapter"}
    if unknown:
        raise DataError(f"unknown config section(s) {sorted(unknown)}", file=args.config)
    try:
        config = SteerConfig.from_dict(merged)
    except (TypeError, ValueError) as exc:
        raise DataError(str(exc), file=args.config) from None
    if getattr(args, "mode", None):
        config.spm.mode = args.mode
    return config, eval_section


def resolve_space(args):
    """(PersonaSpace, embedding run id or None)."""
    from persona_core.space import PersonaSpace

    from db.session import session_scope, upgrade_database
    from db.store import list_embedding_runs

    upgrade_database(args.db)
    with session_scope(args.db) as session:
        runs = list_embedding_runs(session, args.dataset)
    if args.space:
        space = PersonaSpace.load(args.space)
        same = [r for r in runs if r.params.get("run_key") == space.run_key]
        return space, (same[0].id if same else None)
    runs = [r for r in runs if r.artifact_path and Path(r.artifact_path).exists()]
    if not runs:
        raise no_persona_space(args.dataset, " (or pass --space DIR)")
    return PersonaSpace.load(runs[0].artifact_path), runs[0].id


def _config_key(config) -> str:
    return hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:10]


def default_checkpoint_dir(run_key: str, config) -> Path:
    from persona_core.data.paths import artifacts_dir

    return artifacts_dir() / "spm" / run_key / f"{config.spm.mode}-{_config_key(config)}"


def load_llm(config, threads: int | None = None):
    if threads:
        import torch

        torch.set_num_threads(threads)
    from persona_core.llm.config import LLMConfig
    from persona_core.llm.loading import load_model

    return load_model(LLMConfig(model=config.model))


# -------------------------------------------------------------------- train
def run_train(args: argparse.Namespace) -> dict:
    import shutil

    from persona_core.steer.train import SPMTrainer

    config, _ = read_config(args)
    space, _ = resolve_space(args)
    out = Path(args.checkpoint) if args.checkpoint else default_checkpoint_dir(space.run_key, config)
    if args.fresh and out.exists():
        shutil.rmtree(out)
    progress.stage("loading the language model")
    model, tokenizer = load_llm(config, args.threads)

    def on_curve(point: dict) -> None:
        print(f"step {point['step']:>5}  held-out accuracy {point['accuracy']:.3f} (pooled {point['pooled_accuracy']:.3f}, "
              f"loglik {point['loglik']:.3f})  {point['seconds']:.0f} s", file=sys.stderr, flush=True)

    trainer = SPMTrainer(model, tokenizer, config, checkpoint_dir=out, on_curve=on_curve)
    for note in _pre_notes(space, config):
        print(f"note: {note}", file=sys.stderr)
    progress.stage("training")
    result = trainer.fit(space.survey, space.embeddings, space.heldout_mask, space.run_key,
                         teacher=space.factorization.predict_proba)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    last = result.learning_curve[-1] if result.learning_curve else {}
    print(f"trained {config.spm.mode} SPM: {result.steps} steps in {result.seconds:.0f} s "
          f"({result.seconds_per_step:.2f} s/step); held-out accuracy {last.get('accuracy', float('nan')):.3f}; "
          f"checkpoint {out}", file=sys.stderr)
    return {
        "dataset": space.survey.name,
        "run_key": space.run_key,
        "checkpoint": str(out),
        "mode": config.spm.mode,
        "n_tokens": config.spm.n_tokens,
        "steps": result.steps,
        "seconds": round(result.seconds, 2),
        "seconds_per_step": round(result.seconds_per_step, 4),
        "free_text_targets_seconds": round(result.free_text_seconds, 2),
        "heldout_accuracy": last.get("accuracy"),
        "learning_curve": result.learning_curve,
        "resumed_from_epoch": result.resumed_from_epoch,
        "notes": result.notes,
        "config": config.to_dict(),
    }


def _pre_notes(space, config) -> list[str]:
    t = config.train
    return [f"training on the persona space {space.run_key} of {space.survey.name}: up to {t.epochs} epoch(s) x "
            f"{t.steps_per_epoch or 'all'} steps of {t.batch_size} answers ({config.spm.mode} mode, T = {config.spm.n_tokens})"]


# --------------------------------------------------------------------- eval
def run_eval(args: argparse.Namespace) -> dict:
    from persona_core.evaluate.run import EvalConfig, Evaluator
    from persona_core.steer.checkpoint import has_checkpoint, load_checkpoint
    from persona_core.steer.engine import model_geometry

    config, eval_section = read_config(args)
    try:
        eval_config = EvalConfig(**eval_section)
    except (TypeError, ValueError) as exc:
        raise DataError(f"bad eval section: {exc}", file=args.config) from None
    if args.tiny:
        eval_config = EvalConfig(**{**asdict(tiny_eval_config()), **eval_section})
    if args.methods:
        eval_config.methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
        try:
            eval_config.__post_init__()
        except ValueError as exc:
            raise DataError(f"--methods: {exc}") from None
    space, run_id = resolve_space(args)
    ckpt = Path(args.checkpoint) if args.checkpoint else default_checkpoint_dir(space.run_key, config)
    if not has_checkpoint(ckpt):
        raise DataError("no trained SPM here: run `python -m persona_core train` first (same --config), or pass --checkpoint",
                        file=ckpt)
    progress.stage("loading the language model and the SPM")
    model, tokenizer = load_llm(config, args.threads)
    spm, record = load_checkpoint(ckpt, run_key=space.run_key, geometry=model_geometry(model), base_model=model)
    from persona_core.data.paths import artifacts_dir

    cache = artifacts_dir() / "eval_cache" / space.run_key
    progress.stage("evaluating")
    result = Evaluator(model, tokenizer, space, spm, record, eval_config, cache_dir=cache).run()
    result["learning_curve"] = record.get("learning_curve", [])
    print(format_table(result))
    if not args.no_store and run_id is not None:
        from db.session import session_scope
        from db.store import save_evaluation_run

        progress.stage("storing the evaluation")
        with session_scope(args.db) as session:
            result["evaluation_run"] = save_evaluation_run(
                session, run_id=run_id, model_name=config.model or "default", checkpoint=str(ckpt),
                config={"steer": record["config"], "eval": asdict(eval_config)}, results=result,
            )
    return result


def _interval(ci) -> str:
    return f" [{ci[0]:.0%}-{ci[1]:.0%}]" if ci and all(v == v for v in ci) else ""  # nan: no interval


def tiny_eval_config():
    from persona_core.evaluate.run import EvalConfig

    return EvalConfig(respondents=8, questions=4, shared_prompt_steps=3, unseen_ks=(1, 5), unseen_respondents=4,
                      unseen_answers_per_respondent=3, min_cohort_answers=2)


def format_table(result: dict) -> str:
    """The methods' scores as a fixed-width table."""
    lines = [f"{'method':<16}{'accuracy':>10}{'95% interval':>16}{'pooled':>10}{'loglik':>10}{'cohort align':>14}"]
    align = result.get("cohort_alignment", {})
    for name, m in result["methods"].items():
        a = align.get(name)
        ci = m.get("accuracy_ci95") or [float("nan")] * 2
        lines.append(f"{name:<16}{m['accuracy']:>10.3f}{f'{ci[0]:.3f}-{ci[1]:.3f}':>16}{m['pooled_accuracy']:>10.3f}"
                     f"{m['loglik']:>10.3f}{'' if a is None else f'{a:.3f}':>14}")
    rel = result.get("spm_relative_improvement")
    lines.append(f"{result['n_heldout']} held-out answers of {result['n_respondents']} respondents; SPM vs best baseline: "
                 f"{'n/a' if rel is None else f'{rel:+.1%}'}")
    share = align.get("spm_cohort_better_share")
    if share is not None:
        lines.append(f"spm_cohort more aligned than unsteered for {share:.0%} of {len(align.get('per_cohort', {}))} cohorts")
    new = result.get("new_questions") or {}
    if new.get("methods"):
        accs = ", ".join(f"{k} {v['accuracy']:.3f}" for k, v in new["methods"].items())
        closer = new.get("steered_closer_share")
        lines.append(f"new questions ({new['n_questions']}, {new['n_answers']} answers): {accs}; steered cohort "
                     f"distribution closer than unsteered for {'n/a' if closer is None else f'{closer:.0%}'} of "
                     f"{new['cohort_question_pairs']} (cohort, question) pairs{_interval(new.get('steered_closer_share_ci95'))}")
    for k, v in result.get("unseen", {}).items():
        lines.append(f"unseen respondents, K = {k:>2}: SPM {v['spm_individual']:.3f}, CF {v['cf']:.3f}")
    return "\n".join(lines)
