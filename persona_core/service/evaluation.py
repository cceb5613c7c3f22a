"""Stored evaluation runs as tables: methods, accuracy by method, per-cohort alignment.

``results`` is the object ``python -m persona_core eval --json`` prints and stores:
``{"methods": {name: {"accuracy": …, "loglik": …, …}}, "cohort_alignment": {…},
"spm_relative_improvement": …, "n_respondents": …, "n_heldout": …}``.
"""
from __future__ import annotations

import numbers

import pandas as pd

#: Method names of issue 3, in the order the page lists them.
METHOD_ORDER = ("majority", "unsteered", "demographic", "history", "shared_prompt", "spm_individual", "spm_cohort",
                "spm_population", "cf")
METHOD_LABELS = {
    "majority": "Majority answer of the question (no LLM)",
    "unsteered": "Unsteered model",
    "demographic": "Demographic prompt",
    "history": "Answer-history prompt",
    "shared_prompt": "Shared soft prompt (PEFT)",
    "spm_individual": "SPM, respondent's embedding",
    "spm_cohort": "SPM, cohort centroid",
    "spm_population": "SPM, population mean (what the adapter alone gives)",
    "cf": "Collaborative filtering (reference)",
}


def _order(names) -> list[str]:
    rank = {m: i for i, m in enumerate(METHOD_ORDER)}
    return sorted(names, key=lambda m: (rank.get(m, len(rank)), m))


def methods_frame(results: dict) -> pd.DataFrame:
    """One row per method with its numeric measures (``accuracy``, ``loglik``, …)."""
    methods = results.get("methods") or {}
    rows = []
    for name in _order(methods):
        values = methods[name] if isinstance(methods[name], dict) else {"accuracy": methods[name]}
        row = {"method": name, "description": METHOD_LABELS.get(name, name)}
        row.update({k: float(v) for k, v in values.items() if isinstance(v, numbers.Number) and not isinstance(v, bool)})
        ci = values.get("accuracy_ci95")
        if isinstance(ci, (list, tuple)) and len(ci) == 2:
            row["accuracy_ci95_low"], row["accuracy_ci95_high"] = float(ci[0]), float(ci[1])
        rows.append(row)
    return pd.DataFrame(rows)


def alignment_frame(results: dict) -> pd.DataFrame:
    """Long table (method, cohort, alignment, n_answers) of what the evaluation stores:
    ``cohort_alignment = {"per_cohort": {cohort: {method: value, "n_answers": n, …}}, method: the
    answer-weighted mean over those cohorts, "n_answers": their total, "pairs": {…}, …}``. The
    per-method means become cohort ``"all"``; counts and shares are never drawn as alignments."""
    raw = results.get("cohort_alignment") or {}
    columns = ["method", "cohort", "alignment", "n_answers"]
    if not isinstance(raw, dict):
        return pd.DataFrame(columns=columns)
    rows = []
    per_cohort = raw.get("per_cohort") or {}
    for cohort, entry in per_cohort.items():
        if not isinstance(entry, dict):
            continue
        for method in _order(m for m in entry if m in METHOD_ORDER):
            if isinstance(entry[method], numbers.Number):
                rows.append({"method": method, "cohort": str(cohort), "alignment": float(entry[method]),
                             "n_answers": int(entry.get("n_answers", 0))})
    for method in _order(m for m in raw if m in METHOD_ORDER):
        if isinstance(raw[method], numbers.Number):
            total = raw.get("n_answers")
            if not isinstance(total, numbers.Number):
                total = sum(int(e.get("n_answers", 0)) for e in per_cohort.values() if isinstance(e, dict))
            rows.append({"method": method, "cohort": "all", "alignment": float(raw[method]), "n_answers": int(total)})
    return pd.DataFrame(rows, columns=columns)


def headline(results: dict) -> dict:
    """The scalar facts of a run (relative improvement of the SPM, sample sizes, …)."""
    return {k: v for k, v in results.items() if isinstance(v, (numbers.Number, str)) and not isinstance(v, bool)}


def list_evaluations(db_url: str | None, run_id: int | None = None) -> list:
    """Stored evaluation runs (:class:`db.store.EvaluationRunInfo`), newest first; of one
    embedding run when ``run_id`` is given. An unmigrated database has none."""
    from sqlalchemy import inspect

    from db.session import get_engine, session_scope
    from db.store import list_evaluation_runs

    if not inspect(get_engine(db_url)).has_table("evaluation_run"):
        return []
    with session_scope(db_url) as session:
        return list_evaluation_runs(session, run_id=run_id)
