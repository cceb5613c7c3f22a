"""Stored evaluation runs as tables: methods, accuracy by method, per-cohort alignment.

``results`` is the object ``python -m persona_core eval --json`` prints and stores:
``{"methods": {name: {"accuracy": …, "loglik": …, …}}, "cohort_alignment": {…},
"spm_relative_improvement": …, "n_respondents": …, "n_heldout": …}``.
"""
from __future__ import annotations

import numbers

import pandas as pd

#: Method names of issue 3, in the order the page lists them.
METHOD_ORDER = ("unsteered", "demographic", "history", "shared_prompt", "spm_individual", "spm_cohort", "cf")
METHOD_LABELS = {
    "unsteered": "Unsteered model",
    "demographic": "Demographic prompt",
    "history": "Answer-history prompt",
    "shared_prompt": "Shared soft prompt (PEFT)",
    "spm_individual": "SPM, respondent's embedding",
    "spm_cohort": "SPM, cohort centroid",
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
        rows.append(row)
    return pd.DataFrame(rows)


def alignment_frame(results: dict) -> pd.DataFrame:
    """Long table (method, cohort, alignment) of ``cohort_alignment``, whichever way it nests:
    ``{method: {cohort: value}}``, ``{cohort: {method: value}}`` or ``{method: value}``
    (one overall value per method, cohort ``"all"``)."""
    raw = results.get("cohort_alignment") or {}
    rows = []
    if not isinstance(raw, dict):
        return pd.DataFrame(columns=["method", "cohort", "alignment"])
    method_first = any(k in METHOD_ORDER for k in raw)
    for outer, inner in raw.items():
        if isinstance(inner, dict):
            for key, value in inner.items():
                if isinstance(value, dict):  # e.g. {"alignment": x, "n": …}
                    value = value.get("alignment", value.get("mean"))
                if isinstance(value, numbers.Number):
                    method, cohort = (outer, key) if method_first else (key, outer)
                    rows.append({"method": str(method), "cohort": str(cohort), "alignment": float(value)})
        elif isinstance(inner, numbers.Number):
            rows.append({"method": str(outer), "cohort": "all", "alignment": float(inner)})
    return pd.DataFrame(rows, columns=["method", "cohort", "alignment"])


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
