"""The Alembic migrations create exactly the models' schema, on SQLite and PostgreSQL."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from db.models import Base
from db.session import alembic_config, current_revision, get_engine, migration_connection, upgrade_database

REPO = Path(__file__).resolve().parents[2]
EXPECTED_TABLES = {
    "dataset", "question", "option", "respondent", "answer", "embedding_run",
    "respondent_embedding", "cohort", "cohort_name", "evaluation_run", "preference_pair", "annotation", "induced_persona",
    "simulation_run", "simulation_chunk", "simulation_row", "job",
}


def _head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_upgrade_creates_every_table(blank_db_url):
    assert current_revision(blank_db_url) is None
    upgrade_database(blank_db_url)
    tables = set(inspect(get_engine(blank_db_url)).get_table_names())
    assert tables == EXPECTED_TABLES | {"alembic_version"}
    assert set(Base.metadata.tables) == EXPECTED_TABLES
    assert current_revision(blank_db_url) == _head()


def test_upgrade_is_idempotent(db_url):
    upgrade_database(db_url)
    upgrade_database(db_url)
    assert current_revision(db_url) == _head()


def test_migrated_schema_matches_models(db_url):
    """Autogenerate finds nothing to do: migrations and models agree (columns, types,
    indexes, unique constraints, foreign keys)."""
    with get_engine(db_url).connect() as connection:
        ctx = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_foreign_keys_and_indexes_exist(db_url):
    insp = inspect(get_engine(db_url))
    fks = {(fk["constrained_columns"][0], fk["referred_table"]) for fk in insp.get_foreign_keys("respondent_embedding")}
    assert fks == {("run_id", "embedding_run"), ("respondent_id", "respondent")}
    assert all(fk["options"].get("ondelete") == "CASCADE" for fk in insp.get_foreign_keys("question"))
    indexed = {tuple(ix["column_names"]) for ix in insp.get_indexes("embedding_run")}
    assert ("dataset_id",) in indexed
    uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints("respondent")}
    assert ("dataset_id", "key") in uniques
    assert insp.get_pk_constraint("answer")["constrained_columns"] == ["respondent_id", "question_id"]


def test_downgrade_removes_everything_and_upgrade_restores(db_url):
    with migration_connection(get_engine(db_url)) as connection:
        cfg = alembic_config(db_url)
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "base")
    assert set(inspect(get_engine(db_url)).get_table_names()) <= {"alembic_version"}
    upgrade_database(db_url)
    assert set(inspect(get_engine(db_url)).get_table_names()) == EXPECTED_TABLES | {"alembic_version"}


def test_alembic_command_line_from_repo_root(blank_db_url):
    env = {**os.environ, "PERSONA_DB_URL": blank_db_url}
    alembic = [sys.executable, "-m", "alembic"]
    out = subprocess.run([*alembic, "upgrade", "head"], cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Running upgrade  -> 0001" in out.stderr
    assert current_revision(blank_db_url) == _head()
    with get_engine(blank_db_url).connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM dataset")).scalar_one() == 0
