"""The store's tables, as SQLAlchemy metadata: used to create and migrate the schema.

Only schema creation and migrations import this module (and so SQLAlchemy): the hot path
talks to the database through its DBAPI driver, because importing SQLAlchemy alone costs
about 0.2 s, most of the budget of a whole one-task `baton run`.

Times are UNIX seconds (float: double precision on both databases). JSON values are stored as
text. `map_index` is -1 for a task run that is not mapped (the API shows null). On PostgreSQL,
names and ids compare byte by byte (collation "C"), as SQLite's do, so ordering and id-prefix
ranges agree on both; integer ids are bigint there (SQLite's INTEGER is already 64-bit).

The schema's version is alembic's: `create` makes the tables of `metadata` and stamps the
head revision; `migrate.upgrade` brings an older database there. A change of these tables
needs a new revision under `migrations/versions` (a test compares the two).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    insert,
)
from sqlalchemy.types import TypeEngine

from baton.store import dialect

HEAD = "0002"  # the newest revision under migrations/versions (checked by a test)

metadata = MetaData()


def _str(length: int) -> TypeEngine[str]:
    return String(length).with_variant(String(length, collation="C"), "postgresql")


# INTEGER PRIMARY KEY is SQLite's 64-bit rowid; PostgreSQL needs bigint for the same range.
_ID: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")

# The table alembic keeps its revision in, as alembic creates it, so that `create` can stamp
# the head without importing alembic (about 0.15 s).
alembic_version = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)

flows = Table(
    "flows",
    metadata,
    Column("name", _str(200), primary_key=True),
    Column("latest_version", _str(32), nullable=False),
    Column("paused", Integer, nullable=False, server_default="0"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

flow_versions = Table(
    "flow_versions",
    metadata,
    Column("id", _str(32), primary_key=True),
    Column("flow_name", _str(200), nullable=False, index=True),
    Column("spec", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", _str(32), primary_key=True),
    Column("flow_name", _str(200), nullable=False),
    Column("version_id", _str(32), nullable=False),
    Column("state", _str(20), nullable=False),
    Column("params", Text, nullable=False),
    Column("trigger", _str(20), nullable=False),
    Column("logical_date", Float),
    Column("parent_run_id", _str(32)),
    Column("root_run_id", _str(32), index=True),  # the run at the top of sub-flow runs
    Column("parent_task_run_id", _ID, index=True),  # the `flow` task waiting for this run
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
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("run_id", _str(32), nullable=False),
    Column("task_key", _str(200), nullable=False),
    Column("map_index", Integer, nullable=False, server_default="-1"),
    Column("state", _str(20), nullable=False),
    Column("queue", _str(100), nullable=False),
    Column("pool", _str(100)),
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
    Column("error_kind", _str(20)),
    Column("reused_from", _str(32)),
    Column("defer_state", Text),  # JSON a waiting task gets back when it runs again
    Column("resume_attempt", _str(32)),  # the waiting attempt the next claim continues
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
    Column("id", _str(32), primary_key=True),
    Column("task_run_id", _ID, nullable=False, index=True),
    Column("run_id", _str(32), nullable=False, index=True),
    Column("number", Integer, nullable=False),
    Column("worker_id", _str(64), nullable=False),
    Column("state", _str(20), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float),
    Column("lease_expires_at", Float, nullable=False),
    Column("error", Text),
    Column("error_kind", _str(20)),
    Column("traceback", Text),
    Index("ix_attempts_lease", "state", "lease_expires_at"),
)

state_events = Table(
    "state_events",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("run_id", _str(32), nullable=False, index=True),
    Column("task_run_id", _ID),
    Column("from_state", _str(20)),
    Column("to_state", _str(20), nullable=False),
    Column("at", Float, nullable=False),
    Column("note", Text),
)

workers = Table(
    "workers",
    metadata,
    Column("id", _str(64), primary_key=True),
    Column("name", _str(200), nullable=False),
    Column("host", _str(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("queues", Text, nullable=False),
    Column("concurrency", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("stopped_at", Float),
)


def create(url: str) -> None:
    """Create every table on an empty database and stamp the head revision.

    The caller holds the dialect's schema lock, so only one process creates the schema.
    """
    engine = create_engine(dialect.for_url(url).sqlalchemy_url())
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
            alembic_version.create(conn)
            conn.execute(insert(alembic_version).values(version_num=HEAD))
    finally:
        engine.dispose()
