"""The store's tables, as SQLAlchemy metadata: used to create and migrate the schema.

Only schema creation and migrations import this module (and so SQLAlchemy): the hot path
talks to the database through its DBAPI driver, because importing SQLAlchemy alone costs
about 0.2 s, most of the budget of a whole one-task `baton run`.

Times are UNIX seconds (float). JSON values are stored as text. `map_index` is -1 for a task
run that is not mapped (the API shows null).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    insert,
)

SCHEMA_VERSION = 1

metadata = MetaData()

schema_info = Table(
    "baton_schema",
    metadata,
    Column("version", Integer, nullable=False),
)

flows = Table(
    "flows",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("latest_version", String(32), nullable=False),
    Column("paused", Integer, nullable=False, server_default="0"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

flow_versions = Table(
    "flow_versions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("flow_name", String(200), nullable=False, index=True),
    Column("spec", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("flow_name", String(200), nullable=False),
    Column("version_id", String(32), nullable=False),
    Column("state", String(20), nullable=False),
    Column("params", Text, nullable=False),
    Column("trigger", String(20), nullable=False),
    Column("logical_date", Float),
    Column("parent_run_id", String(32)),
    Column("root_run_id", String(32), index=True),  # the run at the top of sub-flow runs
    Column("parent_task_run_id", Integer, index=True),  # the `flow` task waiting for this run
    Column("unfinished", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("ended_at", Float),
    Index("ix_runs_flow_created", "flow_name", "created_at"),
    Index("ix_runs_state", "state"),
    Index("ix_runs_created", "created_at"),
)

task_runs = Table(
    "task_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), nullable=False),
    Column("task_key", String(200), nullable=False),
    Column("map_index", Integer, nullable=False, server_default="-1"),
    Column("state", String(20), nullable=False),
    Column("queue", String(100), nullable=False),
    Column("pool", String(100)),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("up_total", Integer, nullable=False, server_default="0"),
    Column("up_success", Integer, nullable=False, server_default="0"),
    Column("up_failed", Integer, nullable=False, server_default="0"),
    Column("up_upstream_failed", Integer, nullable=False, server_default="0"),
    Column("up_skipped", Integer, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("ready_at", Float),
    Column("started_at", Float),
    Column("ended_at", Float),
    Column("result", Text),
    Column("result_ref", Text),
    Column("result_len", Integer),
    Column("error", Text),
    Column("error_kind", String(20)),
    Column("reused_from", String(32)),
    Column("defer_state", Text),  # JSON a waiting task gets back when it runs again
    Column("resume_attempt", String(32)),  # the waiting attempt the next claim continues
    UniqueConstraint("run_id", "task_key", "map_index", name="uq_task_runs_key"),
)
# Matches the claim query's ORDER BY, so claiming never sorts the whole queue.
Index(
    "ix_task_runs_claim",
    task_runs.c.state,
    task_runs.c.queue,
    task_runs.c.priority.desc(),
    task_runs.c.ready_at,
    task_runs.c.id,
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("task_run_id", Integer, nullable=False, index=True),
    Column("run_id", String(32), nullable=False, index=True),
    Column("number", Integer, nullable=False),
    Column("worker_id", String(64), nullable=False),
    Column("state", String(20), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float),
    Column("lease_expires_at", Float, nullable=False),
    Column("error", Text),
    Column("error_kind", String(20)),
    Column("traceback", Text),
    Index("ix_attempts_lease", "state", "lease_expires_at"),
)

state_events = Table(
    "state_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), nullable=False, index=True),
    Column("task_run_id", Integer),
    Column("from_state", String(20)),
    Column("to_state", String(20), nullable=False),
    Column("at", Float, nullable=False),
    Column("note", Text),
)

workers = Table(
    "workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("queues", Text, nullable=False),
    Column("concurrency", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("stopped_at", Float),
)


def create(url: str) -> None:
    """Create every table on an empty database and record the schema version."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
            conn.execute(insert(schema_info).values(version=SCHEMA_VERSION))
    finally:
        engine.dispose()
