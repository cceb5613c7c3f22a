"""Errors raised for bad survey input, always naming where the problem is."""
from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad input data. The message names the file, row and column where known.

    ``row`` is the 1-based line number in the file as a user sees it in an editor
    (the header is line 1), or a respondent index for non-tabular sources. ``column`` is the
    column's header name, or ``#k`` (its 1-based position) where there is no name to give
    (the header line itself, a field beyond the header); in JSON Lines files it is the
    field's key, or ``character k`` / ``byte k`` of the line.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        where = []
        if self.file is not None:
            where.append(f"file {self.file}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {problem}" if where else problem)


def no_persona_space(dataset: str | None, hint: str = "") -> DataError:
    """The error for "nothing built yet" (of ``dataset``, or of any when ``None``), saying what to
    run; ``hint``: another way out, e.g. " (or pass --space DIR)"."""
    what = f"dataset {dataset!r}" if dataset else "any dataset"
    return DataError(f"no persona space found for {what}: run `python -m persona_core build` first{hint}")


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to about ``limit`` characters, for echoing bad input in a message
    (a 100,000-character cell must not become a 100,000-character error)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value):,} characters)" if isinstance(value, str) else ""
    return f"{text[: limit - 1]}\u2026{size}"
