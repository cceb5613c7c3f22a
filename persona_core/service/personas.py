"""Personas the app steers toward: one respondent, a cohort, or a selection on the map.

A :class:`Persona` carries its point in the persona space (what the soft-prompting model
takes) and its members (whose real answers the Compare page shows). :func:`describe_persona`
writes the persona as text, for steering by prompt when no trained SPM is available.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from persona_core.profile import ProfileConfig, distinctive_questions
from persona_core.service.catalog import SpaceView

KINDS = ("respondent", "cohort", "selection")


@dataclass(frozen=True, eq=False)
class Persona:
    """A steering target. ``members``: respondent indices (one for a respondent); ``run_key``:
    the embedding run whose space ``vector`` lives in."""

    kind: str
    key: str
    title: str
    vector: np.ndarray
    members: tuple[int, ...]
    run_key: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"persona kind must be one of {KINDS}, got {self.kind!r}")
        if not self.members:
            raise ValueError("a persona needs at least one member")

    def same_as(self, other: "Persona | None") -> bool:
        """Same kind, key, members and embedding run (the vector follows from them)."""
        return (
            other is not None and self.kind == other.kind and self.key == other.key
            and self.members == other.members and self.run_key == other.run_key
        )


def respondent_persona(view: SpaceView, respondent_id: str) -> Persona:
    """The persona of one respondent (``KeyError`` naming an unknown id)."""
    i = view.respondent_index(respondent_id)
    rid = view.survey.respondent_ids[i]
    return Persona("respondent", rid, f"Respondent {rid}", view.embeddings[i].copy(), (i,), view.run_key)


def cohort_persona(view: SpaceView, label: int) -> Persona:
    """A cohort's centroid as a persona (``KeyError`` naming an unknown cohort)."""
    label = int(label)
    if label not in view.cohort_centroids:
        raise KeyError(f"unknown cohort {label}; cohorts are {view.cohorts}")
    members = tuple(int(i) for i in view.members(label))
    return Persona("cohort", str(label), view.cohort_title(label), view.cohort_centroids[label].copy(), members, view.run_key)


def selection_persona(view: SpaceView, respondent_ids: list[str]) -> Persona:
    """The centroid of selected respondents (``ValueError`` if empty, ``KeyError`` if an id is unknown)."""
    if not respondent_ids:
        raise ValueError("the selection is empty: draw a box or lasso around respondents on the map first")
    idx = tuple(sorted({view.respondent_index(r) for r in respondent_ids}))
    vector = view.embeddings[list(idx)].mean(axis=0)
    return Persona("selection", f"{len(idx)} respondents", f"Selection of {len(idx)} respondents", vector, idx, view.run_key)


def persona_by_members(view: SpaceView, kind: str, key: str, members: tuple[int, ...]) -> Persona:
    """Rebuild a persona from its kind, key and members (e.g. from a cache key)."""
    if kind == "respondent":
        return respondent_persona(view, view.survey.respondent_ids[members[0]])
    if kind == "cohort":
        return cohort_persona(view, int(key))
    return selection_persona(view, [view.survey.respondent_ids[i] for i in members])


def _attribute_phrases(attributes: pd.DataFrame, members: np.ndarray, max_items: int = 6) -> list[str]:
    """``"party: Democrat"`` for one member; the most common value (with its share) for a group."""
    out = []
    sub = attributes.iloc[members]
    for col in attributes.columns[:max_items]:
        values = sub[col].dropna()
        if values.empty:
            continue
        if len(members) == 1:
            out.append(f"{col}: {values.iloc[0]}")
        elif pd.api.types.is_numeric_dtype(values) and values.nunique() > 12:
            out.append(f"{col}: around {values.median():g}")
        else:
            share = values.astype(str).value_counts(normalize=True)
            out.append(f"{col}: mostly {share.index[0]} ({share.iloc[0]:.0%})")
    return out


def _distinctive_answers(view: SpaceView, i: int, n: int) -> list[str]:
    """One respondent's training answers that are least common in the whole sample."""
    a = view.survey.answers
    rows = np.flatnonzero((a.respondent == i) & ~view.heldout_mask)
    if rows.size == 0:
        return []
    n_opt = view.survey.n_options_per_question.astype(np.int64)
    offsets = np.r_[0, np.cumsum(n_opt)[:-1]]
    flat = offsets[a.question] + a.option
    counts = np.bincount(flat, minlength=int(n_opt.sum())).astype(np.float64)
    totals = np.bincount(a.question, minlength=len(n_opt)).astype(np.float64)
    share = counts[flat[rows]] / totals[a.question[rows]]
    out = []
    for r in rows[np.argsort(share, kind="stable")[:n]]:
        q = view.survey.questions[int(a.question[r])]
        out.append(f'asked "{q.text}", I answered "{q.options[int(a.option[r])]}"')
    return out


def describe_persona(view: SpaceView, persona: Persona, n_opinions: int = 4) -> str:
    """The persona in words (first person), for steering by prompt."""
    members = np.asarray(persona.members, dtype=np.int64)
    attrs = _attribute_phrases(view.survey.attributes, members)
    if persona.kind == "respondent":
        opinions = _distinctive_answers(view, int(members[0]), n_opinions)
        text = "I am a survey respondent."
        if attrs:
            text += " About me: " + "; ".join(attrs) + "."
        if opinions:
            text += " Some of my views: " + "; ".join(opinions) + "."
        return text
    cfg = ProfileConfig(top_questions=n_opinions, min_answers=max(1, min(20, len(members) // 2)))
    items = distinctive_questions(view.survey, members, cfg)
    text = f"I speak for a group of {len(members)} survey respondents."
    if attrs:
        text += " We are " + "; ".join(attrs) + "."
    if items:
        views = [
            f'asked "{d["text"]}", {d["top_option_cohort_share"]:.0%} of us answer "{d["top_option"]}" '
            f'({d["top_option_overall_share"]:.0%} of everybody)'
            for d in items
        ]
        text += " Our views: " + "; ".join(views) + "."
    return text
