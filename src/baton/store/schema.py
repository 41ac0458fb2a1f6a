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
    text,
)
from sqlalchemy.types import TypeEngine

from baton.store import dialect

# Migrations and tests read it as `schema.HEAD`.
from baton.store.revision import HEAD as HEAD  # noqa: PLC0414 (an explicit re-export)

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
    Column("deployed", Integer, nullable=False, server_default="0"),  # `baton deploy`ed
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # The part of `name` before its `/` (model.namespaces), kept for lists by namespace.
    Column("namespace", _str(100), nullable=False, server_default="default"),
    Index("ix_flows_namespace", "namespace", "name"),
)

flow_versions = Table(
    "flow_versions",
    metadata,
    Column("id", _str(32), primary_key=True),
    Column("flow_name", _str(200), nullable=False, index=True),
    Column("spec", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

_ACTIVE_PARTITION = (
    "partition IS NOT NULL AND state IN ('scheduled', 'queued', 'running', 'cancelling')"
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
    Column("data_interval_start", Float),
    Column("data_interval_end", Float),
    Column("trigger_info", Text),  # JSON: what fired it (file path, asset event, run id)
    Column("partition", _str(200)),  # the key a run of a partitioned flow processes
    Column("parent_run_id", _str(32)),
    Column("root_run_id", _str(32), index=True),  # the run at the top of sub-flow runs
    Column("parent_task_run_id", _ID, index=True),  # the `flow` task waiting for this run
    Column("unfinished", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("ended_at", Float),
    Column("refresh_cache", Integer, nullable=False, server_default="0"),  # --refresh-cache
    Index("ix_runs_flow_created", "flow_name", "created_at"),
    Index("ix_runs_state_created", "state", "created_at"),  # lists filtered by state
    Index("ix_runs_created", "created_at"),
    Index("ix_runs_parent", "parent_run_id"),  # a run's repairs and sub-flow runs
    # At most one run per (flow, logical date), so two schedulers never double-fire; a
    # repair or rerun links to the run it repeats (parent_run_id) and is not counted.
    Index(
        "uq_runs_logical_date",
        "flow_name",
        "logical_date",
        unique=True,
        sqlite_where=text("logical_date IS NOT NULL AND parent_run_id IS NULL"),
        postgresql_where=text("logical_date IS NOT NULL AND parent_run_id IS NULL"),
    ),
    # A partition's status is its newest run's: read from the index alone (`partition_runs`).
    Index(
        "ix_runs_flow_partition", "flow_name", "partition", "created_at", "id", "state", "ended_at"
    ),
    # Never two active runs for one (flow, partition): a backfill and a schedule, or two
    # servers, racing for one key get one run (the engine checks first, to say so clearly).
    Index(
        "uq_runs_active_partition",
        "flow_name",
        "partition",
        unique=True,
        sqlite_where=text(_ACTIVE_PARTITION),
        postgresql_where=text(_ACTIVE_PARTITION),
    ),
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
    Column("cache_key", _str(64)),  # the cache entry it looked up (a task that caches)
    Column("cached_from_run", _str(32)),  # a cache hit: the run and attempt that computed it
    Column("cached_from_attempt", Integer),
    # What its task needs (`model.resources`), copied from the spec when the run is made so
    # the claim compares columns with a worker's free capacity: 0 is "none in particular".
    Column("need_cpu", Float, nullable=False, server_default="0"),
    Column("need_memory", BigInteger, nullable=False, server_default="0"),  # bytes
    Column("need_gpu", Integer, nullable=False, server_default="0"),
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

# Counting running task runs per pool at claim time.
Index("ix_task_runs_pool", task_runs.c.pool, task_runs.c.state)

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
    # Its capacity (`baton worker --resources`); null: a worker from before resources.
    Column("cpu", Float),
    Column("memory", BigInteger),  # bytes
    Column("gpu", Integer),
)

pools = Table(
    "pools",
    metadata,
    Column("name", _str(100), primary_key=True),
    Column("slots", Integer, nullable=False),
    Column("description", Text),
    Column("updated_at", Float, nullable=False),
)

# Named leases: the one `baton server` (scheduler, timers) that holds one acts; the others
# wait for it to expire. A row, not an advisory lock, so both databases behave alike.
locks = Table(
    "locks",
    metadata,
    Column("name", _str(100), primary_key=True),
    Column("holder", _str(64), nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Where each trigger of each flow has got to: a schedule's last logical date, the files a
# file trigger has seen, the last asset event or run end an event trigger consumed.
trigger_state = Table(
    "trigger_state",
    metadata,
    Column("flow_name", _str(200), nullable=False),
    Column("trigger_id", _str(200), nullable=False),
    Column("cursor", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
    PrimaryKeyConstraint("flow_name", "trigger_id"),
)

# Assets (model.assets): the catalog, one row per asset a deployed flow declares (`assets:`)
# or any task has written (a bare row: no description). JSON lists and objects as text.
assets = Table(
    "assets",
    metadata,
    Column("name", _str(300), primary_key=True),
    Column("description", Text),
    Column("owner", _str(200)),
    Column("tags", Text, nullable=False, server_default="[]"),
    Column("freshness", Text),  # JSON: model.assets.FreshnessSpec; null: no promise
    Column("checks", Text, nullable=False, server_default="[]"),
    Column("notifications", Text, nullable=False, server_default="[]"),
    Column("declared_by", _str(200)),  # the deployed flow declaring it; null: only written
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_assets_owner", "owner", "name"),
)

# An asset's tags again, one row each, so `assets list --tag T` is an index range.
asset_tags = Table(
    "asset_tags",
    metadata,
    Column("asset", _str(300), nullable=False),
    Column("tag", _str(100), nullable=False),
    PrimaryKeyConstraint("asset", "tag"),
    Index("ix_asset_tags_tag", "tag", "asset"),
)

# Lineage: which task of which deployed flow reads (`input`) or writes (`output`) an asset,
# rewritten for a flow each time it is deployed. The primary key answers "what does this
# task touch", the index "who touches this asset": one index range per lineage hop.
asset_links = Table(
    "asset_links",
    metadata,
    Column("flow_name", _str(200), nullable=False),
    Column("task_key", _str(200), nullable=False),
    Column("asset", _str(300), nullable=False),
    Column("kind", _str(6), nullable=False),
    PrimaryKeyConstraint("flow_name", "task_key", "kind", "asset"),
    Index("ix_asset_links_asset", "asset", "kind"),
)

# The keys of each dynamic partition set (`{type: dynamic, name: customers}`), added by
# `baton partitions add`, the API or a task's `context.add_partitions`.
dynamic_partitions = Table(
    "dynamic_partitions",
    metadata,
    Column("name", _str(200), nullable=False),
    Column("key", _str(200), nullable=False),
    Column("added_at", Float, nullable=False),
    PrimaryKeyConstraint("name", "key"),
)

# A backfill of partitions through the API: the timers create its runs, at most
# `max_parallel` active at once, in `keys` order (`scheduling.partition_backfills`).
backfills = Table(
    "backfills",
    metadata,
    Column("id", _str(32), primary_key=True),
    Column("flow_name", _str(200), nullable=False),
    Column("version_id", _str(32), nullable=False),
    Column("state", _str(20), nullable=False),  # running, done, cancelled
    Column("keys", Text, nullable=False),  # JSON list: the partition keys to run
    Column("next_index", Integer, nullable=False),  # keys before it have had their turn
    Column("max_parallel", Integer, nullable=False),
    # JSON: {"runs": {key: run id}, "active": [run ids], "skipped": {key: why}}
    Column("progress", Text, nullable=False),
    Column("requested_by", _str(200)),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_backfills_state", "state"),
)

# One row each time an asset is written: by a succeeded attempt of a task declaring it in
# `outputs` (source `task`), or reported from outside baton (`external`: no flow, run or
# task). Asset triggers read it by `at`; an asset's history by (asset, id).
asset_materializations = Table(
    "asset_materializations",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("asset", _str(300), nullable=False),
    Column("flow_name", _str(200)),
    Column("run_id", _str(32)),
    Column("task_key", _str(200)),
    Column("task_run_id", _ID),
    Column("attempt", Integer),
    Column("attempt_id", _str(32)),
    Column("partition", _str(200)),
    Column("metadata", Text),  # JSON object, secrets masked
    Column("data_version", _str(200)),
    Column("source", _str(10), nullable=False, server_default="task"),
    Column("reported_by", _str(200)),  # who reported an external one
    Column("at", Float, nullable=False),
    Index("ix_asset_materializations_asset", "asset", "id"),
    Index("ix_asset_materializations_at", "at"),
    Index("ix_asset_materializations_partition", "asset", "partition", "at"),  # per key
)

# Every result of an asset's checks, run after a materialization or on demand.
asset_check_results = Table(
    "asset_check_results",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("asset", _str(300), nullable=False),
    Column("check_name", _str(200), nullable=False),
    Column("severity", _str(5), nullable=False),
    Column("passed", Integer, nullable=False),
    Column("run_id", _str(32)),
    Column("task_key", _str(200)),
    Column("task_run_id", _ID),
    Column("attempt", Integer),
    Column("materialization_id", _ID),
    Column("metadata", Text),  # JSON object
    Column("failing_rows", Text),  # JSON list, at most 20 rows, secrets masked
    Column("error", Text),  # the check itself failed to run
    Column("duration", Float),
    Column("at", Float, nullable=False),
    Index("ix_asset_check_results_check", "asset", "check_name", "id"),
    Index("ix_asset_check_results_asset", "asset", "id"),
)

# Freshness as the timers last evaluated it, for assets with a promise: a change of state is
# a compare-and-set on `state`, so a transition is notified once with any number of servers.
asset_state = Table(
    "asset_state",
    metadata,
    Column("asset", _str(300), primary_key=True),
    Column("state", _str(10), nullable=False),  # fresh, stale, unknown
    Column("since", Float, nullable=False),  # when it entered that state
    Column("last_update", Float),
    Column("due", Float),
    Column("evaluated_at", Float, nullable=False),
)

# Where a feed reading the history has got to (the OpenLineage feed: the last state event).
feeds = Table(
    "feeds",
    metadata,
    Column("name", _str(50), primary_key=True),
    Column("cursor", BigInteger, nullable=False),
    Column("updated_at", Float, nullable=False),
)


# API tokens: `baton_<id>_<secret>` is shown once; only the secret's SHA-256 is kept.
tokens = Table(
    "tokens",
    metadata,
    Column("id", _str(32), primary_key=True),
    Column("user_name", _str(200), nullable=False),
    Column("role", _str(20)),  # null: the token carries only its user's grants
    Column("secret_hash", _str(64), nullable=False),
    Column("description", Text),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float),  # written at most once per `auth.TOUCH_EVERY`
    Column("revoked_at", Float),
    Column("expires_at", Float),  # null: never
    Column("namespace", _str(200)),  # null: every namespace its roles reach
)

# Who did what through the API (refused calls included) and the CLI. Rows are only ever
# inserted: no route or command updates or deletes one.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", _str(200), nullable=False),  # the token's user, or "anonymous"
    Column("token_id", _str(32)),
    Column("role", _str(20)),
    Column("action", _str(100), nullable=False),  # e.g. "runs.cancel"
    Column("object_type", _str(50)),
    Column("object_id", _str(300)),
    Column("outcome", _str(20), nullable=False),  # ok, refused, failed
    Column("status", Integer, nullable=False),  # the HTTP status answered
    Column("remote", _str(100)),  # the caller's address
    Column("detail", Text),  # JSON
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_actor", "actor", "id"),
)

# Grants: a user or a group (`subject_kind`) holds `role` on a namespace or on one flow
# (`scope_kind`, `scope`: a namespace, or a flow's full name).
grants = Table(
    "grants",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("subject_kind", _str(10), nullable=False),  # user, group
    Column("subject", _str(200), nullable=False),
    Column("role", _str(20), nullable=False),
    Column("scope_kind", _str(10), nullable=False),  # namespace, flow
    Column("scope", _str(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", _str(200), nullable=False),
    UniqueConstraint("subject_kind", "subject", "role", "scope_kind", "scope"),
    Index("ix_grants_subject", "subject_kind", "subject"),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_name", _str(200), nullable=False),
    Column("user_name", _str(200), nullable=False),
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("group_name", "user_name"),
    Index("ix_group_members_user", "user_name"),
)

# Notifications to send (an outbox): written in the transaction that makes the event happen,
# delivered and retried by whoever runs the timers, so a failing notifier never fails a run.
notifications = Table(
    "notifications",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("key", _str(300), nullable=False, unique=True),  # one per event and channel
    Column("flow_name", _str(200), nullable=False),
    Column("run_id", _str(32), index=True),  # null for an asset's event
    Column("event", _str(20), nullable=False),  # failure, success, retry, sla, stale, ...
    Column("channel", Text, nullable=False),  # JSON: the flow's notification entry
    Column("payload", Text, nullable=False),  # JSON: what to say
    Column("state", _str(20), nullable=False),  # pending, sent, failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float),
    Column("error", Text),
    Column("asset", _str(300)),  # the asset a stale or check_failed event is about
    Index("ix_notifications_due", "state", "next_at"),
)

# Who acknowledged a run (`baton runs ack`): its escalation steps `unless: acknowledged` stop.
run_acks = Table(
    "run_acks",
    metadata,
    Column("run_id", _str(32), primary_key=True),
    Column("acknowledged_at", Float, nullable=False),
    Column("acknowledged_by", _str(200), nullable=False),
    Column("comment", Text),
)

# Escalations under way: one per event (a failure, an approval waiting) and notification
# entry with `escalate`; the timers send its steps in turn (`scheduling.escalation`).
escalations = Table(
    "escalations",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("key", _str(300), nullable=False, unique=True),  # one per event and entry
    Column("flow_name", _str(200), nullable=False),
    Column("run_id", _str(32), nullable=False, index=True),
    Column("task_run_id", _ID),  # the task whose event it is (None: the run's)
    Column("event", _str(20), nullable=False),  # failure, approval_required
    Column("steps", Text, nullable=False),  # JSON: the entry's escalate steps
    Column("payload", Text, nullable=False),  # JSON: the event's notification payload
    Column("next_step", Integer, nullable=False),  # index into steps
    Column("next_at", Float, nullable=False),
    Column("state", _str(20), nullable=False),  # pending, done, stopped
    Column("created_at", Float, nullable=False),  # the event's time: `after` counts from it
    Index("ix_escalations_due", "state", "next_at"),
)

# Task results kept for reuse (`model.cache`), by a key of what computed them
# (`execution.cache_keys`); one result per key, written by the task run that computed it.
cache_entries = Table(
    "cache_entries",
    metadata,
    Column("key", _str(64), primary_key=True),
    Column("flow_name", _str(200), nullable=False),
    Column("task_key", _str(200), nullable=False),
    Column("run_id", _str(32), nullable=False),
    Column("task_run_id", _ID, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("result", Text),
    Column("result_ref", Text),
    Column("result_len", Integer),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),  # null: until the key changes
    Index("ix_cache_entries_flow", "flow_name", "task_key"),
    Index("ix_cache_entries_run", "run_id"),  # pruned with their run
    Index("ix_cache_entries_created", "created_at"),
)

# Attempts' logs in cluster mode: workers copy each attempt's log file here as it grows, so a
# server or CLI on another machine can show it. `offset` is the piece's place in the file, in
# bytes; `data` is its text, whole UTF-8 characters only (see execution.logs.decode);
# `times`, when its lines were written: JSON [[offset, ms], ...], the records of the log's
# times file (execution.log_times) that stamp the piece, the first the one in effect at its
# start (null: not recorded).
log_chunks = Table(
    "log_chunks",
    metadata,
    Column("attempt_id", _str(32), nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("data", Text, nullable=False),
    Column("times", Text),
    PrimaryKeyConstraint("attempt_id", "offset"),
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
