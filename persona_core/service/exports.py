"""CSV downloads: the map's points with their cohort and attributes, and a cohort's profile.

Text that a spreadsheet would read as a formula (a cell starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return: CSV injection, OWASP) gets a leading apostrophe, which spreadsheets
show as text and drop from the value; numbers stay numbers. Built with pandas' CSV writer (quoting
of commas, quotes and line breaks).
"""
from __future__ import annotations

import pandas as pd

from persona_core.service.catalog import SpaceView
from persona_core.service.views import demographics_frame, opinion_frame

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """``value`` as a spreadsheet may read it: strings that start like a formula get a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell (and column name) passed through :func:`csv_safe`."""
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if values.dtype == object or pd.api.types.is_string_dtype(values) or isinstance(values.dtype, pd.CategoricalDtype):
            out[col] = values.astype(object).map(csv_safe)
    out.columns = [csv_safe(str(c)) for c in out.columns]
    return out


def to_csv(frame: pd.DataFrame) -> str:
    """``frame`` (no index) as CSV text, formula-like text defused."""
    return safe_frame(frame).to_csv(index=False, lineterminator="\n")


def map_points(view: SpaceView) -> pd.DataFrame:
    """One row per respondent: ``id``, map ``x``/``y``, ``cohort_label`` (-1 outlier), ``cohort``
    (title), ``likely_cohort``, then every respondent attribute."""
    frame = pd.DataFrame({
        "id": view.survey.respondent_ids,
        "x": view.coords[:, 0],
        "y": view.coords[:, 1],
        "cohort_label": view.cohort_labels.astype(int),
        "cohort": [view.cohort_title(int(c)) for c in view.cohort_labels],
        "likely_cohort": view.likely_cohorts.astype(int),
    })
    attrs = view.survey.attributes.reset_index(drop=True)
    taken = set(frame.columns)
    attrs.columns = [f"attribute:{c}" if str(c) in taken else str(c) for c in attrs.columns]
    return pd.concat([frame, attrs], axis=1)


def map_points_csv(view: SpaceView) -> str:
    """:func:`map_points` as CSV."""
    return to_csv(map_points(view))


PROFILE_COLUMNS = ["section", "key", "text", "value", "cohort", "everybody"]


def cohort_profile(view: SpaceView, label: int) -> pd.DataFrame:
    """A cohort's profile as one long table (``KeyError`` for an unknown label): its size, its
    most distinctive answers (section ``opinion``: question id, text, option, share in the cohort
    and overall), categorical make-up (``demographic``: attribute, value, shares) and numeric
    attributes (``numeric``: attribute, statistic, cohort and overall value)."""
    if label not in view.profiles and label not in view.cohorts:
        raise KeyError(f"no cohort {label} in this persona space")
    profile = view.profiles.get(label, {})
    n = len(view.members(label))
    rows = [{"section": "size", "key": "respondents", "text": view.cohort_title(label), "value": "",
             "cohort": n, "everybody": view.survey.n_respondents}]
    opinions = opinion_frame(profile.get("distinctive_questions") or [])
    if not opinions.empty:
        wide = opinions.pivot_table(index=["question_id", "question", "option"], columns="group", values="share",
                                    sort=False).reset_index()
        for _, r in wide.iterrows():
            rows.append({"section": "opinion", "key": r["question_id"], "text": r["question"], "value": r["option"],
                         "cohort": r["this group"], "everybody": r["everybody"]})
    categorical, numeric = demographics_frame(profile.get("demographics") or {})
    if not categorical.empty:
        wide = categorical.pivot_table(index=["attribute", "value"], columns="group", values="share", sort=False).reset_index()
        for _, r in wide.iterrows():
            rows.append({"section": "demographic", "key": r["attribute"], "text": "", "value": r["value"],
                         "cohort": r["this group"], "everybody": r["everybody"]})
    for _, r in numeric.iterrows():
        for stat in ("mean", "median"):
            rows.append({"section": "numeric", "key": r["attribute"], "text": "", "value": stat,
                         "cohort": r[f"{stat} (group)"], "everybody": r[f"{stat} (everybody)"]})
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)


def cohort_profile_csv(view: SpaceView, label: int) -> str:
    """:func:`cohort_profile` as CSV."""
    return to_csv(cohort_profile(view, label))
