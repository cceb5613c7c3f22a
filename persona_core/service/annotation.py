"""Sending a comparison to the annotation queue (stored as a preference pair)."""
from __future__ import annotations

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


def store_comparison(db_url: str | None, run_id: int | None, result: ComparisonResult, model: str | None = None) -> int:
    """Store ``result`` as a preference pair (unsteered = ``response_a``, steered =
    ``response_b``); returns the pair's id. Migrates the database first (idempotent)."""
    from db.session import session_scope, upgrade_database
    from db.store import save_preference_pair

    upgrade_database(db_url)
    with session_scope(db_url, write_lock=True) as session:
        return save_preference_pair(
            session, prompt=result.prompt, response_a=result.unsteered, response_b=result.steered,
            source="compare", run_id=run_id, meta=comparison_meta(result, run_id, model),
        )
