"""Engines, migrations and transactions.

- :func:`make_engine` builds an engine for a URL (see :mod:`db.settings`). On SQLite it turns
  on foreign keys, a 30 s busy timeout, WAL journaling for file databases, and lets SQLAlchemy
  emit ``BEGIN`` itself so every transaction (DDL included) is a real one.
- :func:`get_engine` is the cached engine per URL that :func:`session_scope` uses.
- :func:`upgrade_database` runs ``alembic upgrade head`` programmatically (idempotent).
- :func:`session_scope` is one transaction: commit on success, rollback on error.
"""
from __future__ import annotations

import threading
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from db.settings import get_database_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_SQLITE_BEGIN = "persona_sqlite_begin"
_PG_MIGRATION_LOCK = 7_331_001  # arbitrary advisory-lock key for migrations

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """A new engine for ``url`` (default: :func:`db.settings.get_database_url`)."""
    url = get_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)

    file_db = parsed.database not in (None, "", ":memory:") and "mode=memory" not in str(parsed.query)
    if file_db:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("timeout", 30)
    connect_args.setdefault("check_same_thread", False)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - exercised by every test
        dbapi_connection.isolation_level = None  # pysqlite: let SQLAlchemy emit BEGIN
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA cache_size = -65536")  # 64 MiB page cache: bulk loads touch big indexes
        if file_db:
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # BEGIN IMMEDIATE takes the write lock up front, so concurrent writers wait on the busy
        # timeout instead of failing when a read transaction tries to become a write one.
        conn.exec_driver_sql(conn.get_execution_options().get(_SQLITE_BEGIN, "BEGIN"))

    return engine


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (created on first use)."""
    url = get_database_url(url)
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def dispose_engine(url: str | None = None) -> None:
    """Close and forget the cached engine for ``url`` (if any)."""
    with _engines_lock:
        engine = _engines.pop(get_database_url(url), None)
    if engine is not None:
        engine.dispose()


def dispose_engines() -> None:
    """Close every cached engine's connections (tests, before dropping a database)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def alembic_config(url: str | None = None):
    """An Alembic :class:`~alembic.config.Config` for ``url`` without needing alembic.ini."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = get_database_url(url)
    return cfg


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for running migrations, serialized against other
    migrators (PostgreSQL advisory lock; SQLite ``BEGIN IMMEDIATE``).

    On SQLite, foreign keys are switched off for the duration (Alembic's batch mode rebuilds
    tables by copy-drop-rename, and dropping a parent table with foreign keys on would
    cascade-delete its children) and ``PRAGMA foreign_key_check`` must come back clean
    before the transaction commits.
    """
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        engine = engine.execution_options(**{_SQLITE_BEGIN: "BEGIN IMMEDIATE"})
    with engine.connect() as connection:
        if sqlite:  # outside any transaction, where the pragma takes effect
            connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
        try:
            with connection.begin():
                if engine.dialect.name == "postgresql":
                    connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)" % _PG_MIGRATION_LOCK)
                yield connection
                if sqlite:
                    bad = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if bad:
                        raise RuntimeError(f"migration left foreign-key violations: {bad[:5]}")
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys = ON")


def upgrade_database(url: str | None = None, revision: str = "head") -> str:
    """Migrate the database at ``url`` to ``revision`` (default: latest); safe to call again,
    also from several processes at once. Returns the URL that was migrated."""
    from alembic import command

    url = get_database_url(url)
    cfg = alembic_config(url)
    with migration_connection(get_engine(url)) as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
    return url


def current_revision(url: str | None = None) -> str | None:
    """The Alembic revision the database is at (``None`` if never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def session_scope(url: str | None = None, *, write_lock: bool = False) -> Iterator[Session]:
    """One transaction: commits if the block succeeds, rolls back if it raises.

    ``write_lock=True`` takes SQLite's write lock at the start (``BEGIN IMMEDIATE``), which
    concurrent writers need so they queue instead of failing; it changes nothing elsewhere.
    """
    engine = get_engine(url)
    if write_lock and engine.dialect.name == "sqlite":
        engine = engine.execution_options(**{_SQLITE_BEGIN: "BEGIN IMMEDIATE"})
    session = Session(bind=engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def lock_keys(session: Session, keys: Sequence[str]) -> None:
    """Serialize the transactions that write under the same keys (e.g. two tabs naming the same
    cohorts): SQLite's ``BEGIN IMMEDIATE`` (``session_scope(write_lock=True)``) already does;
    PostgreSQL takes a transaction-scoped advisory lock per key."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):
        session.execute(select(func.pg_advisory_xact_lock(zlib.crc32(key.encode()))))
