"""Tokens and the audit log in the store, on SQLite and PostgreSQL: expiry, namespaces, tokens
without a global role, the once-a-minute `last_used_at`, users, audit reads by time, and the
0008 -> 0009 migration keeping the tokens it finds."""

from __future__ import annotations

import json

from baton.api import auth
from baton.store import dialect, migrate, schema
from baton.store.store import Store


def entry(at: float, actor: str, action: str) -> dict[str, object]:
    return {
        "at": at,
        "actor": actor,
        "token_id": None,
        "role": None,
        "action": action,
        "object_type": action.split(".", maxsplit=1)[0],
        "object_id": None,
        "outcome": "ok",
        "status": 0,
        "remote": None,
        "detail": json.dumps({"via": "cli"}),
    }


def test_a_token_expires_and_may_carry_no_role_and_one_namespace(store: Store) -> None:
    with store.transaction() as tx:
        short, short_text = auth.create_token(tx, "ann", "viewer", now=100.0, expires_in=60)
        bare, bare_text = auth.create_token(tx, "bo", None, now=100.0, namespace="sales")
    row = store.read().token(short)
    assert row is not None and (row["created_at"], row["expires_at"]) == (100.0, 160.0)
    found = auth.identify(store.read(), short_text, 159.9)
    assert isinstance(found, auth.Principal) and found.role == "viewer"
    assert auth.identify(store.read(), short_text, 160.0) == auth.Expired("ann", short, 160.0)
    assert auth.authenticate(store.read(), short_text, 160.0) is None
    found = auth.identify(store.read(), bare_text, 1e9)  # no expiry: works forever
    assert found == auth.Principal("bo", None, bare, "sales")
    assert not found.may("viewer")  # grants only: none exist yet


def test_a_namespace_limited_token_never_holds_admin(store: Store) -> None:
    """Limited to a namespace, a token holds its role there only: nothing on global routes
    (what they show or change spans every namespace), nothing on another namespace's flows."""
    with store.transaction() as tx:
        text = auth.create_token(tx, "cy", "admin", namespace="ops")[1]
    found = auth.authenticate(store.read(), text)
    assert found is not None and not found.may("viewer") and not found.may("admin")
    assert found.may_on("ops/etl", "admin") and not found.may_on("hr/pay", "viewer")


def test_last_used_is_written_at_most_once_per_interval(store: Store) -> None:
    with store.transaction() as tx:
        token_id = auth.create_token(tx, "ann", "viewer", now=0.0)[0]
    writes = []
    for now in (1000.0, 1001.0, 1059.0, 1060.0, 1061.0):
        with store.transaction() as tx:
            writes.append(tx.touch_token(token_id, now, auth.TOUCH_EVERY))
    assert writes == [True, False, False, True, False]
    row = store.read().token(token_id)
    assert row is not None and row["last_used_at"] == 1060.0


def test_users_are_those_with_a_working_token(store: Store) -> None:
    with store.transaction() as tx:
        auth.create_token(tx, "ann", "viewer", now=0.0)
        auth.create_token(tx, "ann", "editor", now=0.0)
        auth.create_token(tx, "bo", None, now=0.0)
        auth.create_token(tx, "gone", "admin", now=0.0, expires_in=10)
        revoked = auth.create_token(tx, "old", "admin", now=0.0)[0]
        tx.revoke_token(revoked, 1.0)
    assert auth.users(store.read(), 100.0) == [
        {"user": "ann", "roles": ["editor", "viewer"], "grants": []},
        {"user": "bo", "roles": [], "grants": []},
    ]
    assert [u["user"] for u in auth.users(store.read(), 5.0)] == ["ann", "bo", "gone"]


def test_the_audit_log_is_read_by_time_actor_and_action(store: Store) -> None:
    with store.transaction() as tx:
        for at, actor, action in (
            (10.0, "cli:ann", "pools.set"),
            (20.0, "bo", "runs.cancel"),
            (30.0, "cli:ann", "tokens.create"),
        ):
            tx.add_audit(entry(at, actor, action))
    read = store.read()
    assert [r["action"] for r in read.audit(since=20.0)] == ["tokens.create", "runs.cancel"]
    assert [r["at"] for r in read.audit(actor="cli:ann")] == [30.0, 10.0]
    assert [r["at"] for r in read.audit(actor="cli:ann", since=11.0)] == [30.0]
    assert read.audit(action="pools.set", since=11.0) == []


def test_migrating_0008_keeps_tokens_and_adds_the_new_columns(url: str) -> None:
    migrate.upgrade(url, "0008")
    conn = dialect.for_url(url).connect()
    conn.execute(
        "INSERT INTO tokens (id, user_name, role, secret_hash, created_at, last_used_at) "
        "VALUES ('t1', 'ann', 'admin', ?, 5.0, 6.0)",
        ("0" * 64,),
    )
    conn.close()
    assert migrate.upgrade(url) == schema.HEAD
    s = Store(url)
    try:
        row = s.read().token("t1")
        assert row is not None
        assert (row["role"], row["last_used_at"], row["expires_at"], row["namespace"]) == (
            "admin",
            6.0,
            None,
            None,
        )
        with s.transaction() as tx:  # a role is optional now
            auth.create_token(tx, "bo", None)
    finally:
        s.close()
