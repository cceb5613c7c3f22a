"""Shared fixtures.

Databases: ``db_url`` is a freshly migrated database, once on SQLite (a file in ``tmp_path``)
and once on PostgreSQL (a new database on a throwaway server started once per test session,
see :mod:`db.pgserver`); ``blank_db_url`` is the same without migrations. Missing
PostgreSQL binaries make the postgresql tests FAIL with install instructions (never skip):
CI installs Debian's ``postgresql`` package.
"""
from __future__ import annotations

import os

import pytest
import torch

# No app started by a test (AppTest or a server) loads the language model in the background: the
# tests that need it load it, and the warm-up's own tests turn it on (service.models.WARM_UP_ENV).
os.environ["PERSONA_WARM_UP"] = "0"

# Fixed thread count: reductions (and so learning-test trajectories) then do not depend on how
# many cores the machine has. Seeds are fixed in each test.
torch.set_num_threads(2)

from db.pgserver import PostgresUnavailable, TemporaryPostgres
from db.session import dispose_engine, upgrade_database

DB_BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_server():
    """A private PostgreSQL server on 127.0.0.1 for the whole test session."""
    try:
        server = TemporaryPostgres().start()
    except PostgresUnavailable as exc:
        pytest.fail(f"the PostgreSQL tests need a local server: {exc}", pytrace=False)
    yield server
    server.stop()


def _new_database(request, tmp_path) -> tuple[str, callable]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'persona.db'}"
        return url, lambda: dispose_engine(url)
    server = request.getfixturevalue("postgres_server")
    url = server.create_database("test")

    def drop() -> None:
        dispose_engine(url)
        server.drop_database(url)

    return url, drop


@pytest.fixture(params=DB_BACKENDS)
def blank_db_url(request, tmp_path):
    """URL of an empty, unmigrated database (SQLite file / fresh PostgreSQL database)."""
    url, drop = _new_database(request, tmp_path)
    yield url
    drop()


@pytest.fixture(params=DB_BACKENDS)
def db_url(request, tmp_path):
    """URL of a database migrated to the latest schema (SQLite file / fresh PostgreSQL database)."""
    url, drop = _new_database(request, tmp_path)
    upgrade_database(url)
    yield url
    drop()


@pytest.fixture
def ray_cluster():
    """A local Ray cluster of 2 CPUs (no dashboard) for one test; shut down after it."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def no_cohort_names(built_space):
    """The session's built space (``tests/app/synthetic.py``, shared by the app and service tests)
    without LLM-written cohort names, before and after the test."""
    built_space.forget_cohort_names()
    yield
    built_space.forget_cohort_names()
