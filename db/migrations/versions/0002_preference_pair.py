"""preference pairs

A prompt with two answers to be judged (the Compare page's "send to annotation": unsteered as
``response_a``, steered as ``response_b``, the hidden facts in ``meta``). Pairs outlive the
embedding run they came from (``run_id`` is set to NULL when it is deleted).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: Union[str, None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "preference_pair",
        sa.Column("id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("source", sa.String(50), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("response_a", sa.Text(), nullable=False),
        sa.Column("response_b", sa.Text(), nullable=False),
        sa.Column("meta", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["embedding_run.id"], name="fk_preference_pair_run_id_embedding_run",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_preference_pair"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_preference_pair_created_at", "preference_pair", ["created_at"])
    op.create_index("ix_preference_pair_run_id", "preference_pair", ["run_id"])


def downgrade() -> None:
    op.drop_table("preference_pair")
