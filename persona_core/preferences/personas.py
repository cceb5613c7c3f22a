"""Induced personas: run SynthesizeMe on one annotator's votes, store the persona text (table
``induced_persona``), and read it back for the annotation page and the Compare page (as a
text persona to steer with)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import InducedPersona
from db.store import to_jsonable
from persona_core.data.errors import DataError
from persona_core.preferences import store
from persona_core.preferences.judge import Example
from persona_core.preferences.synthesize import (
    SynthesizeMe,
    SynthesizeMeConfig,
    evaluate_judges,
    examples_from_votes,
    split_examples,
)


@dataclass(frozen=True)
class InducedPersonaInfo:
    id: int
    annotator: str
    text: str
    demos: list
    metrics: dict
    config: dict
    model_name: str
    created_at: datetime

    @property
    def title(self) -> str:
        return f"Induced persona of {self.annotator}"


def _info(p: InducedPersona) -> InducedPersonaInfo:
    ts = p.created_at if p.created_at.tzinfo else p.created_at.replace(tzinfo=timezone.utc)
    return InducedPersonaInfo(p.id, p.annotator, p.text, list(p.demos), dict(p.metrics), dict(p.config), p.model_name, ts)


def save_induced_persona(session: Session, *, annotator: str, text: str, demos: list, metrics: dict, config: dict,
                         model_name: str) -> int:
    row = InducedPersona(annotator=store.check_annotator(annotator), text=str(text), demos=to_jsonable(demos),
                         metrics=to_jsonable(metrics), config=to_jsonable(config), model_name=str(model_name))
    session.add(row)
    session.flush()
    return int(row.id)


def latest_induced_persona(session: Session, annotator: str) -> InducedPersonaInfo | None:
    """The newest persona induced for ``annotator`` (``None``: none yet)."""
    row = session.execute(
        select(InducedPersona).where(InducedPersona.annotator == annotator.strip())
        .order_by(InducedPersona.id.desc()).limit(1)
    ).scalar_one_or_none()
    return None if row is None else _info(row)


def list_induced_personas(session: Session) -> list[InducedPersonaInfo]:
    """The newest persona of every annotator, by annotator name."""
    latest: dict[str, InducedPersonaInfo] = {}
    for row in session.execute(select(InducedPersona).order_by(InducedPersona.id)).scalars():
        latest[row.annotator] = _info(row)
    return [latest[k] for k in sorted(latest)]


# ---------------------------------------------------------------- for the app's pages
def induced_persona_texts(db_url: str | None) -> dict[str, str]:
    """``{annotator: persona text}`` of every induced persona (newest per annotator), for the
    Compare page to offer as text personas (``Comparer.compare(question, "text",
    description=text)``). Empty when there are none or the tables are not migrated yet."""
    from sqlalchemy.exc import SQLAlchemyError

    from db.session import session_scope

    try:
        with session_scope(db_url) as session:
            return {p.annotator: p.text for p in list_induced_personas(session)}
    except SQLAlchemyError:
        return {}


def induced_persona_text(db_url: str | None, annotator: str) -> str | None:
    """The newest induced persona text of ``annotator`` (``None``: none)."""
    return induced_persona_texts(db_url).get(str(annotator).strip())


# --------------------------------------------------------------------------- induce
@dataclass
class InductionResult:
    annotator: str
    persona_id: int | None
    persona: str
    persona_source: str
    pairs: int
    split: dict
    kept_reasoning: int
    demos: list
    demo_search: list
    metrics: dict
    model: str
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def load_examples(db_url: str | None, annotator: str, min_pairs: int = 5) -> list[Example]:
    """``annotator``'s current decided votes as examples; :class:`DataError` if fewer than
    ``min_pairs`` (at least 3: one each for context, validation and test)."""
    from db.session import session_scope

    annotator = store.check_annotator(annotator)
    with session_scope(db_url) as session:
        votes = store.list_votes(session, annotator=annotator)
        pairs = {p.id: p for p in store.list_pairs(session, ids=[v.pair_id for v in votes])}
    examples = examples_from_votes(votes, pairs)
    if len(examples) < max(3, min_pairs):
        raise DataError(f"annotator {annotator!r} has {len(examples)} decided pairs (A or B better); "
                        f"persona induction needs at least {max(3, min_pairs)}")
    return examples


def induce(db_url: str | None, annotator: str, llm, config: SynthesizeMeConfig = SynthesizeMeConfig(),
           *, model_name: str = "", save: bool = True, examples: list[Example] | None = None) -> InductionResult:
    """SynthesizeMe on ``annotator``'s current decided votes (or ``examples``): split 50/20/30,
    fit on context + validation, evaluate on test, store the persona (``save``).
    :class:`DataError` if fewer than ``config.min_pairs`` decided pairs."""
    import time

    from db.session import session_scope

    t0 = time.perf_counter()
    annotator = store.check_annotator(annotator)
    if examples is None:
        examples = load_examples(db_url, annotator, config.min_pairs)
    context, validation, test = split_examples(examples, config.fractions, config.seed)
    model = SynthesizeMe(llm, config).fit(context, validation)
    metrics = evaluate_judges(model, test)
    demos = [{"pair_id": d.example.pair_id, "order": d.order, "reasoning": d.reasoning} for d in model.demos_]
    kept = sum(t.kept for t in model.traces_)
    metrics["kept_reasoning"] = kept
    persona_id = None
    if save:
        with session_scope(db_url, write_lock=True) as session:
            persona_id = save_induced_persona(
                session, annotator=annotator, text=model.persona_, demos=demos,
                metrics={**metrics, "split": [len(context), len(validation), len(test)],
                         "persona_source": model.persona_source_},
                config=config.to_dict(), model_name=model_name,
            )
    return InductionResult(
        annotator=annotator, persona_id=persona_id, persona=model.persona_, persona_source=model.persona_source_,
        pairs=len(examples), split={"context": len(context), "validation": len(validation), "test": len(test)},
        kept_reasoning=kept, demos=demos, demo_search=model.demo_search_, metrics=metrics, model=model_name,
        seconds=round(time.perf_counter() - t0, 2),
    )
