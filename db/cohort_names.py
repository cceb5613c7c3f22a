"""LLM-written cohort names, cached per (embedding run, model, prompt version).

Every function works in the caller's session (one transaction per :func:`db.session.session_scope`),
so :func:`save_cohort_names` replaces a run's names for one (model, prompt) key whole or not at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import Cohort, CohortName
from db.session import lock_keys


class CohortNameError(ValueError):
    """Names that cannot be stored as asked (e.g. for a cohort the run does not have)."""


@dataclass(frozen=True)
class CohortNameRecord:
    """One cohort's LLM-written name: ``name`` ``None`` if the model's reply (``raw``) was no
    usable name, ``reason`` saying why; ``evidence``: the lines the model was shown."""

    label: int
    name: str | None
    raw: str
    evidence: tuple[str, ...]
    reason: str = ""


def _cohort_ids(session: Session, run_id: int) -> dict[int, int]:
    rows = session.execute(select(Cohort.label, Cohort.id).where(Cohort.run_id == run_id)).all()
    return {int(label): int(cid) for label, cid in rows}


def save_cohort_names(session: Session, run_id: int, model: str, prompt_key: str,
                      names: Sequence[CohortNameRecord]) -> int:
    """Store ``names`` for embedding run ``run_id`` under (``model``, ``prompt_key``), replacing
    that key's earlier names of the same cohorts; returns how many were stored. Writers of the
    same key queue (open the session with ``write_lock=True`` for SQLite), so the last one wins
    instead of failing on the unique key."""
    lock_keys(session, [f"cohort_name:{run_id}:{model}:{prompt_key}"])
    ids = _cohort_ids(session, run_id)
    unknown = sorted({n.label for n in names} - set(ids))
    if unknown:
        raise CohortNameError(f"embedding run {run_id} has no cohort(s) {unknown}")
    targets = [ids[n.label] for n in names]
    if targets:
        session.execute(delete(CohortName).where(CohortName.cohort_id.in_(targets), CohortName.model == model,
                                                 CohortName.prompt_key == prompt_key))
    session.add_all(
        CohortName(cohort_id=ids[n.label], model=model, prompt_key=prompt_key, name=n.name, raw=n.raw,
                   evidence=list(n.evidence), reason=n.reason)
        for n in names
    )
    session.flush()
    return len(names)


def load_cohort_names(session: Session, run_id: int, model: str, prompt_key: str) -> dict[int, CohortNameRecord]:
    """The stored names of run ``run_id``'s cohorts under (``model``, ``prompt_key``), by cohort label."""
    rows = session.execute(
        select(Cohort.label, CohortName.name, CohortName.raw, CohortName.evidence, CohortName.reason)
        .join(CohortName, CohortName.cohort_id == Cohort.id)
        .where(Cohort.run_id == run_id, CohortName.model == model, CohortName.prompt_key == prompt_key)
    ).all()
    return {int(label): CohortNameRecord(int(label), name, raw or "", tuple(str(e) for e in (evidence or [])), reason or "")
            for label, name, raw, evidence, reason in rows}

