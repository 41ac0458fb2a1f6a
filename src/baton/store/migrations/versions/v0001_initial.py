"""The schema of baton 0.1 (before alembic it recorded version 1 in `baton_schema`).

Revision ID: 0001
Revises:
Create Date: 2026-11-23

A database made then (SQLite only) has exactly these tables: `migrate.upgrade` stamps it
0001 before upgrading. Types are spelled out here, not taken from `schema`, so this revision
stays what it was when `schema` changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.types import TypeEngine

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _str(length: int) -> TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _id() -> TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table("baton_schema", sa.Column("version", sa.Integer(), nullable=False))
    op.execute("INSERT INTO baton_schema (version) VALUES (1)")
    op.create_table(
        "attempts",
        sa.Column("id", _str(32), primary_key=True),
        sa.Column("task_run_id", _id(), nullable=False),
        sa.Column("run_id", _str(32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("worker_id", _str(64), nullable=False),
        sa.Column("state", _str(20), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float()),
        sa.Column("lease_expires_at", sa.Float(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("error_kind", _str(20)),
        sa.Column("traceback", sa.Text()),
    )
    op.create_index("ix_attempts_lease", "attempts", ["state", "lease_expires_at"])
    op.create_index("ix_attempts_run_id", "attempts", ["run_id"])
    op.create_index("ix_attempts_task_run_id", "attempts", ["task_run_id"])
    op.create_table(
        "flow_versions",
        sa.Column("id", _str(32), primary_key=True),
        sa.Column("flow_name", _str(200), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_flow_versions_flow_name", "flow_versions", ["flow_name"])
    op.create_table(
        "flows",
        sa.Column("name", _str(200), primary_key=True),
        sa.Column("latest_version", _str(32), nullable=False),
        sa.Column("paused", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", _str(32), primary_key=True),
        sa.Column("flow_name", _str(200), nullable=False),
        sa.Column("version_id", _str(32), nullable=False),
        sa.Column("state", _str(20), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("trigger", _str(20), nullable=False),
        sa.Column("logical_date", sa.Float()),
        sa.Column("parent_run_id", _str(32)),
        sa.Column("root_run_id", _str(32)),
        sa.Column("parent_task_run_id", _id()),
        sa.Column("unfinished", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float()),
        sa.Column("ended_at", sa.Float()),
    )
    op.create_index("ix_runs_created", "runs", ["created_at"])
    op.create_index("ix_runs_flow_created", "runs", ["flow_name", "created_at"])
    op.create_index("ix_runs_parent_task_run_id", "runs", ["parent_task_run_id"])
    op.create_index("ix_runs_root_run_id", "runs", ["root_run_id"])
    op.create_index("ix_runs_state", "runs", ["state"])
    op.create_table(
        "state_events",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("run_id", _str(32), nullable=False),
        sa.Column("task_run_id", _id()),
        sa.Column("from_state", _str(20)),
        sa.Column("to_state", _str(20), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("note", sa.Text()),
    )
    op.create_index("ix_state_events_run_id", "state_events", ["run_id"])
    op.create_table(
        "task_runs",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("run_id", _str(32), nullable=False),
        sa.Column("task_key", _str(200), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False, server_default="-1"),
        sa.Column("state", _str(20), nullable=False),
        sa.Column("queue", _str(100), nullable=False),
        sa.Column("pool", _str(100)),
        sa.Column("priority", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("up_total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("up_success", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("up_failed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("up_upstream_failed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("up_skipped", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("ready_at", sa.Float()),
        sa.Column("started_at", sa.Float()),
        sa.Column("ended_at", sa.Float()),
        sa.Column("result", sa.Text()),
        sa.Column("result_ref", sa.Text()),
        sa.Column("result_len", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("error_kind", _str(20)),
        sa.Column("reused_from", _str(32)),
        sa.Column("defer_state", sa.Text()),
        sa.Column("resume_attempt", _str(32)),
        sa.UniqueConstraint("run_id", "task_key", "map_index", name="uq_task_runs_key"),
    )
    op.create_index(
        "ix_task_runs_claim",
        "task_runs",
        ["state", "queue", sa.text("priority DESC"), "ready_at", "id"],
    )
    op.create_table(
        "workers",
        sa.Column("id", _str(64), primary_key=True),
        sa.Column("name", _str(200), nullable=False),
        sa.Column("host", _str(200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("queues", sa.Text(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("heartbeat_at", sa.Float(), nullable=False),
        sa.Column("stopped_at", sa.Float()),
    )


def downgrade() -> None:
    for table in (
        "workers",
        "task_runs",
        "state_events",
        "runs",
        "flows",
        "flow_versions",
        "attempts",
        "baton_schema",
    ):
        op.drop_table(table)
