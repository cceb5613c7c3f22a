"""Fast multi-row inserts inside the caller's transaction.

- PostgreSQL through psycopg 3: ``COPY ... FROM STDIN`` (psycopg adapts each row in C).
- SQLite: the driver's ``executemany`` with plain tuples (no per-row dict building).
- Any other backend: SQLAlchemy Core ``insert`` with a list of parameter dicts.

Columns come in as equal-length sequences (lists or numpy arrays), so callers build data
column-wise with numpy instead of one Python dict per row.
"""
from __future__ import annotations

import json
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np
from sqlalchemy import JSON, Table, exc, insert
from sqlalchemy.orm import Session

CHUNK_ROWS = 100_000


def _python_column(values: Sequence) -> list:
    """A column as a list of Python scalars (numpy scalars are not understood by every driver)."""
    if isinstance(values, np.ndarray):
        return values.tolist()
    return list(values)


def _json_encoded(table: Table, names: list[str], data: list[list]) -> list[list]:
    """The driver-level paths bypass SQLAlchemy's JSON type: serialize JSON columns here."""
    out = []
    for name, values in zip(names, data):
        if isinstance(table.c[name].type, JSON):
            values = [None if v is None else json.dumps(v, ensure_ascii=False, allow_nan=False) for v in values]
        out.append(values)
    return out


def _chunks(table: Table, columns: Mapping[str, Sequence], n_rows: int, *, json_encode: bool) -> Iterator[list[list]]:
    """The columns :data:`CHUNK_ROWS` rows at a time, as lists of Python scalars (JSON columns
    serialized where ``json_encode``). Only one chunk is ever held as Python objects: converting a
    whole large insert at once held every value and every row tuple (80 million answers, a
    1,000,000-person survey: about 17 GB)."""
    names = list(columns)
    for start in range(0, n_rows, CHUNK_ROWS):
        data = [_python_column(columns[n][start : start + CHUNK_ROWS]) for n in names]
        yield _json_encoded(table, names, data) if json_encode else data


def bulk_insert(
    session: Session, table: Table, columns: Mapping[str, Sequence], *, method: str | None = None
) -> int:
    """Insert rows given column-wise (``{column name: values}``) into ``table`` in the session's
    current transaction. Returns the number of rows.

    ``method`` forces a path (``"copy"``: PostgreSQL + psycopg only, ``"executemany"``,
    ``"core"``); by default the fastest one the backend supports."""
    names = list(columns)
    lengths = {len(columns[n]) for n in names}
    if len(lengths) != 1:
        raise ValueError(f"bulk_insert into {table.name}: columns have different lengths {sorted(lengths)}")
    n_rows = lengths.pop()
    if n_rows == 0:
        return 0
    unknown = [n for n in names if n not in table.c]
    if unknown:
        raise ValueError(f"bulk_insert into {table.name}: unknown columns {unknown}")

    connection = session.connection()
    dialect = connection.dialect

    can_copy = dialect.name == "postgresql" and dialect.driver == "psycopg"
    if method is None:
        method = "copy" if can_copy else "executemany" if dialect.paramstyle == "qmark" else "core"
    if method == "copy" and not can_copy:
        raise ValueError(f"COPY needs PostgreSQL with psycopg, not {dialect.name}+{dialect.driver}")
    if method == "executemany" and dialect.paramstyle not in ("qmark", "format", "pyformat"):
        method = "core"

    if method == "copy":
        _copy_psycopg(connection, table, names, _chunks(table, columns, n_rows, json_encode=True))
    elif method == "executemany":
        quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
        marker = "?" if dialect.paramstyle == "qmark" else "%s"
        sql = (
            f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({quoted}) "
            f"VALUES ({', '.join([marker] * len(names))})"
        )
        for data in _chunks(table, columns, n_rows, json_encode=True):
            connection.exec_driver_sql(sql, list(zip(*data)))
    elif method == "core":
        for data in _chunks(table, columns, n_rows, json_encode=False):
            connection.execute(insert(table), [dict(zip(names, row)) for row in zip(*data)])
    else:
        raise ValueError(f"unknown bulk insert method {method!r}")
    return n_rows


def _copy_psycopg(connection, table: Table, names: list[str], chunks: Iterable[list[list]]) -> None:
    dialect = connection.dialect
    quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
    sql = f"COPY {dialect.identifier_preparer.format_table(table)} ({quoted}) FROM STDIN"
    driver_connection = connection.connection.driver_connection
    dbapi_error = dialect.loaded_dbapi.Error
    try:
        with driver_connection.cursor() as cursor:
            with cursor.copy(sql) as copy:
                for data in chunks:
                    for row in zip(*data):
                        copy.write_row(row)
    except dbapi_error as err:  # raise SQLAlchemy's exceptions, as the other paths do
        raise exc.DBAPIError.instance(sql, None, err, dbapi_error) from err
