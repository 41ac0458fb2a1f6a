"""The API: tokens, audit log, notifications outbox, shipped logs; indexes for run lists.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.types import TypeEngine

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _str(length: int) -> TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _id() -> TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.drop_index("ix_runs_state", "runs")
    op.create_index("ix_runs_state_created", "runs", ["state", "created_at"])
    op.create_index("ix_runs_parent", "runs", ["parent_run_id"])
    op.create_table(
        "tokens",
        sa.Column("id", _str(32), primary_key=True),
        sa.Column("user_name", _str(200), nullable=False),
        sa.Column("role", _str(20), nullable=False),
        sa.Column("secret_hash", _str(64), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_used_at", sa.Float()),
        sa.Column("revoked_at", sa.Float()),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("actor", _str(200), nullable=False),
        sa.Column("token_id", _str(32)),
        sa.Column("role", _str(20)),
        sa.Column("action", _str(100), nullable=False),
        sa.Column("object_type", _str(50)),
        sa.Column("object_id", _str(300)),
        sa.Column("outcome", _str(20), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("remote", _str(100)),
        sa.Column("detail", sa.Text()),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "notifications",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("key", _str(300), nullable=False, unique=True),
        sa.Column("flow_name", _str(200), nullable=False),
        sa.Column("run_id", _str(32), nullable=False),
        sa.Column("event", _str(20), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", _str(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.Float()),
        sa.Column("error", sa.Text()),
    )
    op.create_index("ix_notifications_run_id", "notifications", ["run_id"])
    op.create_index("ix_notifications_due", "notifications", ["state", "next_at"])
    op.create_table(
        "log_chunks",
        sa.Column("attempt_id", _str(32), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("attempt_id", "offset"),
    )


def downgrade() -> None:
    op.drop_index("ix_runs_parent", "runs")
    op.drop_index("ix_runs_state_created", "runs")
    op.create_index("ix_runs_state", "runs", ["state"])
    op.drop_table("log_chunks")
    op.drop_table("notifications")
    op.drop_table("audit_log")
    op.drop_table("tokens")
