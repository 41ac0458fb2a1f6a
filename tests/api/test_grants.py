"""Every route of the app `baton server` serves, with users x namespaces x flows.

Built from the app's routes (`route_kit`), as test_roles.py is: a route added later is
checked at once. Principals hold a global role or none, grants on a namespace or one flow
(their own or their group's), or a token limited to one namespace. For each route and each
flow: a caller who may not see the flow gets 404, worded as for a flow that does not exist
(no leak of names), one who sees it with too low a role 403, and neither call changes
anything; mutating ones are audited as refused. The lists show exactly the flows each
caller may see.

Tokens without a global role, or limited to a namespace, are made as `baton tokens create`
makes them (migration 0009's columns); an expired one is refused 401 on every route.
"""

from __future__ import annotations

import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import baton
from baton.api import grants
from baton.api.auth import create_token
from baton.model.access import ROLES
from baton.settings import Settings
from baton.store.store import Store
from route_kit import MIN_ROLE, Route, audited, routes_of, served_app, snapshot

ROUTES = [
    r
    for r in routes_of(served_app(Settings(home="/none", database_url="sqlite:////none")))
    if MIN_ROLE.get(r.name) is not None
]
FLOWS = ("roles", "finance/orders", "finance/ledger", "hr/payroll")
# Routes on one flow (its name in the path) and on one run of a flow; lists; `flows.create`,
# whose flow is in its body; every other route asks the global role.
FLOW_ROUTES = {
    "flows.get",
    "flows.update",
    "flows.delete",
    "flows.pause",
    "flows.unpause",
    "flows.trigger",
    "flows.partitions",
    "flows.backfill",
    "flow",
    "flow_edit",
    "diff_page",
}
RUN_ROUTES = {
    "runs.get",
    "runs.cancel",
    "runs.repair",
    "runs.resume",
    "logs.get",
    "logs.stream",
    "run",
    "task",
    "runs.acknowledge",
    "approvals.approve",
    "approvals.reject",
}
LIST_ROUTES = {"flows.list", "runs.list", "approvals.list", "flows", "runs", "approvals"}

# Each caller's effective role on each flow, written out (not computed by the code tested).
R, ORD, L, P = FLOWS
EXPECTED: dict[str, dict[str, str | None]] = {
    "admin": dict.fromkeys(FLOWS, "admin"),
    "viewer": dict.fromkeys(FLOWS, "viewer"),
    "ann": {R: None, ORD: "operator", L: "operator", P: None},  # operator on namespace finance
    "bob": {R: None, ORD: None, L: "viewer", P: None},  # group analysts: viewer on finance/ledger
    "carl": {R: "viewer", ORD: "viewer", L: "viewer", P: "editor"},  # viewer + editor on hr
    "dora": {R: None, ORD: "admin", L: "admin", P: None},  # an admin token limited to finance
    "nobody": dict.fromkeys(FLOWS),
}
GLOBAL = {"admin": "admin", "viewer": "viewer", "carl": "viewer"}  # outside any flow
HIGHEST = {
    "admin": "admin",
    "viewer": "viewer",
    "ann": "operator",
    "bob": "viewer",
    "carl": "editor",
    "dora": "admin",
}
# The least privileged first: a mutating call is tried by the first caller it admits.
ORDER = ("nobody", "bob", "ann", "dora", "carl", "viewer", "admin")


def at_least(role: str | None, needed: str) -> bool:
    return role is not None and ROLES.index(role) >= ROLES.index(needed)


@dataclass
class World:
    home: Path
    tokens: dict[str, str]  # by caller
    runs: dict[str, str]  # a finished run's id, by flow
    values: dict[str, str]  # path parameters of routes on no flow


@baton.task
def hello() -> str:
    print("hello")
    return "hi"


