"""Engines and transactions."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from db.models import Dataset
from db.session import get_engine, make_engine, session_scope
from tests.concurrent import run_in_threads


def _dataset(name: str) -> Dataset:
    return Dataset(name=name, kind="test", fingerprint="f" * 64, n_respondents=0, n_questions=0, n_answers=0)


def _count(url: str) -> int:
    with session_scope(url) as s:
        return s.execute(select(func.count()).select_from(Dataset)).scalar_one()


def test_sqlite_file_engine_has_foreign_keys_and_wal(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as c:
        assert c.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert c.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    engine.dispose()


def test_sqlite_memory_engine_has_foreign_keys():
    engine = make_engine("sqlite://")
    with engine.connect() as c:
        assert c.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert c.execute(text("PRAGMA journal_mode")).scalar_one() == "memory"
    engine.dispose()


def test_session_scope_commits(db_url):
    with session_scope(db_url) as s:
        s.add(_dataset("a"))
    assert _count(db_url) == 1


def test_session_scope_rolls_back_on_error(db_url):
    with pytest.raises(RuntimeError, match="boom"):
        with session_scope(db_url) as s:
            s.add(_dataset("a"))
            s.flush()  # written inside the transaction ...
            raise RuntimeError("boom")
    assert _count(db_url) == 0  # ... and gone


def test_engine_is_cached_per_url(db_url):
    assert get_engine(db_url) is get_engine(db_url)


def test_concurrent_read_then_write_transactions_lose_nothing(db_url):
    """Each thread reads the table, then writes: with write_lock the SQLite writers queue
    instead of failing with 'database is locked'."""
    def work(k: int) -> None:
        for i in range(5):
            with session_scope(db_url, write_lock=True) as s:
                s.execute(select(func.count()).select_from(Dataset)).scalar_one()
                s.add(_dataset(f"t{k}-{i}"))

    assert run_in_threads(work, 8) == []
    assert _count(db_url) == 40
