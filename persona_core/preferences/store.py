"""Pairs and votes in the database (tables ``preference_pair`` and ``annotation``).

Session-level functions work inside the caller's transaction (:func:`db.session.session_scope`);
:func:`submit` and :func:`undo` are one transaction each and safe to call from many threads or
processes at once (SQLite: the write lock; PostgreSQL: the pair's row is locked ``FOR UPDATE``,
and a partial unique index allows one ``current`` vote per pair and annotator).

A vote's ``choice`` refers to the stored pair (``a`` = ``response_a``). Every submission
carries a ``token``: submitting the same token again returns the stored vote instead of
storing a second one (a page that reruns, a double click, a client retry).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import CHOICES, Annotation, PreferencePair, utcnow
from db.store import (
    NotFoundError,
    PreferencePairInfo,
    StoreError,
    preference_pair_info,
    save_preference_pair,
    to_jsonable,
    utc_aware,
)
from persona_core.preferences.order import ORDERS, choice_to_shown, left_side

MAX_NAME = 200


@dataclass(frozen=True)
class Vote:
    """One stored annotation."""

    id: int
    pair_id: int
    annotator: str
    choice: str
    displayed_order: str
    rationale: str
    seconds: float | None
    status: str
    token: str
    replaces_id: int | None
    facts: dict
    created_at: datetime

    @property
    def shown_choice(self) -> str:
        """What the annotator clicked: ``left``, ``right``, ``tie`` or ``both_bad``."""
        return choice_to_shown(self.choice, self.displayed_order)


@dataclass(frozen=True)
class SubmitResult:
    vote: Vote
    created: bool  # False: this token was already stored (nothing new written)
    replaced_id: int | None = None  # the annotator's earlier vote on this pair, now ``replaced``


@dataclass(frozen=True)
class Progress:
    """An annotator's place in the queue: ``done`` of ``total`` pairs have a current vote."""

    annotator: str
    total: int
    done: int
    pending: list[int] = field(default_factory=list)  # pair ids without a vote, oldest first

    @property
    def label(self) -> str:
        return f"{self.done} of {self.total}"


# ----------------------------------------------------------------------- helpers
def new_token() -> str:
    """A fresh submission token."""
    return uuid.uuid4().hex


def check_annotator(name: str) -> str:
    """The annotator name, stripped; ``ValueError`` if empty or too long."""
    name = str(name or "").strip()
    if not name:
        raise ValueError("the annotator name is empty")
    if len(name) > MAX_NAME:
        raise ValueError(f"the annotator name is longer than {MAX_NAME} characters")
    return name


def vote_info(a: Annotation) -> Vote:
    return Vote(
        id=a.id, pair_id=a.pair_id, annotator=a.annotator, choice=a.choice, displayed_order=a.displayed_order,
        rationale=a.rationale or "", seconds=a.seconds, status=a.status, token=a.token, replaces_id=a.replaces_id,
        facts=dict(a.facts or {}), created_at=utc_aware(a.created_at),
    )


def hidden_facts(pair: PreferencePair | PreferencePairInfo, displayed_order: str) -> dict:
    """The facts the annotator does not see, as stored with a vote: which side is steered and
    where it was shown, toward which persona, with which model and SPM checkpoint."""
    meta = dict(pair.meta or {})
    steered = meta.get("steered_side")
    left = left_side(displayed_order)
    return to_jsonable({
        "source": pair.source,
        "displayed_order": displayed_order,
        "left": left,
        "steered_side": steered,
        "steered_shown": None if steered not in ("a", "b") else ("left" if steered == left else "right"),
        "persona": meta.get("persona"),
        "method": meta.get("method"),
        "model": meta.get("model"),
        "checkpoint": meta.get("spm_checkpoint") or meta.get("checkpoint"),
        "embedding_run": pair.run_id,
    })


# ------------------------------------------------------------------------- pairs
def add_pair(
    session: Session, *, prompt: str, response_a: str, response_b: str, source: str = "manual",
    run_id: int | None = None, meta: dict | None = None,
) -> int:
    """Store one pair (see :func:`db.store.save_preference_pair`); returns its id."""
    return save_preference_pair(session, prompt=prompt, response_a=response_a, response_b=response_b,
                                source=source, run_id=run_id, meta=meta)


def get_pair(session: Session, pair_id: int) -> PreferencePairInfo:
    pair = session.get(PreferencePair, pair_id)
    if pair is None:
        raise NotFoundError(f"no preference pair with id {pair_id}")
    return preference_pair_info(pair)


def list_pairs(session: Session, *, source: str | None = None, ids: list[int] | None = None) -> list[PreferencePairInfo]:
    """Stored pairs, oldest first (optionally of one source, or these ids)."""
    stmt = select(PreferencePair).order_by(PreferencePair.id)
    if source is not None:
        stmt = stmt.where(PreferencePair.source == source)
    if ids is not None:
        stmt = stmt.where(PreferencePair.id.in_(list(ids)))
    return [preference_pair_info(p) for p in session.execute(stmt).scalars()]


def count_pairs(session: Session, *, source: str | None = None) -> int:
    stmt = select(func.count()).select_from(PreferencePair)
    if source is not None:
        stmt = stmt.where(PreferencePair.source == source)
    return int(session.execute(stmt).scalar_one())


# ------------------------------------------------------------------------- votes
def list_votes(
    session: Session, *, annotator: str | None = None, pair_id: int | None = None, status: str | None = "current",
) -> list[Vote]:
    """Stored votes, oldest first; ``status=None`` gives the whole history."""
    stmt = select(Annotation).order_by(Annotation.id)
    if annotator is not None:
        stmt = stmt.where(Annotation.annotator == annotator)
    if pair_id is not None:
        stmt = stmt.where(Annotation.pair_id == pair_id)
    if status is not None:
        stmt = stmt.where(Annotation.status == status)
    return [vote_info(a) for a in session.execute(stmt).scalars()]


