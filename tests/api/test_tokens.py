"""Token lifecycle through the API: `expires_in` and `namespace` on create, expiry by the app's
clock (a fake one here) refused 401 and audited, created / expires / last used listed, users
with their grants, and many callers at once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from baton.api import create_app
from baton.api.auth import TOUCH_EVERY, create_token
from baton.settings import Settings
from baton.store.store import Store
from engine_kit import Clock

T0 = 1_800_000_000.0


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def client(settings: Settings, store: Store, clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=clock)) as c:
        yield c


@pytest.fixture
def admin(store: Store) -> dict[str, str]:
    with store.transaction() as tx:
        text = create_token(tx, "root", "admin", now=T0)[1]
    return {"Authorization": f"Bearer {text}"}


def bearer(text: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {text}"}


def test_a_token_made_with_expires_in_stops_working_then_and_the_refusal_is_audited(
    client: TestClient, admin: dict[str, str], clock: Clock
) -> None:
    r = client.post(
        "/api/v1/tokens",
        json={"user": "ann", "role": "operator", "expires_in": "15m", "namespace": "sales"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["created_at"], made["expires_at"]) == (T0, T0 + 900)
    assert (made["role"], made["namespace"], made["last_used_at"]) == ("operator", "sales", None)
    ann = bearer(made["token"])
    clock.now = T0 + 899
    assert client.get("/api/v1/runs", headers=ann).status_code == 200
    clock.now = T0 + 900
    r = client.get("/api/v1/runs", headers=ann)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    r = client.post("/api/v1/flows/x/pause", headers=ann)
    assert r.status_code == 401
    entries = client.get("/api/v1/audit", headers=admin).json()["items"]
    expired = [e for e in entries if e["action"] == "auth.expired"]
    assert [(e["actor"], e["object_id"], e["status"], e["detail"]["route"]) for e in expired] == [
        ("ann", made["id"], 401, "flows.pause"),
        ("ann", made["id"], 401, "runs.list"),
    ]
    assert all(e["outcome"] == "refused" and e["at"] == T0 + 900 for e in expired)
    assert made["token"] not in json.dumps(entries)
    listed = {t["id"]: t for t in client.get("/api/v1/tokens", headers=admin).json()}
    assert listed[made["id"]]["expires_at"] == T0 + 900
    assert listed[made["id"]]["last_used_at"] == T0 + 899
    assert all("token" not in t and "secret_hash" not in t for t in listed.values())
    # An expired token's user is no longer a user.
    users = client.get("/api/v1/users", headers=admin).json()
    assert users == [{"user": "root", "roles": ["admin"], "grants": []}]


def test_a_token_without_a_role_carries_only_grants(
    client: TestClient, admin: dict[str, str]
) -> None:
    r = client.post("/api/v1/tokens", json={"user": "bo"}, headers=admin)
    assert r.status_code == 201 and r.json()["role"] is None
    bo = bearer(r.json()["token"])
    r = client.get("/api/v1/runs", headers=bo)
    assert r.status_code == 403 and "without a role" in r.json()["detail"]
    users = client.get("/api/v1/users", headers=admin).json()
    assert {"user": "bo", "roles": [], "grants": []} in users


def test_a_namespace_limited_admin_token_cannot_administer(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = {"user": "cy", "role": "admin", "namespace": "ops"}
    cy = bearer(client.post("/api/v1/tokens", json=body, headers=admin).json()["token"])
    assert client.get("/api/v1/runs", headers=cy).status_code == 200
    r = client.get("/api/v1/tokens", headers=cy)
    assert r.status_code == 403 and "namespace 'ops'" in r.json()["detail"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("expires_in", "soon"),
        ("expires_in", "0s"),
        ("expires_in", "-5m"),
        ("expires_in", "9999999d"),
        ("expires_in", 30),
        ("namespace", "../etc"),
        ("namespace", ""),
        ("role", "root"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_makes_nothing(
    client: TestClient, admin: dict[str, str], store: Store, field: str, value: object
) -> None:
    body = {"user": "eve", "role": "viewer", field: value}
    r = client.post("/api/v1/tokens", json=body, headers=admin)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", field]
    assert [t["user_name"] for t in store.read().tokens()] == ["root"]


def test_200_concurrent_callers_are_served_and_last_used_is_written_once(
    client: TestClient, store: Store, clock: Clock
) -> None:
    with store.transaction() as tx:
        token_id, text = create_token(tx, "ann", "viewer", now=T0, expires_in=3600)
        old_id, old = create_token(tx, "old", "viewer", now=T0 - 7200, expires_in=3600)
    go = threading.Event()

    def call(i: int) -> int:
        go.wait()
        headers = bearer(old if i % 10 == 0 else text)
        return client.get("/api/v1/flows", headers=headers).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        futures = [pool.submit(call, i) for i in range(200)]
        go.set()
        codes = [f.result() for f in futures]
    assert codes.count(200) == 180 and codes.count(401) == 20
    row = store.read().token(token_id)
    assert row is not None and row["last_used_at"] == T0
    expired = store.read().audit(action="auth.expired", limit=100)
    assert len(expired) == 20 and {e["token_id"] for e in expired} == {old_id}
    # Within TOUCH_EVERY nothing more is written; past it, the next call writes again.
    clock.now = T0 + TOUCH_EVERY - 1
    assert client.get("/api/v1/flows", headers=bearer(text)).status_code == 200
    assert store.read().token(token_id)["last_used_at"] == T0  # type: ignore[index]
    clock.now = T0 + TOUCH_EVERY
    assert client.get("/api/v1/flows", headers=bearer(text)).status_code == 200
    assert store.read().token(token_id)["last_used_at"] == T0 + TOUCH_EVERY  # type: ignore[index]


def test_100_tokens_created_at_once_are_each_stored_and_audited_once(
    client: TestClient, admin: dict[str, str], store: Store
) -> None:
    go = threading.Event()

    def create(i: int) -> tuple[int, str]:
        go.wait()
        body = {"user": f"u{i}", "expires_in": "1d", "namespace": f"ns{i % 3}"}
        r = client.post("/api/v1/tokens", json=body, headers=admin)
        return r.status_code, r.json().get("id", r.text)

    with ThreadPoolExecutor(max_workers=50) as pool:
        futures = [pool.submit(create, i) for i in range(100)]
        go.set()
        made = [f.result() for f in futures]
    assert {code for code, _ in made} == {201}
    ids = {token_id for _, token_id in made}
    assert len(ids) == 100
    rows = [r for r in store.read().tokens() if r["id"] in ids]
    assert len(rows) == 100 and all(r["expires_at"] == T0 + 86400 for r in rows)
    audited = store.read().audit(action="tokens.create", limit=500)
    assert sorted(a["object_id"] for a in audited) == sorted(ids)
    users = client.get("/api/v1/users", headers=admin).json()
    assert len(users) == 101 and all(u["grants"] == [] for u in users)
