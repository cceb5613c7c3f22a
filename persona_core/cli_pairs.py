"""Command line for preference pairs and induced personas (registered by persona_core.cli)::

    python -m persona_core pairs generate --personas cohort:0 cohort:1 --questions abany free:"Is tea good?"
    python -m persona_core pairs import FILE.jsonl
    python -m persona_core pairs list
    python -m persona_core pairs vote --pair 3 --annotator ana --choice a
    python -m persona_core pairs export --format dpo --out pairs.jsonl
    python -m persona_core pairs export --format csv --out annotations.csv
    python -m persona_core pairs stats
    python -m persona_core personas induce --annotator ana
    python -m persona_core personas show --annotator ana
"""
from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from persona_core.cli import add_db_argument
from persona_core.data.errors import DataError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    add_db_argument(p)


def _user_errors(func):
    """Store and value errors become DataError (a clean message and exit status 2)."""

    @functools.wraps(func)
    def wrapper(args):
        from db.store import StoreError

        try:
            return func(args)
        except (StoreError, ValueError) as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(str(exc)) from exc

    return wrapper


# -------------------------------------------------------------------------- pairs
def add_pairs_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pairs", help="preference pairs: generate, import, list, vote, export, stats")
    psub = p.add_subparsers(dest="pairs_command", required=True)

    g = psub.add_parser("generate", help="steered vs unsteered answers (or two personas) for persona x question")
    g.add_argument("--personas", nargs="+", required=True, metavar="P", help="cohort:N, respondent:ID (or a bare cohort number / respondent id), largest:N (the N largest cohorts)")
    g.add_argument("--questions", nargs="+", required=True, metavar="Q", help="survey question ids, free:TEXT, or distinctive:N (N questions that set the chosen cohorts apart)")
    g.add_argument("--run", type=int, default=None, help="embedding run id (default: the newest)")
    g.add_argument("--mode", choices=["steered", "personas"], default="steered",
                   help="steered: unsteered vs steered per persona; personas: every two personas against each other")
    g.add_argument("--method", choices=["auto", "spm", "text"], default="auto", help="auto: the SPM when a checkpoint is found, else text")
    g.add_argument("--checkpoint", default="auto", help="SPM checkpoint folder, 'auto' (newest of this run) or 'none'")
    g.add_argument("--model", default=None, help="LLM (default: PERSONA_MODEL or SmolLM2-135M-Instruct)")
    g.add_argument("--max-new-tokens", type=int, default=48)
    g.add_argument("--temperature", type=float, default=0.7)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--answer-first", action=argparse.BooleanOptionalAction, default=True,
                   help="on a bank question, each side starts with the option it picks from its own option "
                        "probabilities, then explains it (--no-answer-first: free text only)")
    _common(g)
    g.set_defaults(func=run_generate)

    i = psub.add_parser("import", help="load pairs (and optional votes) from a JSONL file, all or nothing")
    i.add_argument("file", help="JSONL: {prompt, response_a, response_b, ...metadata} per line")
    i.add_argument("--source", default="import", help="source name stored with the pairs")
    _common(i)
    i.set_defaults(func=run_import)

    ls = psub.add_parser("list", help="stored pairs with their vote counts")
    ls.add_argument("--source", default=None)
    _common(ls)
    ls.set_defaults(func=run_list)

    v = psub.add_parser("vote", help="store one vote (a re-vote replaces the annotator's earlier one)")
    v.add_argument("--pair", type=int, required=True)
    v.add_argument("--annotator", required=True)
    v.add_argument("--choice", required=True, choices=["a", "b", "tie", "both_bad"], help="a = response_a better, ...")
    v.add_argument("--rationale", default="")
    v.add_argument("--order", choices=["ab", "ba"], default="ab", help="the order the pair was shown in")
    _common(v)
    v.set_defaults(func=run_vote)

    e = psub.add_parser("export", help="DPO JSONL {prompt, chosen, rejected} or a CSV of every annotation")
    e.add_argument("--format", choices=["dpo", "csv"], required=True)
    e.add_argument("--out", default=None, help="output file (default: standard output)")
    e.add_argument("--annotator", default=None, help="dpo: only this annotator's votes")
    e.add_argument("--source", default=None, help="dpo: only pairs of this source")
    _common(e)
    e.set_defaults(func=run_export)

    s = psub.add_parser("stats", help="votes per annotator, agreement (Krippendorff's alpha), win rates per persona")
    s.add_argument("--n-boot", type=int, default=2000)
    _common(s)
    s.set_defaults(func=run_stats)


def _migrated(url: str | None) -> str | None:
    from db.session import upgrade_database

    upgrade_database(url)
    return url


