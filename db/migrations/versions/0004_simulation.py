"""simulation runs

``simulation_run``: one ``python -m persona_core simulate`` run (its inputs' hash ``key``,
unique, so a killed run resumes; the scored questions; the summary once done).
``simulation_chunk``: the finished chunks of a run, each written in the same transaction as its
rows. ``simulation_row``: one (persona, question) row with the steered and unsteered option
distributions (float32 bytes).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: Union[str, None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _to_run(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["simulation_id"], ["simulation_run.id"],
                                   name=f"fk_{table}_simulation_id_simulation_run", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "simulation_run",
        sa.Column("id", ID, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("space_run_key", sa.String(200), nullable=False),
        sa.Column("model_name", sa.Text(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("questions", JSON, nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("n_chunks", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('running', 'done')", name="ck_simulation_run_status"),
        sa.ForeignKeyConstraint(["run_id"], ["embedding_run.id"], name="fk_simulation_run_run_id_embedding_run",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_simulation_run"),
        sa.UniqueConstraint("key", name="uq_simulation_run_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_simulation_run_run_id", "simulation_run", ["run_id"])
    op.create_index("ix_simulation_run_created_at", "simulation_run", ["created_at"])
    op.create_table(
        "simulation_chunk",
        sa.Column("simulation_id", ID, nullable=False),
        sa.Column("chunk", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("engine", sa.String(20), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _to_run("simulation_chunk"),
        sa.PrimaryKeyConstraint("simulation_id", "chunk", name="pk_simulation_chunk"),
    )
    op.create_table(
        "simulation_row",
        sa.Column("simulation_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("persona_kind", sa.String(20), nullable=False),
        sa.Column("persona_key", sa.String(255), nullable=False),
        sa.Column("question_key", sa.String(255), nullable=False),
        sa.Column("steered", sa.LargeBinary(), nullable=False),
        sa.Column("unsteered", sa.LargeBinary(), nullable=False),
        _to_run("simulation_row"),
        sa.PrimaryKeyConstraint("simulation_id", "position", name="pk_simulation_row"),
    )


def downgrade() -> None:
    op.drop_table("simulation_row")
    op.drop_table("simulation_chunk")
    op.drop_table("simulation_run")
