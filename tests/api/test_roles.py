"""Every route of the app `baton server` serves (the API and the UI's pages), with every role.

The matrix is built from `app.routes`, so a route added later is covered at once; MIN_ROLE
says who may call each one, and a route missing from it fails the suite: no route goes out
unclassified. For each route: no token, a garbage one, a revoked one and an expired one are
refused (401 for the API, a redirect to /login for a page; the expired one audited as
`auth.expired` whatever the method), a token without a global role and each role below the
route's are refused (403), the refused calls change nothing in the store and are audited as
refused (the API's mutating ones), and the route's own role and each role above it get past
the check.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import baton
from baton.api import grants
from baton.api.auth import ROLES, create_token, scope_of
from baton.settings import Settings
from baton.store.store import Store
from route_kit import MIN_ROLE, Route, audited, routes_of, served_app, snapshot

FLOW = "roles"
YAML = "name: {name}\ntasks:\n  - {{key: hi, type: shell, command: 'echo hi'}}\n"
_YAML = {"Content-Type": "application/yaml"}
# What each mutating route is sent: a body that would change something, were it allowed.
REQUESTS: dict[str, dict[str, Any]] = {
    "tokens.create": {
        "json": {"user": "eve", "role": "admin", "expires_in": "30d", "namespace": "ns"}
    },
    "pools.set": {"json": {"slots": 9, "description": "changed"}},
    "flows.create": {"content": YAML.format(name="made"), "headers": _YAML},
    "flows.update": {"content": YAML.format(name=FLOW), "headers": _YAML},
    "flows.trigger": {"json": {"params": {}}},
    "assets.report": {"json": {"metadata": {"rows": 1}, "partition": "p1"}},
    "lineage.get": {"params": {"asset": FLOW}},
    "partitions.add": {"json": {"keys": ["k1", "k2"]}},
    "partitions.remove": {"params": {"key": ["k0"]}},
    "flows.backfill": {"json": {"missing": True}},
    "grants.create": {"json": {"user": "eve", "role": "admin", "namespace": "finance"}},
    "groups.add_member": {"json": {"user": "eve"}},
    "runs.acknowledge": {"json": {"comment": "on it"}},
}


def request_for(route: Route, world: World) -> dict[str, Any]:
    if route.name == "login":  # signing in with a valid token
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        return {"content": f"token={world.tokens['viewer']}", "headers": form}
    return REQUESTS.get(route.name, {"json": {}} if route.method in ("POST", "PUT") else {})


ROUTES = routes_of(served_app(Settings(home="/nonexistent", database_url="sqlite:////nonexistent")))


def test_every_route_has_a_minimum_role():
    unclassified = sorted({f"{r.name} ({r})" for r in ROUTES if r.name not in MIN_ROLE})
    assert not unclassified, f"add these routes to MIN_ROLE: {unclassified}"
    names = [r.name for r in ROUTES if r.kind == "api"]
    assert len(names) == len(set(names)), "API route names must be unique (they are audited)"
    assert all(r.path.startswith(("/api/v1/", "/metrics")) for r in ROUTES if r.kind == "api")


@dataclass
class World:
    home: Path
    tokens: dict[str, str]  # by role, plus "revoked", "expired" and "none" (no global role)
    values: dict[str, str]  # path parameters


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> World:
    """A home with a finished run of a flow (with a log), a pool and a token per role."""
    home = tmp_path_factory.mktemp("roles") / ".baton"
    settings = Settings.from_env({"BATON_HOME": str(home)})
    run = baton.run_flow(roles, settings=settings)
    assert run.state == "succeeded"
    store = Store(settings.database_url)
    try:
        with store.transaction() as tx:
            tokens = {role: create_token(tx, role, role)[1] for role in ROLES}
            revoked_id, tokens["revoked"] = create_token(tx, "gone", "admin")
            tx.revoke_token(revoked_id, 0.0)
            tokens["expired"] = create_token(tx, "late", "admin", now=0.0, expires_in=1)[1]
            tokens["none"] = create_token(tx, "grantee", None)[1]
            victim_id = create_token(tx, "victim", "viewer")[0]
            tx.set_pool("p", 2, "a pool", 0.0)
            # An asset named as the flow: `{name}` in asset routes finds one.
            tx.report_materialization(FLOW, {}, None, None, "ops", 0.0)
            tx.add_dynamic_partitions(FLOW, ["k0"], 0.0)  # a set named as the flow
            grant_id = grants.add_grant(tx, role="viewer", by="t", user="ann", namespace="n")
            tx.add_group_member("analysts", "ann", 0.0)
    finally:
        store.close()
    values = {
        "name": FLOW,
        "run_id": run.id,
        "task": "hello",
        "token_id": victim_id,
        "backfill_id": "b0",
        "grant_id": str(grant_id),
        "group": "analysts",
        "user": "ann",
    }
    return World(home, tokens, values)


@pytest.fixture
def world(template: World, tmp_path: Path) -> World:
    """A copy of the template's home, for one test to change."""
    home = tmp_path / ".baton"
    shutil.copytree(template.home, home)
    return World(home, template.tokens, template.values)


