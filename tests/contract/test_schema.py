"""Creating and migrating the schema, on every backend."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from baton.errors import StoreError
from baton.store import dialect, migrate, schema
from baton.store import store as store_mod
from baton.store.store import Store
from store_rows import run_row


def add_run(store: Store, run_id: str) -> None:
    with store.transaction() as tx:
        tx.insert_run(run_row(run_id, unfinished=0, created_at=1.0))


def revision(url: str) -> str | None:
    engine = create_engine(dialect.for_url(url).sqlalchemy_url())
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def test_the_store_needs_the_newest_revision() -> None:
    assert store_mod.SCHEMA_REVISION == schema.HEAD == migrate.head()


def test_upgrade_creates_an_empty_database_and_running_it_again_does_nothing(url: str) -> None:
    assert migrate.upgrade(url) == schema.HEAD
    assert revision(url) == schema.HEAD
    assert migrate.upgrade(url) == schema.HEAD
    assert revision(url) == schema.HEAD
    s = Store(url)
    add_run(s, "r1")
    s.close()


def test_the_migrations_make_the_schema_the_tables_describe(url: str) -> None:
    migrate.upgrade(url)
    engine = create_engine(dialect.for_url(url).sqlalchemy_url())
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_a_new_store_is_at_the_head_revision(url: str) -> None:
    Store(url).close()
    assert revision(url) == schema.HEAD
    migrate.upgrade(url)  # nothing to do
    assert revision(url) == schema.HEAD
    Store(url).close()


def test_a_store_at_an_older_revision_refuses_to_start_until_upgraded(url: str) -> None:
    assert migrate.upgrade(url, "0001") == "0001"
    with pytest.raises(StoreError, match="run `baton db upgrade`") as err:
        Store(url)
    assert "revision 0001" in str(err.value)
    migrate.upgrade(url)
    s = Store(url)
    add_run(s, "r1")
    s.close()


def test_a_database_from_before_alembic_is_upgraded_with_its_rows(url: str) -> None:
    # Revision 0001 is that schema exactly; such a database has no alembic_version.
    migrate.upgrade(url, "0001")
    conn = dialect.for_url(url).connect()
    conn.execute("DROP TABLE alembic_version")
    conn.execute(
        "INSERT INTO runs (id, flow_name, version_id, state, params, trigger, unfinished, "
        "created_at) VALUES ('r1', 'f', 'v1', 'queued', '{}', 'manual', 0, 1.0)"
    )
    conn.close()
    with pytest.raises(StoreError, match=r"schema version 1 .*baton db upgrade"):
        Store(url)
    migrate.upgrade(url)
    s = Store(url)
    assert s.read().run("r1").flow_name == "f"
    s.close()


def test_a_database_with_other_tables_is_refused(url: str) -> None:
    conn = dialect.for_url(url).connect()
    conn.execute("CREATE TABLE other (x INTEGER)")
    conn.close()
    with pytest.raises(StoreError, match="not a baton database"):
        Store(url)
    with pytest.raises(StoreError, match="not a baton database"):
        migrate.upgrade(url)


def test_stores_opening_a_new_database_at_once_all_work(url: str) -> None:
    n = 4
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def open_and_write(i: int) -> None:
        try:
            start.wait()
            s = Store(url)
            add_run(s, f"r{i}")
            s.close()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=open_and_write, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    s = Store(url)
    assert sorted(r.id for r in s.read().runs()) == [f"r{i}" for i in range(n)]
    s.close()
    assert revision(url) == schema.HEAD


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_column_types(store: Store) -> None:
    read = store.read()
    types = {
        (r["table_name"], r["column_name"]): (r["data_type"], r["collation_name"])
        for r in read._all(
            "SELECT table_name, column_name, data_type, collation_name "
            "FROM information_schema.columns WHERE table_schema = current_schema()"
        )
    }
    assert types["task_runs", "ready_at"] == ("double precision", None)
    assert types["attempts", "lease_expires_at"] == ("double precision", None)
    assert types["task_runs", "id"][0] == "bigint"
    assert types["state_events", "id"][0] == "bigint"
    assert types["runs", "id"] == ("character varying", "C")
    assert types["task_runs", "task_key"] == ("character varying", "C")


def test_asset_events_of_a_0004_database_become_its_materializations(url: str) -> None:
    migrate.upgrade(url, "0004")
    conn = dialect.for_url(url).connect()
    for i, asset in ((1, "raw.events"), (2, "raw.events"), (7, "w.orders")):
        conn.execute(
            "INSERT INTO asset_events (id, asset, flow_name, run_id, task_key, task_run_id, at) "
            "VALUES (?, ?, 'f', 'r1', 'load', 3, ?)",
            (i, asset, float(i)),
        )
    conn.execute(
        "INSERT INTO notifications (key, flow_name, run_id, event, channel, payload, state, "
        "next_at, created_at) VALUES ('k', 'f', 'r1', 'failure', '{}', '{}', 'pending', 1, 1)"
    )
    conn.close()
    assert migrate.upgrade(url) == schema.HEAD
    s = Store(url)
    read = s.read()
    # The ids trigger cursors remember are kept, and the asset triggers' read finds them.
    assert [
        (m.id, m.asset, m.run_id, m.source)
        for m in read.materializations_since(["raw.events", "w.orders"], 2.0)
    ] == [(2, "raw.events", "r1", "task"), (7, "w.orders", "r1", "task")]
    w = read.asset("w.orders")
    assert w is not None and (w.created_at, w.declared_by) == (7.0, None)
    with s.transaction() as tx:
        new = tx.report_materialization("w.orders", {}, None, None, None, 9.0)
        tx._c.execute(
            "INSERT INTO notifications (key, flow_name, run_id, asset, event, channel, payload, "
            "state, next_at, created_at) VALUES "
            "('k2', 'f', NULL, 'w.orders', 'stale', '{}', '{}', 'pending', 1, 1)"
        )
    assert new.id > 7
    assert [r["key"] for r in s.read()._all("SELECT key FROM notifications ORDER BY id")] == [
        "k",
        "k2",
    ]
    s.close()