def _flow(full: str) -> Any:
    namespace, _, name = full.rpartition("/")

    @baton.flow(name=name, namespace=namespace or None)
    def f() -> None:
        hello()

    return f


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> World:
    home = tmp_path_factory.mktemp("grants") / ".baton"
    settings = Settings.from_env({"BATON_HOME": str(home)})
    runs = {}
    for full in FLOWS:
        run = baton.run_flow(_flow(full), settings=settings)
        assert run.state == "succeeded"
        runs[full] = run.id
    store = Store(settings.database_url)
    try:
        with store.transaction() as tx:
            tokens = {}
            for user in EXPECTED:
                role = {"admin": "admin", "dora": "admin"}.get(user, GLOBAL.get(user))
                namespace = "finance" if user == "dora" else None
                tokens[user] = create_token(tx, user, role, namespace=namespace)[1]
            grants.add_grant(tx, role="operator", by="t", user="ann", namespace="finance")
            grants.add_grant(tx, role="viewer", by="t", group="analysts", flow=L)
            tx.add_group_member("analysts", "bob", 0.0)
            grants.add_grant(tx, role="editor", by="t", user="carl", namespace="hr")
            grant_id = grants.add_grant(tx, role="viewer", by="t", user="zed", namespace="x")
            tx.set_pool("p", 2, "a pool", 0.0)
            tx.report_materialization("roles", {}, None, None, "ops", 0.0)
            tx.add_dynamic_partitions("roles", ["k0"], 0.0)
            victim = create_token(tx, "victim", "viewer")[0]
    finally:
        store.close()
    values = {
        "name": "roles",
        "task": "hello",
        "token_id": victim,
        "backfill_id": "b0",
        "grant_id": str(grant_id),
        "group": "analysts",
        "user": "bob",
    }
    return World(home, tokens, runs, values)


@pytest.fixture
def world(template: World, tmp_path: Path) -> World:
    home = tmp_path / ".baton"
    shutil.copytree(template.home, home)
    return World(home, template.tokens, template.runs, template.values)


def yaml_of(full: str) -> str:
    namespace, _, name = full.rpartition("/")
    ns = f"namespace: {namespace}\n" if namespace else ""
    return f"name: {name}\n{ns}tasks:\n  - {{key: hi, type: shell, command: 'echo hi'}}\n"


_YAML = {"Content-Type": "application/yaml"}


def request_of(route: Route, flow: str) -> dict[str, Any]:
    bodies: dict[str, dict[str, Any]] = {
        "flows.create": {"content": yaml_of(flow), "headers": _YAML},
        "flows.update": {"content": yaml_of(flow), "headers": _YAML},
        "flows.trigger": {"json": {"params": {}}},
        "flows.backfill": {"json": {"missing": True}},
        "tokens.create": {"json": {"user": "eve", "role": "admin"}},
        "pools.set": {"json": {"slots": 9}},
        "assets.report": {"json": {"metadata": {"rows": 1}}},
        "lineage.get": {"params": {"asset": "roles"}},
        "partitions.add": {"json": {"keys": ["k1"]}},
        "partitions.remove": {"params": {"key": ["k0"]}},
        "grants.create": {"json": {"user": "eve", "role": "admin", "namespace": "finance"}},
        "groups.add_member": {"json": {"user": "eve"}},
    }
    return bodies.get(route.name, {"json": {}} if route.method in ("POST", "PUT") else {})


def url_of(route: Route, values: dict[str, str]) -> str:
    if route.path.startswith("/api/v1/pools/"):
        values = {**values, "name": "p"}
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], route.path)


def scope_of(route: Route) -> str:
    if route.name in FLOW_ROUTES:
        return "flow"
    if route.name in RUN_ROUTES:
        return "run"
    if route.name == "flows.create":
        return "create"
    return "list" if route.name in LIST_ROUTES else "global"


