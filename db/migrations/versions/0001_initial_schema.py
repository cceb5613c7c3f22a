"""initial schema

Datasets, questions, options, respondents, answers, embedding runs, respondent embeddings,
cohorts and evaluation runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(columns, ref_table, ref_columns, name):
    return sa.ForeignKeyConstraint(columns, [f"{ref_table}.{c}" for c in ref_columns], name=name, ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "dataset",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("source", JSON, nullable=False),
        sa.Column("attribute_schema", JSON, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n_respondents", sa.Integer(), nullable=False),
        sa.Column("n_questions", sa.Integer(), nullable=False),
        sa.Column("n_answers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dataset"),
        sa.UniqueConstraint("name", name="uq_dataset_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "question",
        sa.Column("id", ID, nullable=False),
        sa.Column("dataset_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("ordinal", sa.Boolean(), nullable=False),
        _fk(["dataset_id"], "dataset", ["id"], "fk_question_dataset_id_dataset"),
        sa.PrimaryKeyConstraint("id", name="pk_question"),
        sa.UniqueConstraint("dataset_id", "key", name="uq_question_dataset_id_key"),
        sa.UniqueConstraint("dataset_id", "position", name="uq_question_dataset_id_position"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "option",
        sa.Column("id", ID, nullable=False),
        sa.Column("question_id", ID, nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _fk(["question_id"], "question", ["id"], "fk_option_question_id_question"),
        sa.PrimaryKeyConstraint("id", name="pk_option"),
        sa.UniqueConstraint("question_id", "position", name="uq_option_question_id_position"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "respondent",
        sa.Column("id", ID, nullable=False),
        sa.Column("dataset_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("attributes", JSON, nullable=False),
        _fk(["dataset_id"], "dataset", ["id"], "fk_respondent_dataset_id_dataset"),
        sa.PrimaryKeyConstraint("id", name="pk_respondent"),
        sa.UniqueConstraint("dataset_id", "key", name="uq_respondent_dataset_id_key"),
        sa.UniqueConstraint("dataset_id", "position", name="uq_respondent_dataset_id_position"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "answer",
        sa.Column("respondent_id", ID, autoincrement=False, nullable=False),
        sa.Column("question_id", ID, autoincrement=False, nullable=False),
        sa.Column("option", sa.SmallInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("respondent_id", "question_id", name="pk_answer"),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "embedding_run",
        sa.Column("id", ID, nullable=False),
        sa.Column("dataset_id", ID, nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("seconds", JSON, nullable=False),
        sa.Column("artifact_path", sa.Text(), nullable=True),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("n_respondents", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk(["dataset_id"], "dataset", ["id"], "fk_embedding_run_dataset_id_dataset"),
        sa.PrimaryKeyConstraint("id", name="pk_embedding_run"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_embedding_run_created_at", "embedding_run", ["created_at"])
    op.create_index("ix_embedding_run_dataset_id", "embedding_run", ["dataset_id"])

    op.create_table(
        "respondent_embedding",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("respondent_id", ID, nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("cohort_label", sa.Integer(), nullable=False),
        sa.Column("cohort_probability", sa.Float(), nullable=False),
        sa.Column("likely_cohort", sa.Integer(), nullable=False),
        _fk(["respondent_id"], "respondent", ["id"], "fk_respondent_embedding_respondent_id_respondent"),
        _fk(["run_id"], "embedding_run", ["id"], "fk_respondent_embedding_run_id_embedding_run"),
        sa.PrimaryKeyConstraint("run_id", "position", name="pk_respondent_embedding"),
        sa.UniqueConstraint("run_id", "respondent_id", name="uq_respondent_embedding_run_id_respondent_id"),
    )
    op.create_index("ix_respondent_embedding_respondent_id", "respondent_embedding", ["respondent_id"])

    op.create_table(
        "cohort",
        sa.Column("id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("label", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("centroid", JSON, nullable=False),
        sa.Column("profile", JSON, nullable=False),
        _fk(["run_id"], "embedding_run", ["id"], "fk_cohort_run_id_embedding_run"),
        sa.PrimaryKeyConstraint("id", name="pk_cohort"),
        sa.UniqueConstraint("run_id", "label", name="uq_cohort_run_id_label"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "evaluation_run",
        sa.Column("id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("model_name", sa.Text(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=True),
        sa.Column("config", JSON, nullable=False),
        sa.Column("results", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk(["run_id"], "embedding_run", ["id"], "fk_evaluation_run_run_id_embedding_run"),
        sa.PrimaryKeyConstraint("id", name="pk_evaluation_run"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_evaluation_run_created_at", "evaluation_run", ["created_at"])
    op.create_index("ix_evaluation_run_run_id", "evaluation_run", ["run_id"])


def downgrade() -> None:
    for table in (
        "evaluation_run",
        "cohort",
        "respondent_embedding",
        "embedding_run",
        "answer",
        "respondent",
        "option",
        "question",
        "dataset",
    ):
        op.drop_table(table)
