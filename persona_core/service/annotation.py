"""The annotation queue as the pages use it: a comparison sent to it (stored as a preference
pair), the database made ready for it, an annotator's progress and the pair on screen. Each
call is its own transaction; votes go through :func:`persona_core.preferences.store.submit_vote`."""
from __future__ import annotations

from db.store import PreferencePairInfo
from persona_core.preferences import store
from persona_core.service.compare import ComparisonResult


def comparison_meta(result: ComparisonResult, run_id: int | None, model: str | None) -> dict:
    """The hidden facts of a comparison pair: which side is steered, toward whom, how."""
    from persona_core.llm.config import LLMConfig

    return {
        "steered_side": "b",
        "method": result.method,
        "persona": {"kind": result.persona_kind, "key": result.persona_key, "title": result.persona_title},
        "question_id": result.question_id,
        "model": LLMConfig(model=model).resolved_model(),
        "settings": result.settings,
        "embedding_run": run_id,
        **result.extra,
    }


def prepare_database(db_url: str | None) -> str:
    """Create the tables the database at ``db_url`` lacks (idempotent, safe from several
    processes at once); returns the URL used."""
    from db.session import upgrade_database

    return upgrade_database(db_url)


def store_comparison(db_url: str | None, run_id: int | None, result: ComparisonResult, model: str | None = None) -> int:
    """Store ``result`` as a preference pair (unsteered = ``response_a``, steered =
    ``response_b``); returns the pair's id. Migrates the database first (idempotent)."""
    from db.session import session_scope

    prepare_database(db_url)
    with session_scope(db_url, write_lock=True) as session:
        return store.add_pair(
            session, prompt=result.prompt, response_a=result.unsteered, response_b=result.steered,
            source="compare", run_id=run_id, meta=comparison_meta(result, run_id, model),
        )


def annotator_progress(db_url: str | None, annotator: str) -> store.Progress:
    """How many pairs ``annotator`` has voted on, and the ids of the others, oldest first."""
    from db.session import session_scope

    with session_scope(db_url) as session:
        return store.progress(session, annotator)


def load_pair(db_url: str | None, pair_id: int) -> PreferencePairInfo:
    """One stored pair (``NotFoundError`` when there is none)."""
    from db.session import session_scope

    with session_scope(db_url) as session:
        return store.get_pair(session, pair_id)