@_user_errors
def run_generate(args: argparse.Namespace) -> dict:
    from db.session import session_scope
    from db.store import NotFoundError
    from persona_core.llm import LLM, LLMConfig
    from persona_core.preferences import store
    from persona_core.service.catalog import load_space_view, stored_run_id
    from persona_core.service.checkpoints import find_checkpoints, load_spm
    from persona_core.service.compare import Comparer
    from persona_core import progress
    from persona_core.service.pairs import GenerateConfig, PairGenerator, resolve_personas, resolve_questions

    url = _migrated(args.db)
    run_id = stored_run_id(url, run=args.run)
    try:
        view = load_space_view(url, run_id)
    except NotFoundError as exc:
        raise DataError(str(exc)) from None
    personas = resolve_personas(view, args.personas)
    questions = resolve_questions(view, args.questions, personas)
    progress.stage("loading the language model")
    llm = LLM.from_config(LLMConfig(model=args.model))
    spm = spm_path = None
    if args.checkpoint != "none" and args.method != "text":
        if args.checkpoint == "auto":
            found = find_checkpoints(view.run_key)
            spm_path = found[0].path if found else None
        else:
            spm_path = args.checkpoint
        if spm_path is not None:
            spm, _ = load_spm(spm_path, view.run_key, llm)
    if args.method == "spm" and spm is None:
        raise DataError(f"--method spm: no SPM checkpoint for embedding run {run_id} (train one: python -m persona_core train)")
    config = GenerateConfig(mode=args.mode, method=args.method, max_new_tokens=args.max_new_tokens,
                            temperature=args.temperature, seed=args.seed, answer_first=args.answer_first)
    generator = PairGenerator(Comparer(llm, spm=spm, spm_path=spm_path), view, config, model_name=args.model)
    ids: list[int] = []

    def save(pair) -> None:  # one transaction per pair: an interrupted batch keeps what it made
        with session_scope(url, write_lock=True) as session:
            ids.append(store.add_pair(session, prompt=pair.prompt, response_a=pair.response_a, response_b=pair.response_b,
                                      source=f"generate:{args.mode}", run_id=run_id, meta=pair.meta))

    progress.stage("generating pairs")
    generator.generate(personas, questions, on_pair=save)
    print(f"stored {len(ids)} pairs ({generator.method} steering) from embedding run {run_id}", file=sys.stderr)
    return {"pairs": len(ids), "pair_ids": ids, "embedding_run": run_id, "mode": args.mode,
            "method": generator.method, "spm_checkpoint": spm_path}


@_user_errors
def run_import(args: argparse.Namespace) -> dict:
    from persona_core.preferences.io import import_pairs

    result = import_pairs(_migrated(args.db), args.file, source=args.source)
    print(f"imported {result.pairs} pairs and {result.votes} votes from {args.file}", file=sys.stderr)
    return {"pairs": result.pairs, "votes": result.votes, "pair_ids": result.pair_ids}


@_user_errors
def run_list(args: argparse.Namespace) -> dict:
    from db.session import session_scope
    from persona_core.preferences import store

    with session_scope(_migrated(args.db)) as session:
        pairs = store.list_pairs(session, source=args.source)
        votes = store.list_votes(session)
    counts: dict[int, int] = {}
    for v in votes:
        counts[v.pair_id] = counts.get(v.pair_id, 0) + 1
    rows = [{"id": p.id, "source": p.source, "votes": counts.get(p.id, 0), "prompt": p.prompt} for p in pairs]
    if not args.json:
        for r in rows:
            print(f"{r['id']:>6}  {r['source']:<18} {r['votes']:>3} votes  {' '.join(r['prompt'].split())[:70]}")
    return {"pairs": rows}


@_user_errors
def run_vote(args: argparse.Namespace) -> dict:
    from persona_core.preferences import store

    result = store.submit_vote(_migrated(args.db), pair_id=args.pair, annotator=args.annotator, choice=args.choice,
                               displayed_order=args.order, token=store.new_token(), rationale=args.rationale,
                               extra_facts={"via": "cli"})
    note = f", replacing vote {result.replaced_id}" if result.replaced_id else ""
    print(f"stored vote {result.vote.id} of {result.vote.annotator} on pair {args.pair}{note}", file=sys.stderr)
    return {"annotation_id": result.vote.id, "pair_id": args.pair, "replaced": result.replaced_id}


@_user_errors
def run_export(args: argparse.Namespace) -> dict:
    from db.session import session_scope
    from persona_core.preferences import io

    out = open(args.out, "w", encoding="utf-8", newline="") if args.out else sys.stdout
    try:
        with session_scope(_migrated(args.db)) as session:
            if args.format == "dpo":
                export = io.dpo_records(session, annotator=args.annotator, source=args.source)
                io.write_dpo(export, out)
                summary = {"format": "dpo", **export.counts}
            else:
                rows = io.csv_rows(session)
                io.write_csv(rows, out)
                summary = {"format": "csv", "rows": len(rows)}
    finally:
        if args.out:
            out.close()
    if args.out:
        summary["out"] = str(Path(args.out))
    print(", ".join(f"{k}: {v}" for k, v in summary.items()), file=sys.stderr)
    return summary


