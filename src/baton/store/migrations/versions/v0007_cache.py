"""Task result caching: cache entries, what a task run looked up (`cache_key`) or was
served from (`cached_from_run`, `cached_from_attempt`), and a run's `--refresh-cache`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.types import TypeEngine

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _str(length: int) -> TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _id() -> TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cache_entries",
        sa.Column("key", _str(64), primary_key=True),
        sa.Column("flow_name", _str(200), nullable=False),
        sa.Column("task_key", _str(200), nullable=False),
        sa.Column("run_id", _str(32), nullable=False),
        sa.Column("task_run_id", _id(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("result", sa.Text()),
        sa.Column("result_ref", sa.Text()),
        sa.Column("result_len", sa.Integer()),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float()),
    )
    op.create_index("ix_cache_entries_flow", "cache_entries", ["flow_name", "task_key"])
    op.create_index("ix_cache_entries_run", "cache_entries", ["run_id"])
    op.create_index("ix_cache_entries_created", "cache_entries", ["created_at"])
    op.add_column("task_runs", sa.Column("cache_key", _str(64)))
    op.add_column("task_runs", sa.Column("cached_from_run", _str(32)))
    op.add_column("task_runs", sa.Column("cached_from_attempt", sa.Integer()))
    op.add_column(
        "runs", sa.Column("refresh_cache", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("refresh_cache")
    with op.batch_alter_table("task_runs") as batch:
        batch.drop_column("cached_from_attempt")
        batch.drop_column("cached_from_run")
        batch.drop_column("cache_key")
    op.drop_table("cache_entries")
