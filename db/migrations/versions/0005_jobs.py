"""background jobs

``job``: one background run of a ``python -m persona_core`` subcommand (train, eval, pairs
generate, simulate, ...): kind, arguments, status (queued / running / done / failed), stage,
progress, time left, log tail, error, result, the process (pid, host) and its heartbeat;
``after_id`` chains jobs, ``dedupe_key`` keeps one active job per key.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: Union[str, None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("args", JSON, nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("eta_seconds", sa.Float(), nullable=True),
        sa.Column("log_tail", sa.Text(), nullable=False),
        sa.Column("log_path", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", JSON, nullable=False),
        sa.Column("after_id", ID, nullable=True),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("dedupe_key", sa.String(200), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="ck_job_status"),
        sa.ForeignKeyConstraint(["after_id"], ["job.id"], name="fk_job_after_id_job", ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["run_id"], ["embedding_run.id"], name="fk_job_run_id_embedding_run",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_job"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_job_status", "job", ["status"])
    op.create_index("ix_job_after_id", "job", ["after_id"])
    op.create_index("ix_job_run_id", "job", ["run_id"])
    op.create_index("ix_job_dedupe_key", "job", ["dedupe_key"])
    op.create_index("ix_job_created_at", "job", ["created_at"])


def downgrade() -> None:
    op.drop_table("job")
