"""Partitions: a run's partition key, at most one active run per (flow, partition), the
keys of dynamic partition sets, and backfills of partitions that the timers carry out.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.types import TypeEngine

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ACTIVE = "partition IS NOT NULL AND state IN ('scheduled', 'queued', 'running', 'cancelling')"


def _str(length: int) -> TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    op.add_column("runs", sa.Column("partition", _str(200)))
    op.create_index(
        "ix_runs_flow_partition",
        "runs",
        ["flow_name", "partition", "created_at", "id", "state", "ended_at"],
    )
    op.create_index(
        "uq_runs_active_partition",
        "runs",
        ["flow_name", "partition"],
        unique=True,
        sqlite_where=sa.text(_ACTIVE),
        postgresql_where=sa.text(_ACTIVE),
    )
    # An asset's newest write per partition, read from the index alone.
    op.create_index(
        "ix_asset_materializations_partition",
        "asset_materializations",
        ["asset", "partition", "at"],
    )
    op.create_table(
        "dynamic_partitions",
        sa.Column("name", _str(200), nullable=False),
        sa.Column("key", _str(200), nullable=False),
        sa.Column("added_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", "key"),
    )
    op.create_table(
        "backfills",
        sa.Column("id", _str(32), primary_key=True),
        sa.Column("flow_name", _str(200), nullable=False),
        sa.Column("version_id", _str(32), nullable=False),
        sa.Column("state", _str(20), nullable=False),
        sa.Column("keys", sa.Text(), nullable=False),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.Column("max_parallel", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Text(), nullable=False),
        sa.Column("requested_by", _str(200)),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_backfills_state", "backfills", ["state"])


def downgrade() -> None:
    op.drop_index("ix_backfills_state", "backfills")
    op.drop_table("backfills")
    op.drop_table("dynamic_partitions")
    op.drop_index("ix_asset_materializations_partition", "asset_materializations")
    op.drop_index("uq_runs_active_partition", "runs")
    op.drop_index("ix_runs_flow_partition", "runs")
    with op.batch_alter_table("runs") as batch:  # SQLite: a table rebuild
        batch.drop_column("partition")