def expected(route: Route, user: str, flow: str) -> int | None:
    """404 (may not see it), 403 (sees it, too low a role), or None (admitted)."""
    needed = MIN_ROLE[route.name]
    assert needed is not None
    scope = scope_of(route)
    if scope in ("flow", "run"):
        held = EXPECTED[user][flow]
        if held is None:
            return 404
        return None if at_least(held, needed) else 403
    if scope == "create":
        return None if at_least(EXPECTED[user][flow], needed) else 403
    held = HIGHEST.get(user) if scope == "list" else GLOBAL.get(user)
    return None if at_least(held, needed) else 403


def targets(route: Route) -> tuple[str, ...]:
    return FLOWS if scope_of(route) in ("flow", "run", "create") else ("roles",)


def test_the_matrix_classifies_every_route_on_a_flow():
    """A route with a flow or a run in its path is in FLOW_ROUTES or RUN_ROUTES."""
    for r in ROUTES:
        on_flow = "/flows/{name" in r.path
        assert (r.name in FLOW_ROUTES) == on_flow, r
        assert (r.name in RUN_ROUTES) == ("{run_id" in r.path), r


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_route_checks_the_flows_namespace(route: Route, world: World):
    settings = Settings.from_env({"BATON_HOME": str(world.home)})
    db = world.home / "baton.db"
    with TestClient(served_app(settings), follow_redirects=False) as client:

        def call(user: str, flow: str, *, run_id: str | None = None) -> Any:
            values = {**world.values, "run_id": run_id or world.runs.get(flow, flow)}
            if scope_of(route) == "flow":
                values["name"] = flow
            kwargs = request_of(route, flow)
            headers = dict(kwargs.get("headers", {}))
            client.cookies.clear()
            if route.kind == "page":
                client.cookies.set("baton_token", world.tokens[user])
            else:
                headers["Authorization"] = f"Bearer {world.tokens[user]}"
            url = url_of(route, values)
            return client.request(route.method, url, **{**kwargs, "headers": headers})

        before = snapshot(db)
        audit: list[tuple[str, str, int]] = []
        for user in ORDER:
            for flow in targets(route):
                status = expected(route, user, flow)
                if status is None:
                    continue
                r = call(user, flow)
                assert r.status_code == status, (user, flow, r.status_code, r.text)
                if status == 404 and route.kind == "api":
                    # The same answer as for a flow (or run) that is not there at all.
                    namespace = flow.rpartition("/")[0]
                    missing = f"{namespace}/missing" if namespace else "missing"
                    other = call(user, missing, run_id="0000missing")
                    assert other.status_code == 404
                    shown = r.json()["detail"].replace(world.runs[flow], "0000missing")
                    assert shown.replace(flow, missing) == other.json()["detail"]
                if route.kind == "api" and route.method != "GET":
                    audit += [(route.name, "refused", status)] * (2 if status == 404 else 1)
        assert snapshot(db) == before, "a refused call changed the store"
        if route.kind == "api":
            assert audited(db) == audit

        for flow in targets(route):
            admitted = [u for u in ORDER if expected(route, u, flow) is None]
            if route.method != "GET":
                admitted = admitted[:1]  # the least privileged: its call may change the flow
            for user in admitted:
                r = call(user, flow)
                assert r.status_code not in (401, 403) and r.status_code < 500, (user, r.text)
                assert f"no flow '{flow}'" not in r.text, (user, r.text)
                assert f"no run '{world.runs[flow]}'" not in r.text, (user, r.text)


def _client(world: World) -> TestClient:
    settings = Settings.from_env({"BATON_HOME": str(world.home)})
    return TestClient(served_app(settings), follow_redirects=False)


def _bearer(world: World, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[user]}"}


