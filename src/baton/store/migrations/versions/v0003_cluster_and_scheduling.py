"""Cluster mode and scheduling: pools, leases, trigger cursors, asset events, run intervals.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.types import TypeEngine

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ONE_PER_LOGICAL_DATE = "logical_date IS NOT NULL AND parent_run_id IS NULL"


def _str(length: int) -> TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _id() -> TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("flows", sa.Column("deployed", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("runs", sa.Column("data_interval_start", sa.Float()))
    op.add_column("runs", sa.Column("data_interval_end", sa.Float()))
    op.add_column("runs", sa.Column("trigger_info", sa.Text()))
    op.create_index(
        "uq_runs_logical_date",
        "runs",
        ["flow_name", "logical_date"],
        unique=True,
        sqlite_where=sa.text(_ONE_PER_LOGICAL_DATE),
        postgresql_where=sa.text(_ONE_PER_LOGICAL_DATE),
    )
    op.create_index("ix_task_runs_pool", "task_runs", ["pool", "state"])
    op.create_table(
        "pools",
        sa.Column("name", _str(100), primary_key=True),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "locks",
        sa.Column("name", _str(100), primary_key=True),
        sa.Column("holder", _str(64), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "trigger_state",
        sa.Column("flow_name", _str(200), nullable=False),
        sa.Column("trigger_id", _str(200), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("flow_name", "trigger_id"),
    )
    op.create_table(
        "asset_events",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("asset", _str(300), nullable=False),
        sa.Column("flow_name", _str(200), nullable=False),
        sa.Column("run_id", _str(32), nullable=False),
        sa.Column("task_key", _str(200), nullable=False),
        sa.Column("task_run_id", _id(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_index("ix_asset_events_asset", "asset_events", ["asset", "id"])


def downgrade() -> None:
    op.drop_table("asset_events")
    op.drop_table("trigger_state")
    op.drop_table("locks")
    op.drop_table("pools")
    op.drop_index("ix_task_runs_pool", table_name="task_runs")
    op.drop_index("uq_runs_logical_date", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("trigger_info")
        batch.drop_column("data_interval_end")
        batch.drop_column("data_interval_start")
    with op.batch_alter_table("flows") as batch:
        batch.drop_column("deployed")
