"""`baton grants` and `baton groups` as a user runs them, on SQLite and PostgreSQL: what they
say, what they store, the audit rows they write (`cli:<OS user>`), exit 2 naming the field
for bad input with nothing written; and flows in namespaces, listed with `--namespace`."""

from __future__ import annotations

import getpass
import json
from typing import Any

import pytest

FLOWS = """
from baton import flow, task

@task
def hello() -> int:
    return 1

@flow(name="orders", namespace="finance")
def finance_orders():
    hello()

@flow(name="orders")
def orders():
    hello()
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def cli(request: pytest.FixtureRequest, baton: Any) -> Any:
    if request.param == "postgresql":
        baton.env["BATON_DATABASE_URL"] = request.getfixturevalue("pg_url")
        baton("db", "upgrade")
    return baton


def test_grants_and_groups_round_trip_and_are_audited(cli: Any):
    made = cli.json("grants", "add", "--user", "ann", "--role", "operator", "--namespace", "hr")
    assert made["user"] == "ann" and made["namespace"] == "hr" and made["role"] == "operator"
    out = cli("grants", "add", "--group", "analysts", "--role", "viewer", "--flow", "hr/pay")
    assert "group analysts holds viewer on flow hr/pay" in out.stdout
    assert "ann is now in group analysts" in cli("groups", "add-member", "analysts", "ann").stdout
    assert "was already" in cli("groups", "add-member", "analysts", "ann").stdout
    assert cli.json("groups", "list") == [{"group": "analysts", "members": ["ann"]}]
    listed = cli.json("grants", "list")
    assert [(g["user"], g["group"]) for g in listed] == [("ann", None), (None, "analysts")]
    assert cli.json("grants", "list", "--user", "analysts")[0]["flow"] == "hr/pay"
    assert "removed" in cli("grants", "remove", str(made["id"])).stdout
    assert "no grant" in cli("grants", "remove", str(made["id"]), check=2).stderr
    cli("groups", "remove-member", "analysts", "ann")
    assert "not in group" in cli("groups", "remove-member", "analysts", "ann", check=2).stderr
    audit = cli.json("audit")
    # The fixture's `baton db upgrade` (on PostgreSQL) is audited too: not this test's.
    actions = [(a["action"], a["actor"]) for a in reversed(audit) if a["action"] != "db.upgrade"]
    me = f"cli:{getpass.getuser()}"
    assert actions == [
        ("grants.create", me),
        ("grants.create", me),
        ("groups.add_member", me),
        ("grants.remove", me),
        ("groups.remove_member", me),
    ]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--user", "ann", "--role", "boss", "--namespace", "hr"], "role"),
        (["--user", "ann", "--role", "viewer", "--namespace", "a/b"], "namespace"),
        (["--user", "ann", "--role", "viewer", "--flow", "a/b/c"], "flow"),
        (["--user", "a b", "--role", "viewer", "--namespace", "hr"], "user"),
        (["--user", "ann", "--group", "g", "--role", "viewer", "--namespace", "hr"], "--group"),
        (["--user", "ann", "--role", "viewer"], "--namespace"),
    ],
)
def test_a_bad_grant_exits_2_naming_the_field(cli: Any, args: list[str], field: str):
    r = cli("grants", "add", *args, check=2)
    assert field in r.stderr and "Traceback" not in r.stderr
    assert cli.json("grants", "list") == []
    assert [a for a in cli.json("audit") if a["action"] != "db.upgrade"] == []


def test_the_same_grant_twice_is_refused(cli: Any):
    args = ("grants", "add", "--user", "ann", "--role", "viewer", "--namespace", "hr")
    cli(*args)
    assert "already holds viewer" in cli(*args, check=2).stderr
    assert len(cli.json("grants", "list")) == 1


def test_flows_in_namespaces_run_and_list(baton: Any, write: Any):
    write("flows.py", FLOWS)
    run = baton.run("flows.py", "--flow", "finance/orders")
    assert run["flow"] == "finance/orders" and run["state"] == "succeeded"
    baton.run("flows.py", "--flow", "orders")
    again = baton.run("flows.py", "--flow", "orders", "--namespace", "finance")
    assert again["flow"] == "finance/orders"
    finance = json.loads(baton("runs", "list", "--namespace", "finance", "--json").stdout)
    assert [r["flow"] for r in finance] == ["finance/orders"] * 2
    same = json.loads(
        baton("runs", "list", "--namespace", "finance", "--flow", "orders", "--json").stdout
    )
    assert [r["flow"] for r in same] == ["finance/orders"] * 2
    plain = json.loads(baton("runs", "list", "--namespace", "default", "--json").stdout)
    assert [r["flow"] for r in plain] == ["orders"]
    assert "--namespace" in baton("runs", "list", "--namespace", "a/b", check=2).stderr


def test_baton_users_shows_grants(cli: Any):
    cli("tokens", "create", "--user", "ann", "--role", "viewer")
    cli("grants", "add", "--user", "ann", "--role", "operator", "--namespace", "hr")
    cli("grants", "add", "--group", "analysts", "--role", "viewer", "--flow", "hr/pay")
    cli("groups", "add-member", "analysts", "ann")
    [ann] = cli.json("users")
    assert ann["user"] == "ann" and ann["roles"] == ["viewer"]
    assert [(g["role"], g["namespace"], g["flow"], g["group"]) for g in ann["grants"]] == [
        ("operator", "hr", None, None),
        ("viewer", None, "hr/pay", "analysts"),
    ]
    shown = cli("users").stdout
    assert "operator on namespace hr" in shown and "viewer on flow hr/pay (group analysts)" in shown