@pytest.mark.parametrize("user", [u for u in ORDER if u in HIGHEST])
def test_lists_show_exactly_what_the_caller_may_see(user: str, world: World):
    visible = sorted(f for f in FLOWS if EXPECTED[user][f] is not None)
    with _client(world) as client:
        flows = client.get("/api/v1/flows", headers=_bearer(world, user)).json()["items"]
        assert sorted(f["name"] for f in flows) == visible
        runs = client.get("/api/v1/runs", headers=_bearer(world, user)).json()["items"]
        assert sorted(r["flow"] for r in runs) == visible
        finance = client.get(
            "/api/v1/runs", params={"namespace": "finance"}, headers=_bearer(world, user)
        ).json()["items"]
        assert sorted(r["flow"] for r in finance) == [f for f in visible if "finance/" in f]
        names = client.get(
            "/api/v1/flows", params={"namespace": "default"}, headers=_bearer(world, user)
        ).json()["items"]
        assert [f["name"] for f in names] == [f for f in visible if "/" not in f]
        for page in ("/flows", "/runs"):
            client.cookies.set("baton_token", world.tokens[user])
            html = client.get(page).text
            for flow in FLOWS:
                shown = f'/flows/{flow}"' in html or f">{flow}<" in html
                assert shown == (flow in visible), (page, flow)
            client.cookies.clear()


def test_a_caller_with_no_role_anywhere_lists_nothing(world: World):
    with _client(world) as client:
        r = client.get("/api/v1/flows", headers=_bearer(world, "nobody"))
        assert r.status_code == 403
        assert "roles" not in r.text and "finance" not in r.text


def test_a_grant_counts_at_once_and_stops_when_removed(world: World):
    with _client(world) as client:
        trigger = f"/api/v1/flows/{P}/runs"
        assert client.post(trigger, json={}, headers=_bearer(world, "bob")).status_code == 404
        r = client.post(
            "/api/v1/grants",
            json={"group": "analysts", "role": "operator", "namespace": "hr"},
            headers=_bearer(world, "admin"),
        )
        assert r.status_code == 201, r.text
        grant = r.json()
        assert grant["group"] == "analysts" and grant["namespace"] == "hr"
        assert grant["created_by"] == "admin"
        r = client.post(trigger, json={}, headers=_bearer(world, "bob"))
        assert r.status_code == 201, r.text
        listed = client.get("/api/v1/grants", headers=_bearer(world, "admin")).json()
        assert grant in listed
        gone = client.delete(f"/api/v1/grants/{grant['id']}", headers=_bearer(world, "admin"))
        assert gone.status_code == 204
        assert client.post(trigger, json={}, headers=_bearer(world, "bob")).status_code == 404
        again = client.delete(f"/api/v1/grants/{grant['id']}", headers=_bearer(world, "admin"))
        assert again.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "viewer", "namespace": "n"}, "user, group"),
        ({"user": "a", "group": "g", "role": "viewer", "namespace": "n"}, "user, group"),
        ({"user": "a", "role": "viewer"}, "namespace, flow"),
        ({"user": "a", "role": "viewer", "namespace": "n", "flow": "f"}, "namespace, flow"),
        ({"user": "a", "role": "boss", "namespace": "n"}, "role"),
        ({"user": "a", "role": "viewer", "flow": "a/b/c"}, "flow"),
        ({"user": "a", "role": "viewer", "namespace": "a/b"}, "namespace"),
        ({"user": "a b", "role": "viewer", "namespace": "n"}, "user"),
        ({"user": "a" * 201, "role": "viewer", "namespace": "n"}, "user"),
        ({"user": "a", "role": "viewer", "namespace": "n", "extra": 1}, "extra"),
    ],
)
def test_a_bad_grant_is_refused_naming_the_field(body: dict[str, Any], field: str, world: World):
    db = world.home / "baton.db"
    before = snapshot(db)
    with _client(world) as client:
        r = client.post("/api/v1/grants", json=body, headers=_bearer(world, "admin"))
    assert r.status_code == 422, r.text
    assert field in r.text
    assert snapshot(db) == before