@_user_errors
def run_stats(args: argparse.Namespace) -> dict:
    from persona_core.preferences.stats import StatsConfig, database_summary

    result = database_summary(_migrated(args.db), StatsConfig(n_boot=args.n_boot))
    if not args.json:
        print(format_stats(result))
    return result


def format_stats(s: dict) -> str:
    """The statistics as a short text report."""
    lines = [f"{s['pairs']} pairs, {s['votes']} current votes"]
    for name, row in s["votes_per_annotator"].items():
        lines.append(f"  {name}: {row['votes']} votes (A/B {row['a']}/{row['b']}, tie {row['tie']}, both bad {row['both_bad']})")
    a = s["agreement"]
    if a["pairs"]:
        alpha = "undefined" if a["alpha"] is None else f"{a['alpha']:.3f}"
        lines.append(f"agreement on {a['pairs']} pairs with 2+ annotators: Krippendorff's alpha {alpha}, raw {a['raw']:.1%}")
    else:
        lines.append("agreement: no pair has two or more annotators yet")
    for w in s["win_rates"]:
        rate = "n/a" if w["rate"] is None else f"{w['rate']:.1%} [{w['low']:.1%}, {w['high']:.1%}]"
        lines.append(f"steered wins for {w['persona']}: {rate} over {w['votes']} votes "
                     f"({w['wins']} W / {w['losses']} L / {w['ties']} T, {w['both_bad']} both bad)")
    return "\n".join(lines)


# ----------------------------------------------------------------------- personas
def add_personas_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("personas", help="personas induced from an annotator's votes (SynthesizeMe)")
    psub = p.add_subparsers(dest="personas_command", required=True)

    i = psub.add_parser("induce", help="induce a persona from one annotator's votes and evaluate its judge")
    i.add_argument("--annotator", required=True)
    i.add_argument("--model", default=None, help="LLM (default: PERSONA_MODEL or SmolLM2-135M-Instruct)")
    i.add_argument("--min-pairs", type=int, default=5)
    i.add_argument("--max-demos", type=int, default=4)
    i.add_argument("--demo-sets", type=int, default=4)
    i.add_argument("--attempts", type=int, default=1, help="reasoning attempts per context pair")
    i.add_argument("--seed", type=int, default=0)
    i.add_argument("--no-save", action="store_true", help="evaluate only; do not store the persona")
    _common(i)
    i.set_defaults(func=run_induce)

    s = psub.add_parser("show", help="the stored induced persona(s)")
    s.add_argument("--annotator", default=None, help="default: every annotator's newest")
    _common(s)
    s.set_defaults(func=run_show)


@_user_errors
def run_induce(args: argparse.Namespace) -> dict:
    from persona_core.llm import LLM, LLMConfig
    from persona_core.preferences.personas import induce, load_examples
    from persona_core.preferences.synthesize import SynthesizeMeConfig

    url = _migrated(args.db)
    config = SynthesizeMeConfig(min_pairs=args.min_pairs, max_demos=args.max_demos, n_demo_sets=args.demo_sets,
                                attempts=args.attempts, seed=args.seed)
    examples = load_examples(url, args.annotator, args.min_pairs)  # before loading the model
    llm_config = LLMConfig(model=args.model)
    llm = LLM.from_config(llm_config)
    result = induce(url, args.annotator, llm, config, model_name=llm_config.resolved_model(), save=not args.no_save,
                    examples=examples)
    m = result.metrics
    print(
        f"persona of {result.annotator} ({result.pairs} decided pairs; split {result.split}; "
        f"{result.kept_reasoning} reasoning traces kept):\n  {result.persona}\n"
        f"test accuracy (both orders, ties wrong): SynthesizeMe {m['synthesizeme']['accuracy']:.1%} "
        f"(debiased {m['synthesizeme']['accuracy_debiased']:.1%}), default judge {m['default_judge']['accuracy']:.1%} "
        f"(debiased {m['default_judge']['accuracy_debiased']:.1%}), random 50.0%",
        file=sys.stderr,
    )
    return result.to_dict()


@_user_errors
def run_show(args: argparse.Namespace) -> dict:
    from dataclasses import asdict

    from db.session import session_scope
    from persona_core.preferences.personas import latest_induced_persona, list_induced_personas

    with session_scope(_migrated(args.db)) as session:
        if args.annotator:
            found = latest_induced_persona(session, args.annotator)
            personas = [found] if found else []
        else:
            personas = list_induced_personas(session)
    if not args.json:
        for p in personas:
            print(f"{p.annotator} (persona {p.id}, {p.model_name}): {p.text}")
        if not personas:
            print("no induced personas", file=sys.stderr)
    return {"personas": [{**asdict(p), "created_at": p.created_at.isoformat()} for p in personas]}
