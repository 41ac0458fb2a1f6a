"""Signing in to the UI's pages in tests that drive the app in-process (TestClient)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from baton.api.auth import create_token
from baton.store.store import Store


def sign_in(client: TestClient, store: Store, role: str) -> None:
    """Sign `client` in with a new token of `role` (its user is named after the role)."""
    with store.transaction() as tx:
        token = create_token(tx, role, role)[1]
    r = client.post("/login", data={"token": token, "next": "/flows"}, follow_redirects=False)
    assert r.status_code == 303