def test_concurrent_grants_and_members(world: World):
    """200 callers at once: each distinct grant is made once, repeats are 409, none is 500."""
    with _client(world) as client:

        def add(i: int) -> int:
            body = {"user": f"u{i % 50}", "role": "viewer", "namespace": "finance"}
            r = client.post("/api/v1/grants", json=body, headers=_bearer(world, "admin"))
            return r.status_code

        def join(i: int) -> int:
            r = client.post(
                "/api/v1/groups/crowd/members",
                json={"user": f"m{i % 40}"},
                headers=_bearer(world, "admin"),
            )
            return r.status_code

        with ThreadPoolExecutor(16) as pool:
            added = list(pool.map(add, range(200)))
            joined = list(pool.map(join, range(200)))
        assert sorted(set(added)) == [201, 409] and added.count(201) == 50
        assert set(joined) == {200}
        groups = client.get("/api/v1/groups", headers=_bearer(world, "admin")).json()
        crowd = next(g for g in groups if g["group"] == "crowd")
        assert sorted(crowd["members"]) == sorted(f"m{i}" for i in range(40))
        made = client.get(
            "/api/v1/grants", params={"scope": "finance"}, headers=_bearer(world, "admin")
        ).json()
        assert len([g for g in made if g["user"] and g["user"].startswith("u")]) == 50


def test_a_namespaced_flow_in_a_path_as_the_ui_sends_it(world: World):
    """The UI's script encodes the name (`finance%2Forders`): the same flow, the same rule."""
    with _client(world) as client:
        r = client.post("/api/v1/flows/finance%2Forders/pause", headers=_bearer(world, "ann"))
        assert r.status_code == 200 and r.json()["paused"] is True, r.text
        r = client.post("/api/v1/flows/hr%2Fpayroll/pause", headers=_bearer(world, "ann"))
        assert r.status_code == 404
        r = client.get("/api/v1/flows/finance/orders", headers=_bearer(world, "ann"))
        assert r.json()["name"] == "finance/orders"


def test_the_ui_offers_an_action_where_the_role_on_the_flow_allows_it(world: World):
    """carl: a global viewer and an editor on namespace hr; the UI offers him the trigger
    shortcut and button on hr's flows only (the flows are not deployed: no pause switch for
    anyone), and no audit log in its menu."""
    with _client(world) as client:
        client.cookies.set("baton_token", world.tokens["carl"])
        listed = client.get("/flows").text
        assert f'href="/flows/{P}#trigger" data-trigger-shortcut' in listed
        assert 'href="/flows/roles#trigger"' not in listed
        assert f'href="/flows/{ORD}#trigger"' not in listed
        assert "data-pause=" not in listed
        assert 'data-open="trigger"' in client.get(f"/flows/{P}").text
        page = client.get("/flows/roles").text
        assert 'data-open="trigger"' not in page and 'href="/audit"' not in page
        client.cookies.set("baton_token", world.tokens["dora"])  # admin, in finance only
        assert 'href="/audit"' not in client.get(f"/flows/{ORD}").text
        assert client.get("/audit").status_code == 403
        client.cookies.set("baton_token", world.tokens["admin"])
        assert 'href="/audit"' in client.get(f"/flows/{ORD}").text


def test_users_show_their_grants_own_and_through_groups(world: World):
    """GET /users: each token holder's grants, a group's marked with it; a grant of someone
    who holds no token (zed) names no user."""
    with _client(world) as client:
        r = client.get("/api/v1/users", headers=_bearer(world, "admin"))
    assert r.status_code == 200, r.text
    by_user = {u["user"]: u for u in r.json()}
    assert "zed" not in by_user
    ann, bob, carl = (by_user[u]["grants"] for u in ("ann", "bob", "carl"))
    assert [(g["role"], g["namespace"], g["flow"], g["group"]) for g in ann] == [
        ("operator", "finance", None, None)
    ]
    assert [(g["role"], g["namespace"], g["flow"], g["group"]) for g in bob] == [
        ("viewer", None, L, "analysts")
    ]
    assert [(g["role"], g["namespace"]) for g in carl] == [("editor", "hr")]
    assert by_user["bob"]["roles"] == [] and by_user["carl"]["roles"] == ["viewer"]
    assert by_user["admin"]["grants"] == []
