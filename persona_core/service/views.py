"""Data behind the map and cohort pages: tables ready to plot, computed from a :class:`SpaceView`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from persona_core.cohorts import OUTLIER_STRATEGIES, CohortConfig, reduce_outliers
from persona_core.metrics import distribution_distance
from persona_core.profile import ProfileConfig, demographic_makeup, distinctive_questions
from persona_core.service.catalog import OUTLIER, SpaceView

COHORT = "Cohort"
NO_ANSWER = "(no answer)"
#: how the map shows HDBSCAN's outliers (see :func:`shown_cohorts`), in the order offered
OUTLIER_LABELS = {"soft": "Most likely cohort (HDBSCAN soft membership)", "centroid": "Nearest cohort centroid",
                  "none": "Grey (HDBSCAN's own outliers)"}
assert tuple(OUTLIER_LABELS) == OUTLIER_STRATEGIES
MIN_OPACITY = 0.2  # a point's opacity on the cohort map: MIN_OPACITY + (1 - MIN_OPACITY) * membership strength


@dataclass(frozen=True)
class ColorChoice:
    """What colours the map: ``kind`` ``"cohort"``, ``"attribute"`` (``key`` = column) or
    ``"question"`` (``key`` = question id)."""

    kind: str
    key: str = ""

    @property
    def label(self) -> str:
        return {"cohort": COHORT, "attribute": f"Attribute · {self.key}", "question": f"Answer · {self.key}"}[self.kind]


def color_choices(view: SpaceView) -> list[ColorChoice]:
    """Cohort first, then every attribute, then every question."""
    return (
        [ColorChoice("cohort")]
        + [ColorChoice("attribute", str(c)) for c in view.survey.attributes.columns]
        + [ColorChoice("question", q.id) for q in view.survey.questions]
    )


def key_attributes(view: SpaceView, n: int = 4) -> list[str]:
    """The attributes shown on hover: the first ``n`` columns."""
    return [str(c) for c in view.survey.attributes.columns[:n]]


def is_numeric_attribute(view: SpaceView, column: str, max_values: int = 12) -> bool:
    col = view.survey.attributes[column]
    return bool(pd.api.types.is_numeric_dtype(col) and col.nunique(dropna=True) > max_values)


def answers_to(view: SpaceView, question_id: str) -> pd.Series:
    """Every respondent's answer (option text) to one question; :data:`NO_ANSWER` where none,
    as an ordered categorical in the options' order."""
    j = view.survey.question_index(question_id)
    q = view.survey.questions[j]
    a = view.survey.answers
    rows = np.flatnonzero(a.question == j)
    codes = np.full(view.survey.n_respondents, -1, dtype=np.int64)
    codes[a.respondent[rows]] = a.option[rows]
    labels = np.array(list(q.options) + [NO_ANSWER], dtype=object)
    return pd.Series(pd.Categorical(labels[codes], categories=[*q.options, NO_ANSWER], ordered=True),
                     index=view.survey.respondent_ids)


