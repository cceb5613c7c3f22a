"""A :class:`Survey` in the database: converted to and from the table rows of
:class:`db.store.DatasetRows` (``db`` knows nothing of surveys).

Every function works inside the caller's session (see :func:`db.session.session_scope`), so a
survey load lands whole or not at all.
"""
from __future__ import annotations

import pandas as pd
from sqlalchemy.orm import Session

from db.store import DatasetRows, QuestionRow, load_dataset, save_dataset, to_jsonable
from persona_core.data.survey import Answers, Question, Survey


def save_survey(session: Session, survey: Survey, *, kind: str | None = None, replace: bool = False) -> int:
    """Validate ``survey`` and store it as a dataset; returns its id (see
    :func:`db.store.save_dataset`: idempotent, ``replace`` swaps a dataset of the same name).
    ``kind`` defaults to ``survey.source["kind"]`` (e.g. ``"gss"``, ``"csv"``), else ``"custom"``."""
    survey.validate()
    return save_dataset(session, survey_rows(survey, kind=kind), replace=replace)


def load_survey(session: Session, name: str) -> Survey:
    """The stored dataset ``name`` as a :class:`Survey` (same fingerprint as the one saved)."""
    return rows_survey(load_dataset(session, name))


def survey_rows(survey: Survey, *, kind: str | None = None) -> DatasetRows:
    """``survey`` as table rows."""
    a = survey.answers
    return DatasetRows(
        name=survey.name,
        kind=str(kind or survey.source.get("kind") or "custom"),
        fingerprint=survey.fingerprint(),
        source=dict(survey.source),
        attribute_schema=_attribute_schema(survey.attributes),
        questions=[QuestionRow(key=q.id, text=q.text, ordinal=bool(q.ordinal), options=q.options)
                   for q in survey.questions],
        respondent_keys=list(survey.respondent_ids),
        respondent_attributes=_attribute_records(survey.attributes),
        answer_respondent=a.respondent,
        answer_question=a.question,
        answer_option=a.option,
    )


def rows_survey(rows: DatasetRows) -> Survey:
    """Table rows back as a :class:`Survey`."""
    questions = [Question(id=q.key, text=q.text, options=tuple(q.options), ordinal=q.ordinal) for q in rows.questions]
    answers = Answers(respondent=rows.answer_respondent, question=rows.answer_question, option=rows.answer_option)
    attributes = _attribute_frame(rows.attribute_schema, rows.respondent_attributes, rows.respondent_keys)
    return Survey.from_codes(name=rows.name, questions=questions, respondent_ids=rows.respondent_keys,
                             answers=answers, attributes=attributes, source=dict(rows.source))


# ----------------------------------------------------------------------- attributes
def _attribute_schema(frame: pd.DataFrame) -> list[dict]:
    """Each attribute column's name and dtype (categories and their order for categoricals)."""
    schema = []
    for name in frame.columns:
        dtype = frame[name].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            schema.append({
                "name": str(name),
                "dtype": "category",
                "categories": to_jsonable(list(dtype.categories)),
                "ordered": bool(dtype.ordered),
            })
        else:
            schema.append({"name": str(name), "dtype": str(dtype)})
    return schema


def _attribute_records(frame: pd.DataFrame) -> list[dict]:
    """One JSON object per respondent (missing values as ``None``)."""
    frame = frame.astype(object)
    frame = frame.where(frame.notna(), None)
    frame.columns = [str(c) for c in frame.columns]
    return [to_jsonable(r) for r in frame.to_dict("records")]


def _attribute_frame(schema: list[dict], records: list[dict], index: list[str]) -> pd.DataFrame:
    """The attribute frame back from :func:`_attribute_schema` and :func:`_attribute_records`."""
    names = [c["name"] for c in schema]
    frame = pd.DataFrame.from_records(records, columns=names) if records else pd.DataFrame(columns=names)
    frame.index = pd.Index(index, name="respondent_id")
    for col in schema:
        name, dtype = col["name"], col["dtype"]
        values = frame[name]
        if dtype == "category":
            frame[name] = pd.Categorical(values, categories=col["categories"], ordered=col["ordered"])
        elif dtype.startswith("datetime64"):
            frame[name] = pd.to_datetime(values)
        elif dtype != "object":
            try:
                frame[name] = values.astype(dtype)
            except (TypeError, ValueError):
                pass  # keep as object rather than lose values
    return frame
