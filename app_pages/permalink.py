"""Permalinks: a page's view kept in the URL's query parameters (``st.query_params``), so the
address (or the "Permalink" link, which opens in a new tab) shows the same view in a new session.

A page calls :func:`adopt` before its widgets are made (a parameter the session has not seen yet
sets the widget's state) and :func:`publish` after (the URL follows the widgets). Values the page
cannot use are dropped with a warning by the page, never raised.
"""
from __future__ import annotations

from typing import Callable
from urllib.parse import urlencode

import streamlit as st

_SEEN = "_permalink_seen"  # (page, parameter) -> value last adopted or published in this session


def adopt(page: str, param: str, key: str, parse: Callable[[str], object] = str) -> bool:
    """Put query parameter ``param`` (parsed) into ``st.session_state[key]`` if the URL carries a
    value this session has not adopted or published yet. Returns whether it did; a value
    ``parse`` refuses (``ValueError``/``KeyError``) is skipped and reported by ``False``."""
    raw = st.query_params.get(param)
    seen = st.session_state.setdefault(_SEEN, {})
    if raw is None or seen.get((page, param)) == raw:
        return False
    seen[(page, param)] = raw
    try:
        st.session_state[key] = parse(raw)
    except (ValueError, KeyError):
        return False
    return True


def publish(page: str, **params: object) -> str:
    """Make the URL's query parameters exactly ``params`` (``None`` values left out); returns the
    query string (``?a=1&b=2``, or ``""``) for a link."""
    values = {k: str(v) for k, v in params.items() if v is not None and str(v) != ""}
    seen = st.session_state.setdefault(_SEEN, {})
    for k, v in values.items():
        seen[(page, k)] = v
    if dict(st.query_params) != values:
        st.query_params.from_dict(values)
    return "?" + urlencode(values) if values else ""


def link(query: str, label: str = "Permalink") -> None:
    """A link to this page with ``query`` that opens in a new tab (nothing without a query)."""
    if query:
        st.link_button(label, query, icon=":material/link:", help="This view in a new tab (copy the address to share it)")


def adopt_persona(page: str, view) -> bool:
    """``?persona=cohort:<label>`` or ``?persona=respondent:<id>`` (Compare): sets the page's
    persona widgets (``compare_kind`` and ``compare_cohort``/``compare_respondent``)."""

    def parse(raw: str) -> tuple[str, object]:
        kind, _, key = raw.partition(":")
        if kind == "cohort":
            label = int(key)
            if label not in view.cohorts:
                raise KeyError(label)
            return kind, label
        if kind == "respondent":
            view.respondent_index(key)  # KeyError if unknown
            return kind, key
        raise ValueError(raw)

    if not adopt(page, "persona", "_permalink_persona", parse):
        return False
    kind, key = st.session_state.pop("_permalink_persona")
    st.session_state["compare_kind"] = kind
    st.session_state[f"compare_{kind}"] = key
    return True


def persona_param(persona) -> str | None:
    """The ``persona`` parameter of a respondent or cohort persona (``None`` for a selection)."""
    if persona is None or persona.kind not in ("cohort", "respondent"):
        return None
    return f"{persona.kind}:{persona.key}"