def shown_cohorts(view: SpaceView, strategy: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The cohort the map shows for each respondent and how strongly they belong (0..1): members
    keep their cohort, outliers get one by ``strategy`` (``"soft"``, ``"centroid"`` or
    ``"none"``; default the space's ``CohortConfig.outlier_strategy``), see
    :func:`persona_core.cohorts.reduce_outliers`."""
    cfg = CohortConfig()
    return reduce_outliers(view.cohort_labels, strategy or cfg.outlier_strategy, likely=view.likely_cohorts,
                           probabilities=view.cohort_probabilities, embeddings=view.embeddings,
                           centroids=view.cohort_centroids, threshold=cfg.outlier_threshold)


def map_frame(view: SpaceView, color: ColorChoice | None = None, hover_attributes: list[str] | None = None,
              outlier_strategy: str | None = None) -> pd.DataFrame:
    """One row per respondent: ``id``, ``x``, ``y``, ``cohort`` (title of HDBSCAN's cohort,
    "Outliers" for its outliers), ``cohort_label``, ``shown_cohort`` (the title the map colours
    by, with outliers placed by ``outlier_strategy``, see :func:`shown_cohorts`), ``strength``
    (membership, 0..1), the hover attributes (as text), and ``color`` (category text, or a
    number for a numeric attribute)."""
    color = color or ColorChoice("cohort")
    shown, strength = shown_cohorts(view, outlier_strategy)
    frame = pd.DataFrame(
        {
            "id": view.survey.respondent_ids,
            "x": view.coords[:, 0],
            "y": view.coords[:, 1],
            "cohort_label": view.cohort_labels,
            "cohort": [view.cohort_title(int(c)) for c in view.cohort_labels],
            "shown_cohort": [view.cohort_title(int(c)) for c in shown],
            "strength": strength.round(3),
        }
    )
    attrs = view.survey.attributes
    for col in hover_attributes if hover_attributes is not None else key_attributes(view):
        frame[col] = attrs[col].astype("string").fillna("–").to_numpy()
    if color.kind == "cohort":
        frame["color"] = frame["shown_cohort"]
    elif color.kind == "attribute":
        if color.key not in attrs.columns:
            raise KeyError(f"unknown attribute {color.key!r}")
        values = attrs[color.key]
        if is_numeric_attribute(view, color.key):
            frame["color"] = pd.to_numeric(values, errors="coerce").to_numpy()
        else:
            frame["color"] = values.astype("string").fillna("(missing)").to_numpy()
    elif color.kind == "question":
        frame["color"] = answers_to(view, color.key).astype(str).to_numpy()
    else:
        raise ValueError(f"unknown colour kind {color.kind!r}")
    return frame


def color_order(view: SpaceView, color: ColorChoice) -> list[str] | None:
    """Category order for the legend (cohorts by label with outliers last; options in order)."""
    if color.kind == "cohort":
        return [view.cohort_title(c) for c in view.cohorts] + [view.cohort_title(OUTLIER)]
    if color.kind == "question":
        return [*view.survey.questions[view.survey.question_index(color.key)].options, NO_ANSWER]
    return None


# -------------------------------------------------------------------- selections
@dataclass
class SelectionSummary:
    """The selected respondents against everybody."""

    ids: list[str]
    members: np.ndarray
    cohort_mix: pd.DataFrame  # cohort, selected, share_selected, share_everybody
    demographics: dict[str, dict]  # as persona_core.profile.demographic_makeup
    distinctive: list[dict]  # as persona_core.profile.distinctive_questions


def resolve_ids(view: SpaceView, ids: list[str]) -> tuple[list[str], list[str]]:
    """(known ids in survey order, unknown ids) of ``ids``."""
    known, unknown = set(), []
    for r in ids:
        try:
            known.add(view.respondent_index(r))
        except KeyError:
            unknown.append(str(r))
    return [view.survey.respondent_ids[i] for i in sorted(known)], unknown


def selection_summary(view: SpaceView, ids: list[str], top_questions: int = 5) -> SelectionSummary:
    """Cohort mix, attributes and most distinctive answers of the selected respondents
    (``ValueError`` for an empty selection)."""
    known, _ = resolve_ids(view, ids)
    if not known:
        raise ValueError("the selection is empty")
    members = np.array([view.respondent_index(r) for r in known], dtype=np.int64)
    labels = view.cohort_labels
    everyone = pd.Series(labels).value_counts()
    chosen = pd.Series(labels[members]).value_counts()
    order = [*view.cohorts, OUTLIER]
    mix = pd.DataFrame(
        {
            "cohort": [view.cohort_title(c) for c in order],
            "selected": [int(chosen.get(c, 0)) for c in order],
            "share_selected": [float(chosen.get(c, 0)) / len(members) for c in order],
            "share_everybody": [float(everyone.get(c, 0)) / len(labels) for c in order],
        }
    )
    mix = mix[(mix["selected"] > 0) | (mix["share_everybody"] > 0)].reset_index(drop=True)
    cfg = ProfileConfig(top_questions=top_questions, min_answers=max(1, min(20, len(members) // 2)))
    return SelectionSummary(
        ids=known,
        members=members,
        cohort_mix=mix,
        demographics=demographic_makeup(view.survey.attributes, members, cfg),
        distinctive=distinctive_questions(view.survey, members, cfg),
    )


def demographics_frame(demographics: dict[str, dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long tables of a demographic make-up: categorical (attribute, value, group, share) and
    numeric (attribute, group mean/median vs everybody)."""
    cat_rows, num_rows = [], []
    for attr, d in demographics.items():
        if d.get("kind") == "categorical":
            for value, c, o in zip(d["values"], d["cohort_shares"], d["overall_shares"]):
                cat_rows += [
                    {"attribute": attr, "value": value, "group": "this group", "share": c},
                    {"attribute": attr, "value": value, "group": "everybody", "share": o},
                ]
        elif d.get("kind") == "numeric":
            num_rows.append({
                "attribute": attr, "mean (group)": d["cohort_mean"], "mean (everybody)": d["overall_mean"],
                "median (group)": d["cohort_median"], "median (everybody)": d["overall_median"],
            })
    return (
        pd.DataFrame(cat_rows, columns=["attribute", "value", "group", "share"]),
        pd.DataFrame(num_rows, columns=["attribute", "mean (group)", "mean (everybody)", "median (group)", "median (everybody)"]),
    )


def demographic_panels(categorical: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Per attribute of a categorical make-up (:func:`demographics_frame`), its shares side by side
    (columns ``value``, ``this group``, ``everybody``), the attributes where the group differs most
    from everybody first: total variation distance between the two share vectors, as for
    distinctive questions (ties keep the make-up's order). One pivot for all attributes."""
    if categorical.empty:
        return []
    wide = categorical.pivot_table(index=["attribute", "value"], columns="group", values="share", sort=False)
    panels = []
    for attr, rows in categorical.groupby("attribute", sort=False):
        # the pivot orders values by where they first appear in any attribute: keep this one's order
        frame = wide.loc[attr].reindex(pd.Index(pd.unique(rows["value"]), name="value")).reset_index()
        try:
            distance = distribution_distance(frame["this group"].to_numpy(), frame["everybody"].to_numpy(), ordinal=False)
        except ValueError:  # no member has any of the values shown: nothing to set the group apart
            distance = 0.0
        panels.append((attr, frame, distance))
    return [(attr, frame) for attr, frame, _ in sorted(panels, key=lambda item: -item[2])]


def opinion_frame(distinctive: list[dict]) -> pd.DataFrame:
    """Long table of distinctive questions for paired bars: question, option, group, share."""
    rows = []
    for d in distinctive:
        for opt, c, o in zip(d["options"], d["cohort_shares"], d["overall_shares"]):
            rows += [
                {"question_id": d["question_id"], "question": d["text"], "option": opt, "group": "this group", "share": c},
                {"question_id": d["question_id"], "question": d["text"], "option": opt, "group": "everybody", "share": o},
            ]
    return pd.DataFrame(rows, columns=["question_id", "question", "option", "group", "share"])


# -------------------------------------------------------------------------- cohorts
def cohort_table(view: SpaceView, llm_names: Mapping[int, str | None] | None = None) -> pd.DataFrame:
    """One row per cohort (and the outliers): label, title, size, share of the sample; with
    ``llm_names`` (label -> LLM-written name, see :mod:`persona_core.service.cohort_names`) also
    an ``LLM name`` column after the label ("" where there is none)."""
    n = len(view.cohort_labels)
    rows = [
        {"label": c, "cohort": view.cohort_title(c), "size": int((view.cohort_labels == c).sum())}
        for c in [*view.cohorts, OUTLIER]
    ]
    frame = pd.DataFrame(rows, columns=["label", "cohort", "size"])
    if llm_names is not None:
        frame.insert(1, "LLM name", [llm_names.get(c) or "" for c in frame["label"]])
    frame["share"] = frame["size"] / max(n, 1)
    return frame[frame["size"] > 0].reset_index(drop=True)


def cohort_similarity(view: SpaceView) -> tuple[list[int], np.ndarray]:
    """Cosine similarity of cohort centroids, rows/columns in hierarchical-clustering leaf order
    (similar cohorts next to each other). Returns (labels in that order, matrix)."""
    labels = view.cohorts
    if not labels:
        return [], np.zeros((0, 0))
    c = np.stack([view.cohort_centroids[k] for k in labels]).astype(np.float64)
    c = c - view.embeddings.mean(axis=0)  # relative to the average respondent
    norm = np.linalg.norm(c, axis=1, keepdims=True)
    unit = c / np.where(norm > 0, norm, 1.0)
    sim = np.clip(unit @ unit.T, -1.0, 1.0)
    order = list(range(len(labels)))
    if len(labels) > 2:
        from scipy.cluster.hierarchy import leaves_list, linkage
        from scipy.spatial.distance import squareform

        dist = squareform(1.0 - sim, checks=False)
        order = list(leaves_list(linkage(np.clip(dist, 0, None), method="average")))
    return [labels[i] for i in order], sim[np.ix_(order, order)]


# ------------------------------------------------------------------- real answers
@dataclass(frozen=True)
class RealAnswer:
    """What the persona's members really answered to one question: ``counts`` per option;
    for one respondent ``chosen`` is their option (``None`` if unanswered) and ``heldout``
    says whether that answer was hidden from the factorization."""

    question_id: str
    options: tuple[str, ...]
    counts: np.ndarray
    chosen: int | None = None
    heldout: bool = False

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def shares(self) -> np.ndarray:
        return self.counts / self.counts.sum() if self.n else np.zeros(len(self.options))


def real_answers(view: SpaceView, members: tuple[int, ...] | np.ndarray, question_id: str) -> RealAnswer:
    """The members' real answers to ``question_id`` (``KeyError`` if the question is unknown)."""
    j = view.survey.question_index(question_id)
    q = view.survey.questions[j]
    a = view.survey.answers
    members = np.asarray(members, dtype=np.int64)
    rows = np.flatnonzero((a.question == j) & np.isin(a.respondent, members))
    counts = np.bincount(a.option[rows].astype(np.int64), minlength=q.n_options)
    chosen, heldout = None, False
    if len(members) == 1 and rows.size:
        chosen, heldout = int(a.option[rows[0]]), bool(view.heldout_mask[rows[0]])
    return RealAnswer(q.id, tuple(q.options), counts, chosen, heldout)
