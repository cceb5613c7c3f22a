"""Errors raised for bad survey input, always naming where the problem is."""
from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad input data. The message names the file, row and column where known.

    ``row`` is the 1-based line number in the file as a user sees it in an editor
    (the header is line 1), or a respondent index for non-tabular sources.
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
