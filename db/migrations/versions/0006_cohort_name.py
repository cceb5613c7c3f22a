"""LLM-written cohort names

``cohort_name``: a cohort's name as one LLM wrote it from the cohort's distinctive answers,
with those answers (``evidence``), the model's raw reply and, when it gave no usable name, why
(``reason``). One row per (cohort, model, prompt version): a cache that a new model or prompt
does not overwrite.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: Union[str, None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cohort_name",
        sa.Column("id", ID, nullable=False),
        sa.Column("cohort_id", ID, nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("prompt_key", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohort.id"], name="fk_cohort_name_cohort_id_cohort", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_cohort_name"),
        sa.UniqueConstraint("cohort_id", "model", "prompt_key", name="uq_cohort_name_cohort_id_model_prompt_key"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("cohort_name")
