"""LLM-written cohort names for the pages and the CLI: read from the database's cache, and written
by the model once per (persona space, model, prompt) (see :mod:`persona_core.naming`).

Usage::

    from persona_core.service import cohort_names

    names = cohort_names.stored(url, run_id)                       # label -> CohortNameRecord
    names = cohort_names.ensure(url, view, load_llm, progress=print)  # names the cohorts not yet named
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from db.cohort_names import CohortNameRecord, load_cohort_names, save_cohort_names
from persona_core.naming import CohortNamingConfig, cohort_evidence, name_cohorts
from persona_core.service.catalog import SpaceView

if TYPE_CHECKING:  # only whoever loads a model imports the language-model stack
    from persona_core.llm import LLM

__all__ = ["CohortNameRecord", "ensure", "model_key", "stored"]


def model_key(model: str | None = None) -> str:
    """The model's name as the cache stores it (``None``: the configured default model), without
    importing the language-model stack (the Cohorts page reads the cache on every run)."""
    from persona_core.llm_name import resolve_model_name

    return resolve_model_name(model or None)


def stored(url: str | None, run_id: int, model: str | None = None,
           config: CohortNamingConfig | None = None) -> dict[int, CohortNameRecord]:
    """The cached names of embedding run ``run_id``'s cohorts by ``model`` (label -> record)."""
    from db.session import session_scope

    cfg = config or CohortNamingConfig()
    with session_scope(url) as session:
        return load_cohort_names(session, run_id, model_key(model), cfg.prompt_key)


def ensure(url: str | None, view: SpaceView, load_llm: Callable[[], LLM], model: str | None = None,
           config: CohortNamingConfig | None = None, progress: Callable[[int, int], None] | None = None,
           fresh: bool = False) -> dict[int, CohortNameRecord]:
    """Every cohort's name: the cached ones, and the others written now by the model that
    ``load_llm()`` returns (it must be ``model``; called only when some cohort without a cached
    name has distinctive answers to name it from) and stored in one transaction.
    ``progress(done, total)``: ``total`` is the number of cohorts named in this call. ``fresh``:
    write them all again."""
    from db.session import session_scope

    cfg = config or CohortNamingConfig()
    names = {} if fresh else stored(url, view.run_id, model, cfg)
    missing = [label for label in view.cohorts if label not in names]
    if missing:
        profiles = {label: view.profiles.get(label, {}) for label in view.cohorts}
        # a cohort without distinctive answers is stored as such without asking the model
        llm = load_llm() if any(cohort_evidence(profiles[label], cfg) for label in missing) else None
        written = name_cohorts(llm, profiles, cfg, progress, only=missing)
        with session_scope(url, write_lock=True) as session:
            save_cohort_names(session, view.run_id, model_key(model), cfg.prompt_key, list(written.values()))
        names.update(written)
    return {label: names[label] for label in view.cohorts if label in names}
