"""A survey on disk without pickle: the answer arrays in ``.npz`` (read with ``allow_pickle=False``)
and everything else as JSON (questions, respondent ids, attributes in pandas' table schema, source).

Nothing read here can execute code, whoever wrote the folder.
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from persona_core.data.errors import DataError
from persona_core.data.survey import Answers, Question, Survey

ARRAYS = "survey_answers.npz"
META = "survey.json"
FORMAT = 1


def save_survey_files(survey: Survey, directory: str | Path) -> None:
    """Write ``survey`` into ``directory`` (two files, each written to a temp name then renamed)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    a = survey.answers
    tmp = d / (ARRAYS + ".tmp.npz")
    np.savez_compressed(tmp, respondent=a.respondent, question=a.question, option=a.option)
    os.replace(tmp, d / ARRAYS)
    meta = {
        "format": FORMAT,
        "name": survey.name,
        "questions": [{"id": q.id, "text": q.text, "options": list(q.options), "ordinal": bool(q.ordinal)}
                      for q in survey.questions],
        "respondent_ids": list(survey.respondent_ids),
        "attributes": json.loads(survey.attributes.to_json(orient="table", default_handler=str)),
        "source": survey.source,
        "fingerprint": survey.fingerprint(),
    }
    tmp_meta = d / (META + ".tmp")
    tmp_meta.write_text(json.dumps(meta, default=str), encoding="utf-8")
    os.replace(tmp_meta, d / META)


def load_survey_files(directory: str | Path) -> Survey:
    """Read a survey written by :func:`save_survey_files`; a damaged folder raises ``DataError``."""
    d = Path(directory)
    try:
        meta = json.loads((d / META).read_text(encoding="utf-8"))
        with np.load(d / ARRAYS, allow_pickle=False) as f:
            answers = Answers(f["respondent"], f["question"], f["option"])
        questions = [Question(str(q["id"]), str(q["text"]), tuple(str(o) for o in q["options"]), bool(q["ordinal"]))
                     for q in meta["questions"]]
        attributes = pd.read_json(io.StringIO(json.dumps(meta["attributes"])), orient="table")
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"the saved survey cannot be read ({exc})", file=d) from None
    survey = Survey.from_codes(meta["name"], questions, meta["respondent_ids"], answers, attributes, meta.get("source") or {})
    if meta.get("fingerprint") and survey.fingerprint() != meta["fingerprint"]:
        raise DataError("the saved survey does not match its recorded fingerprint", file=d)
    return survey
