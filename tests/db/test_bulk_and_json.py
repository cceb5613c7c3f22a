"""The bulk-insert paths and the JSON conversion."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from db.bulk import bulk_insert
from db.models import Dataset, Respondent
from db.session import session_scope
from db.store import to_jsonable


def _dataset(session) -> int:
    d = Dataset(name="d", kind="test", fingerprint="0" * 64, n_respondents=3, n_questions=0, n_answers=0)
    session.add(d)
    session.flush()
    return d.id


@pytest.mark.parametrize("method", [None, "executemany", "core"])
def test_bulk_insert_paths_store_the_same_rows(db_url, method):
    attributes = [{"age": 30, "tags": ["a", "ü"]}, {}, {"nested": {"x": None}}]
    with session_scope(db_url) as s:
        did = _dataset(s)
        n = bulk_insert(s, Respondent.__table__, {
            "dataset_id": np.full(3, did), "position": np.arange(3), "key": ["r0", "r1", "r2"],
            "attributes": attributes,
        }, method=method)
    assert n == 3
    with session_scope(db_url) as s:
        rows = s.execute(select(Respondent.position, Respondent.key, Respondent.attributes)
                         .order_by(Respondent.position)).all()
    assert [tuple(r) for r in rows] == [(0, "r0", attributes[0]), (1, "r1", {}), (2, "r2", attributes[2])]


@pytest.mark.parametrize("method", [None, "executemany", "core"])
def test_bulk_insert_converts_one_chunk_at_a_time_and_stores_every_row(db_url, method, monkeypatch):
    # a whole insert turned into Python objects at once held ~17 GB for 80 million answers
    import db.bulk

    monkeypatch.setattr(db.bulk, "CHUNK_ROWS", 2)
    converted: list[int] = []
    real = db.bulk._python_column
    monkeypatch.setattr(db.bulk, "_python_column", lambda values: converted.append(len(values)) or real(values))
    attributes = [{"i": i, "name": f"ü{i}"} for i in range(5)]
    with session_scope(db_url) as s:
        did = _dataset(s)
        assert bulk_insert(s, Respondent.__table__, {
            "dataset_id": np.full(5, did), "position": np.arange(5), "key": [f"r{i}" for i in range(5)],
            "attributes": attributes,
        }, method=method) == 5
    assert converted == [2] * 8 + [1] * 4  # 4 columns x chunks of 2, 2, 1
    with session_scope(db_url) as s:
        rows = s.execute(select(Respondent.position, Respondent.key, Respondent.attributes)
                         .order_by(Respondent.position)).all()
    assert [tuple(r) for r in rows] == [(i, f"r{i}", attributes[i]) for i in range(5)]


def test_bulk_insert_copy_path_only_on_postgresql(db_url):
    with session_scope(db_url) as s:
        did = _dataset(s)
        columns = {"dataset_id": [did], "position": [0], "key": ["r0"], "attributes": [{}]}
        if db_url.startswith("postgresql"):
            assert bulk_insert(s, Respondent.__table__, columns, method="copy") == 1
        else:
            with pytest.raises(ValueError, match="COPY needs PostgreSQL"):
                bulk_insert(s, Respondent.__table__, columns, method="copy")


def test_bulk_insert_rejects_ragged_or_unknown_columns(db_url):
    with session_scope(db_url) as s:
        with pytest.raises(ValueError, match="different lengths"):
            bulk_insert(s, Respondent.__table__, {"key": ["a", "b"], "position": [0]})
        with pytest.raises(ValueError, match="unknown columns"):
            bulk_insert(s, Respondent.__table__, {"nope": [1]})
        assert bulk_insert(s, Respondent.__table__, {"key": []}) == 0


def test_to_jsonable_converts_numpy_and_friends():
    value = {
        1: np.int16(3), "f": np.float32(0.5), "b": np.bool_(True), "nan": float("nan"), "inf": np.inf,
        "arr": np.arange(3), "t": (1, 2), "p": Path("/x/y"), "d": date(2024, 1, 2),
        "dt": datetime(2024, 1, 2, 3, 4), "none": None, "s": {3},
    }
    assert to_jsonable(value) == {
        "1": 3, "f": 0.5, "b": True, "nan": None, "inf": None, "arr": [0, 1, 2], "t": [1, 2],
        "p": "/x/y", "d": "2024-01-02", "dt": "2024-01-02T03:04:00", "none": None, "s": [3],
    }


def test_to_jsonable_names_the_bad_value():
    with pytest.raises(TypeError, match=r"\$\.outer\.inner.*object"):
        to_jsonable({"outer": {"inner": object()}})