def annotators(session: Session) -> list[str]:
    """Everybody with at least one current vote, by name."""
    stmt = select(Annotation.annotator).where(Annotation.status == "current").distinct().order_by(Annotation.annotator)
    return list(session.execute(stmt).scalars())


def progress(session: Session, annotator: str, *, source: str | None = None) -> Progress:
    """How many pairs (of ``source``, or all) ``annotator`` has a current vote on, and the rest."""
    annotator = check_annotator(annotator)
    stmt = select(PreferencePair.id).order_by(PreferencePair.id)
    if source is not None:
        stmt = stmt.where(PreferencePair.source == source)
    ids = list(session.execute(stmt).scalars())
    voted = set(session.execute(
        select(Annotation.pair_id).where(Annotation.annotator == annotator, Annotation.status == "current")
    ).scalars())
    pending = [i for i in ids if i not in voted]
    return Progress(annotator=annotator, total=len(ids), done=len(ids) - len(pending), pending=pending)


def _locked_pair(session: Session, pair_id: int) -> PreferencePair:
    pair = session.execute(
        select(PreferencePair).where(PreferencePair.id == pair_id).with_for_update()
    ).scalar_one_or_none()
    if pair is None:
        raise NotFoundError(f"no preference pair with id {pair_id}")
    return pair


def submit(
    session: Session,
    *,
    pair_id: int,
    annotator: str,
    choice: str,
    displayed_order: str,
    token: str,
    rationale: str = "",
    seconds: float | None = None,
    extra_facts: dict | None = None,
) -> SubmitResult:
    """Store ``annotator``'s vote on a pair in the caller's transaction; the annotator's earlier
    current vote on the pair becomes ``replaced``. The same ``token`` again returns the
    stored vote (``created=False``) and writes nothing."""
    annotator = check_annotator(annotator)
    if choice not in CHOICES:
        raise ValueError(f"choice must be one of {CHOICES}, got {choice!r}")
    if displayed_order not in ORDERS:
        raise ValueError(f"displayed_order must be one of {ORDERS}, got {displayed_order!r}")
    token = str(token or "").strip()
    if not token or len(token) > 64:
        raise ValueError("a submission needs a token of 1 to 64 characters")
    if seconds is not None and not seconds >= 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")

    pair = _locked_pair(session, pair_id)  # serializes votes on this pair (PostgreSQL)
    same = session.execute(select(Annotation).where(Annotation.token == token)).scalar_one_or_none()
    if same is not None:
        if same.pair_id != pair_id or same.annotator != annotator:
            raise StoreError(f"token {token!r} was already used for another vote")
        return SubmitResult(vote_info(same), created=False)
    previous = session.execute(
        select(Annotation).where(
            Annotation.pair_id == pair_id, Annotation.annotator == annotator, Annotation.status == "current"
        )
    ).scalar_one_or_none()
    now = utcnow()
    if previous is not None:
        previous.status = "replaced"
        previous.updated_at = now
        session.flush()  # the partial unique index sees one current vote at a time
    vote = Annotation(
        pair_id=pair_id, annotator=annotator, choice=choice, displayed_order=displayed_order,
        rationale=str(rationale or "").strip(), seconds=None if seconds is None else float(seconds),
        status="current", token=token, replaces_id=None if previous is None else previous.id,
        facts={**hidden_facts(pair, displayed_order), **to_jsonable(extra_facts or {})},
        created_at=now, updated_at=now,
    )
    session.add(vote)
    session.flush()
    return SubmitResult(vote_info(vote), created=True, replaced_id=None if previous is None else previous.id)


def undo(session: Session, annotator: str) -> Vote | None:
    """Withdraw ``annotator``'s most recent current vote (status ``undone``); the vote it had
    replaced, if any, becomes current again. Returns the withdrawn vote (``None``: nothing to undo)."""
    annotator = check_annotator(annotator)
    last = session.execute(
        select(Annotation).where(Annotation.annotator == annotator, Annotation.status == "current")
        .order_by(Annotation.id.desc()).limit(1)
    ).scalar_one_or_none()
    if last is None:
        return None
    _locked_pair(session, last.pair_id)
    session.refresh(last)
    if last.status != "current":  # withdrawn meanwhile by another undo
        return None
    now = utcnow()
    last.status, last.updated_at = "undone", now
    session.flush()
    if last.replaces_id is not None:
        earlier = session.get(Annotation, last.replaces_id)
        if earlier is not None and earlier.status == "replaced":
            earlier.status, earlier.updated_at = "current", now
            session.flush()
    return vote_info(last)


# ------------------------------------------------------------- one transaction each
def submit_vote(db_url: str | None, *, retries: int = 3, **kwargs) -> SubmitResult:
    """:func:`submit` in its own transaction (SQLite write lock taken up front). A unique-index
    race (two first votes of one annotator on one pair from two processes) is retried."""
    from db.session import session_scope

    for attempt in range(retries + 1):
        try:
            with session_scope(db_url, write_lock=True) as session:
                return submit(session, **kwargs)
        except IntegrityError:
            if attempt == retries:
                raise
    raise AssertionError("unreachable")


def undo_last(db_url: str | None, annotator: str) -> Vote | None:
    """:func:`undo` in its own transaction."""
    from db.session import session_scope

    with session_scope(db_url, write_lock=True) as session:
        return undo(session, annotator)
