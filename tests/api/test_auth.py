"""Tokens, roles and the audit log through the app (TestClient over a SQLite store), and
the `baton tokens` / `baton audit` commands."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from baton.api import create_app
from baton.api.auth import Principal, authenticate, create_token
from baton.settings import Settings
from baton.store.store import Store


@pytest.fixture
def client(settings: Settings) -> TestClient:
    with TestClient(create_app(settings)) as c:
        yield c


def token(store: Store, role: str, user: str | None = None) -> str:
    with store.transaction() as tx:
        return create_token(tx, user or role, role)[1]


def bearer(text: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {text}"}


def test_a_token_is_shown_once_and_only_its_hash_is_stored(store: Store, settings: Settings):
    text = token(store, "operator", "ann")
    token_id, secret = text.removeprefix("baton_").split("_", 1)
    db = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))
    dump = "\n".join(db.iterdump())
    assert token_id in dump and secret not in dump
    assert authenticate(store.read(), text) == Principal("ann", "operator", token_id)
    for wrong in (None, "", "baton_", f"baton_{token_id}_x", f"baton_nope_{secret}", secret):
        assert authenticate(store.read(), wrong) is None


def test_401_then_403_then_validation_and_each_refusal_is_audited(client, store):
    viewer, admin = token(store, "viewer", "vic"), token(store, "admin", "ada")
    body = {"user": "x", "role": "viewer"}
    r = client.post("/api/v1/tokens", json=body)
    assert r.status_code == 401 and "Bearer" in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"
    # A refused caller learns nothing about its body: 401/403 come before validation.
    assert client.post("/api/v1/tokens", content=b"{not json").status_code == 401
    r = client.post("/api/v1/tokens", json={"bad": 1}, headers=bearer(viewer))
    assert r.status_code == 403 and "needs 'admin'" in r.json()["detail"]
    r = client.post("/api/v1/tokens", json={"user": "x", "role": "boss"}, headers=bearer(admin))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "role"]
    assert [t["user"] for t in client.get("/api/v1/tokens", headers=bearer(admin)).json()] == [
        "vic",
        "ada",
    ]  # nothing was created by the refused calls
    entries = client.get("/api/v1/audit", headers=bearer(admin)).json()["items"]
    assert [(e["actor"], e["action"], e["outcome"], e["status"]) for e in entries] == [
        ("ada", "tokens.create", "failed", 422),
        ("vic", "tokens.create", "refused", 403),
        ("anonymous", "tokens.create", "refused", 401),
        ("anonymous", "tokens.create", "refused", 401),
    ]
    assert entries[0]["remote"] == "testclient"
    assert entries[0]["detail"]["path"] == "/api/v1/tokens"


def test_tokens_are_created_listed_and_revoked_through_the_api(client, store):
    admin = token(store, "admin")
    r = client.post("/api/v1/tokens", json={"user": "bo", "role": "editor"}, headers=bearer(admin))
    assert r.status_code == 201
    made = r.json()
    assert made["token"].startswith(f"baton_{made['id']}_")
    listed = client.get("/api/v1/tokens", headers=bearer(admin)).json()
    assert all("token" not in t and "secret_hash" not in t for t in listed)
    assert client.get("/api/v1/users", headers=bearer(admin)).json() == [
        {"user": "admin", "roles": ["admin"], "grants": []},
        {"user": "bo", "roles": ["editor"], "grants": []},
    ]
    assert client.get("/api/v1/tokens", headers=bearer(made["token"])).status_code == 403
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=bearer(admin)).status_code == 204
    assert client.get("/api/v1/tokens", headers=bearer(made["token"])).status_code == 401
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=bearer(admin)).status_code == 404
    entries = client.get("/api/v1/audit", headers=bearer(admin)).json()["items"]
    assert [(e["action"], e["object_id"], e["outcome"]) for e in entries] == [
        ("tokens.revoke", made["id"], "failed"),
        ("tokens.revoke", made["id"], "ok"),
        ("tokens.create", made["id"], "ok"),
    ]


def test_the_audit_log_pages_back_and_cannot_be_changed(client, store):
    admin = token(store, "admin")
    for i in range(5):
        client.delete(f"/api/v1/tokens/t{i}", headers=bearer(admin))
    page = client.get("/api/v1/audit?limit=2", headers=bearer(admin)).json()
    seen = [e["object_id"] for e in page["items"]]
    while page["next_cursor"]:
        page = client.get(
            f"/api/v1/audit?limit=2&cursor={page['next_cursor']}", headers=bearer(admin)
        ).json()
        seen += [e["object_id"] for e in page["items"]]
    assert seen == ["t4", "t3", "t2", "t1", "t0"]
    for method in ("post", "put", "patch", "delete"):
        assert getattr(client, method)("/api/v1/audit", headers=bearer(admin)).status_code == 405
    assert client.get("/api/v1/audit?cursor=x", headers=bearer(admin)).status_code == 422


def test_the_ui_cookie_counts_only_with_the_ui_header(client, store):
    admin = token(store, "admin")
    client.cookies.set("baton_token", admin)
    assert client.get("/api/v1/tokens").status_code == 401  # a cookie alone: no CSRF
    assert client.get("/api/v1/tokens", headers={"X-Baton-UI": "1"}).status_code == 200


def test_healthz_needs_no_token_and_openapi_documents_bearer_auth(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_tokens_and_audit_commands(baton_cli):
    out = baton_cli("tokens", "create", "--user", "cy", "--role", "operator").stdout.strip()
    assert out.startswith("baton_")
    listed = json.loads(baton_cli("tokens", "list", "--json").stdout)
    assert [(t["user"], t["role"]) for t in listed] == [("cy", "operator")]
    bad = baton_cli("tokens", "create", "--user", "cy", "--role", "root", check=2)
    assert "unknown role 'root': expected one of viewer, operator, editor, admin" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert baton_cli("tokens", "revoke", listed[0]["id"]).returncode == 0
    assert json.loads(baton_cli("tokens", "list", "--json").stdout) == []
    assert "no active token" in baton_cli("tokens", "revoke", "nope", check=2).stderr
    import getpass

    entries = json.loads(baton_cli("audit", "--json").stdout)
    assert [(e["actor"], e["action"], e["object_id"]) for e in entries] == [
        (f"cli:{getpass.getuser()}", "tokens.revoke", listed[0]["id"]),
        (f"cli:{getpass.getuser()}", "tokens.create", listed[0]["id"]),
    ]
    assert "baton_" not in json.dumps(entries), "a token's text is never audited"


@pytest.fixture
def baton_cli(tmp_path: Path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env["BATON_HOME"] = str(tmp_path / ".baton")
    exe = str(Path(sys.executable).parent / "baton")

    def run(*args: str, check: int = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [exe, *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert proc.returncode == check, proc.stderr
        return proc

    return run
