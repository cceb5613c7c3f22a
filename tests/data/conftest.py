"""Shared paths and helpers for the data-loader tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from persona_core.data.errors import DataError

FIXTURES = Path(__file__).parent / "fixtures"
CSV_SMALL = FIXTURES / "csv_small"
OPINIONQA_ROOT = FIXTURES / "opinionqa"
OPINIONQA_W99 = OPINIONQA_ROOT / "American_Trends_Panel_W99"


def assert_data_error(exc: pytest.ExceptionInfo, file: str, row: int | None, column: str | None) -> DataError:
    """The error names the file (by its name), the 1-based line and the column."""
    err = exc.value
    assert isinstance(err, DataError)
    assert err.file is not None and Path(err.file).name == file, err
    assert err.row == row, err
    assert err.column == column, err
    assert file in str(err)
    if row is not None:
        assert f"row {row}" in str(err)
    return err
