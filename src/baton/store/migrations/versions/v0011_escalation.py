"""Escalation: who acknowledged a run (`run_acks`), and the escalations under way.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.types import TypeEngine

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _str(length: int) -> TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _id() -> TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "run_acks",
        sa.Column("run_id", _str(32), primary_key=True),
        sa.Column("acknowledged_at", sa.Float(), nullable=False),
        sa.Column("acknowledged_by", _str(200), nullable=False),
        sa.Column("comment", sa.Text()),
    )
    op.create_table(
        "escalations",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("key", _str(300), nullable=False, unique=True),
        sa.Column("flow_name", _str(200), nullable=False),
        sa.Column("run_id", _str(32), nullable=False),
        sa.Column("task_run_id", _id()),
        sa.Column("event", _str(20), nullable=False),
        sa.Column("steps", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("next_step", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.Column("state", _str(20), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_escalations_run_id", "escalations", ["run_id"])
    op.create_index("ix_escalations_due", "escalations", ["state", "next_at"])


def downgrade() -> None:
    op.drop_index("ix_escalations_due", "escalations")
    op.drop_index("ix_escalations_run_id", "escalations")
    op.drop_table("escalations")
    op.drop_table("run_acks")
