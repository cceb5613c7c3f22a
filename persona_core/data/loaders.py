"""One entry point for every survey source: ``load_survey(kind, path, wave)``."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from persona_core.data.csv_long import load_csv
from persona_core.data.gss import load_gss
from persona_core.data.opinionqa import load_opinionqa
from persona_core.data.survey import Survey

KINDS: tuple[str, ...] = ("gss", "opinionqa", "csv")


def _gss(path: str | Path | None, wave: str | None) -> Survey:
    return load_gss(path, wave=wave or "2016")


def _opinionqa(path: str | Path | None, wave: str | None) -> Survey:
    if path is None:
        raise ValueError("the opinionqa loader needs a path (a wave directory or human_resp/)")
    return load_opinionqa(path, wave=wave)


def _csv(path: str | Path | None, wave: str | None) -> Survey:
    if path is None:
        raise ValueError("the csv loader needs a path (a directory with answers.csv and questions.csv)")
    if wave is not None:
        raise ValueError("the csv loader has no waves; leave wave unset")
    return load_csv(path)


_LOADERS: dict[str, Callable[[str | Path | None, str | None], Survey]] = {
    "gss": _gss,
    "opinionqa": _opinionqa,
    "csv": _csv,
}


def load_survey(kind: str, path: str | Path | None = None, wave: str | None = None) -> Survey:
    """Load a survey of ``kind`` ``"gss"`` (default file and wave 2016 when not given),
    ``"opinionqa"`` or ``"csv"``. Unknown kinds raise :class:`ValueError` listing the kinds."""
    loader = _LOADERS.get(str(kind).strip().lower())
    if loader is None:
        raise ValueError(f"unknown survey kind {kind!r}; choose one of: {', '.join(KINDS)}")
    return loader(path, None if wave is None else str(wave))
