"""The UI's sign-in with the token lifecycle: an expired token signs nobody in (and a cookie
holding one is sent back to /login once it expires), a token without a global role signs in
but its pages answer 403, and viewing a page records the token's use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from baton import ui
from baton.api import create_app
from baton.api.auth import create_token
from baton.settings import Settings
from baton.store.store import Store
from engine_kit import Clock

T0 = 1_800_000_000.0


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def client(settings: Settings, store: Store, clock: Clock) -> Iterator[TestClient]:
    app = create_app(settings, clock=clock)
    ui.install(app)
    with TestClient(app, follow_redirects=False) as c:
        yield c


def make(store: Store, role: str | None, expires_in: float | None = None) -> tuple[str, str]:
    with store.transaction() as tx:
        return create_token(tx, "ann", role, now=T0, expires_in=expires_in)


def test_an_expired_token_is_signed_out(client: TestClient, store: Store, clock: Clock) -> None:
    token_id, text = make(store, "viewer", expires_in=60)
    r = client.post("/login", data={"token": text, "next": "/flows"})
    assert r.status_code == 303 and r.headers["location"] == "/flows"
    assert client.get("/flows").status_code == 200
    row = store.read().token(token_id)
    assert row is not None and row["last_used_at"] == T0
    clock.now = T0 + 60
    r = client.get("/flows")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    r = client.post("/login", data={"token": text, "next": "/flows"})
    assert r.status_code == 401 and "not valid" in r.text


def test_a_token_without_a_role_signs_in_but_sees_no_page(client: TestClient, store: Store) -> None:
    text = make(store, None)[1]
    assert client.post("/login", data={"token": text, "next": "/flows"}).status_code == 303
    r = client.get("/flows")
    assert r.status_code == 403 and "no global role" in r.text


def test_the_audit_page_shows_cli_changes_as_such(client: TestClient, store: Store) -> None:
    from baton.cli import common

    with store.transaction() as tx:
        common.audit(tx, "pools.set", "nightly", {"slots": 2})
    text = make(store, "admin")[1]
    client.post("/login", data={"token": text, "next": "/audit"})
    page = client.get("/audit?actor=" + common.actor()).text
    assert "pools.set" in page and common.actor() in page and ">CLI<" in page
    assert "HTTP 0" not in page
