"""annotations and induced personas

``annotation``: votes on preference pairs (choice, rationale, displayed order, time spent,
status, hidden facts), history kept, at most one ``current`` vote per (pair, annotator) by a
partial unique index; ``token`` makes a submission idempotent. ``induced_persona``: persona
texts induced from an annotator's votes (SynthesizeMe).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: Union[str, None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CURRENT = sa.text("status = 'current'")


def upgrade() -> None:
    op.create_table(
        "annotation",
        sa.Column("id", ID, nullable=False),
        sa.Column("pair_id", ID, nullable=False),
        sa.Column("annotator", sa.String(200), nullable=False),
        sa.Column("choice", sa.String(10), nullable=False),
        sa.Column("displayed_order", sa.String(2), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("replaces_id", ID, nullable=True),
        sa.Column("facts", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("choice IN ('a', 'b', 'tie', 'both_bad')", name="ck_annotation_choice"),
        sa.CheckConstraint("status IN ('current', 'replaced', 'undone')", name="ck_annotation_status"),
        sa.CheckConstraint("displayed_order IN ('ab', 'ba')", name="ck_annotation_displayed_order"),
        sa.ForeignKeyConstraint(["pair_id"], ["preference_pair.id"], name="fk_annotation_pair_id_preference_pair",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["replaces_id"], ["annotation.id"], name="fk_annotation_replaces_id_annotation",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_annotation"),
        sa.UniqueConstraint("token", name="uq_annotation_token"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_annotation_pair_id", "annotation", ["pair_id"])
    op.create_index("ix_annotation_annotator", "annotation", ["annotator"])
    op.create_index("ix_annotation_created_at", "annotation", ["created_at"])
    op.create_index("uq_annotation_current", "annotation", ["pair_id", "annotator"], unique=True,
                    sqlite_where=CURRENT, postgresql_where=CURRENT)
    op.create_table(
        "induced_persona",
        sa.Column("id", ID, nullable=False),
        sa.Column("annotator", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("demos", JSON, nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("model_name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_induced_persona"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_induced_persona_annotator", "induced_persona", ["annotator"])
    op.create_index("ix_induced_persona_created_at", "induced_persona", ["created_at"])


def downgrade() -> None:
    op.drop_table("induced_persona")
    op.drop_table("annotation")