@baton.task
def hello() -> str:
    print("hello")
    return "hi"


@baton.flow(name=FLOW)
def roles() -> None:
    hello()


def url_of(route: Route, values: dict[str, str]) -> str:
    if route.path.startswith("/api/v1/pools/"):
        values = {**values, "name": "p"}

    def fill(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            pytest.fail(f"{route}: give World.values a sample for the path parameter {m[1]}")
        return values[m.group(1)]

    return re.sub(r"\{(\w+)(?::\w+)?\}", fill, route.path)


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_route_admits_its_role_and_above_and_refuses_the_rest(route: Route, world: World):
    if route.name not in MIN_ROLE:
        pytest.fail(f"{route.name} is not in MIN_ROLE")
    settings = Settings.from_env({"BATON_HOME": str(world.home)})
    db = world.home / "baton.db"
    url = url_of(route, world.values)
    kwargs = request_for(route, world)
    with TestClient(served_app(settings), follow_redirects=False) as client:

        def call(token: str | None, *, ui_header: bool = False) -> Any:
            headers = dict(kwargs.get("headers", {}))
            cookies = {}
            if route.kind == "page" or ui_header:
                cookies = {"baton_token": token} if token else {}
                if ui_header:
                    headers["X-Baton-UI"] = "1"
            elif token:
                headers["Authorization"] = f"Bearer {token}"
            client.cookies.clear()
            client.cookies.update(cookies)
            return client.request(route.method, url, **{**kwargs, "headers": headers})

        if route.role is None:
            r = call(None)
            assert r.status_code not in (401, 403) and r.status_code < 500, (r, r.text)
            assert not r.headers.get("location", "").startswith("/login?")
            return

        before = snapshot(db)
        expected: list[tuple[str, str, int]] = []
        garbage = ("nope", "baton_", f"baton_{world.values['token_id']}_wrong")
        for token in (None, *garbage, world.tokens["revoked"]):
            r = call(token)
            if route.kind == "page":  # signed out: off to sign in, and back here after
                assert r.status_code == 303, (token, r.status_code, r.text)
                assert r.headers["location"].startswith("/login?next=")
            else:
                assert r.status_code == 401, (token, r.status_code, r.text)
                expected.append((route.name, "refused", 401))
        r = call(world.tokens["expired"])
        if route.kind == "page":
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
        else:
            assert r.status_code == 401 and "expired" in r.text, (r.status_code, r.text)
            expected.append(("auth.expired", "refused", 401))
        if route.kind == "api":  # the UI's cookie without its header: no CSRF
            client.cookies.set("baton_token", world.tokens["admin"])
            r = client.request(route.method, url, **kwargs)
            assert r.status_code == 401, r.text
            expected.append((route.name, "refused", 401))
        # No global role and no grants: a flow (or a run of one) it may not even see is 404,
        # worded as for a missing one (tests/api/test_grants.py); anything else 403.
        hidden = 404 if scope_of(route.name, route.path) in ("flow", "run") else 403
        r = call(world.tokens["none"])
        assert r.status_code == hidden, (r.status_code, r.text)
        expected.append((route.name, "refused", hidden))
        lower = ROLES[: ROLES.index(route.role)]
        for role in lower:
            r = call(world.tokens[role])
            assert r.status_code == 403, (role, r.status_code, r.text)
            expected.append((route.name, "refused", 403))
        assert snapshot(db) == before, "a refused call changed the store"
        if route.kind == "api" and route.method != "GET":
            assert audited(db) == expected
        elif route.kind == "api":  # reads are not audited, but the use of an expired token is
            assert audited(db) == [e for e in expected if e[0] == "auth.expired"]

        for role in ROLES[ROLES.index(route.role) :]:
            r = call(world.tokens[role])
            assert r.status_code not in (401, 403) and r.status_code < 500, (role, r, r.text)
            assert not r.headers.get("location", "").startswith("/login?")
        if route.kind == "api":  # the UI calls the API with its cookie and header
            r = call(world.tokens[route.role], ui_header=True)
            assert r.status_code not in (401, 403) and r.status_code < 500, (r, r.text)
