"""Every change a `baton` command makes directly on the store leaves one audit entry, actor
`cli:<OS user>`, which `baton audit` shows, filters (--since, --actor, --action) and exports
(--jsonl); no entry holds a secret, and a bad --since is exit 2."""

from __future__ import annotations

import getpass
import json
from typing import Any

import pytest

DAYS = """
name: days
partitions: {type: daily, start: 2024-01-01}
tasks:
  - {key: load, type: shell, command: 'echo $BATON_PARTITION'}
"""


def export(baton: Any, *args: str) -> list[dict[str, Any]]:
    out = baton("audit", "--jsonl", "--limit", "500", *args).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_each_cli_change_is_audited_once_as_its_os_user(baton, write) -> None:
    me = f"cli:{getpass.getuser()}"
    baton("deploy", write("days.yaml", DAYS))
    baton("flows", "pause", "days")
    baton("flows", "unpause", "days")
    baton("pools", "set", "p", "--slots", "2")
    baton("pools", "delete", "p")
    made = json.loads(
        baton("tokens", "create", "--user", "ann", "--expires", "30d", "--json").stdout
    )
    baton("tokens", "revoke", made["id"])
    baton("backfill", "days", "--partitions", "2024-01-01..2024-01-02")
    run_id = baton.json("runs", "list", "--limit", "1")[0]["id"]
    baton("runs", "cancel", run_id)  # finished already: answered as the API does, audited too
    baton("partitions", "add", "regions", "eu", "us")
    baton("partitions", "remove", "regions", "eu")
    baton("cache", "clear")
    baton("db", "prune", "--older-than", "30d")
    baton("db", "upgrade")
    # What changed nothing is not audited: a dry run, a read, a refused command.
    baton("db", "prune", "--older-than", "30d", "--dry-run")
    baton("pools", "delete", "nope", check=2)
    baton("tokens", "list")

    entries = export(baton)
    assert [e["action"] for e in entries] == [
        "flows.deploy",
        "flows.pause",
        "flows.unpause",
        "pools.set",
        "pools.delete",
        "tokens.create",
        "tokens.revoke",
        "flows.backfill",
        "runs.cancel",
        "partitions.add",
        "partitions.remove",
        "cache.clear",
        "db.prune",
        "db.upgrade",
    ]
    assert {e["actor"] for e in entries} == {me}
    assert all(e["outcome"] == "ok" and e["detail"]["via"] == "cli" for e in entries)
    by_action = {e["action"]: e for e in entries}
    assert by_action["tokens.create"]["object_id"] == made["id"]
    assert by_action["tokens.create"]["detail"]["user"] == "ann"
    assert by_action["flows.backfill"]["detail"]["runs"] == 2
    assert by_action["runs.cancel"]["object_id"] == run_id
    assert by_action["partitions.add"]["detail"]["keys"] == ["eu", "us"]
    assert made["token"] not in json.dumps(entries), "a token's text is never audited"

    # Filters: by actor, action and time (an age or an ISO time).
    assert export(baton, "--actor", "someone") == []
    assert [e["object_id"] for e in export(baton, "--action", "pools.set")] == ["p"]
    assert len(export(baton, "--since", "1h")) == len(entries)
    assert len(export(baton, "--since", "2000-01-01T00:00:00Z")) == len(entries)
    assert export(baton, "--since", "2999-01-01") == []
    newest_first = json.loads(baton("audit", "--json", "--limit", "2").stdout)
    assert [e["action"] for e in newest_first] == ["db.upgrade", "db.prune"]
    table = baton("audit", "--action", "db.upgrade").stdout
    assert "db.upgrade" in table and me in table


def test_a_bad_since_is_exit_2_naming_the_option(baton) -> None:
    for bad in ("yesterday", "5y", "0h", "2024-13-45"):
        proc = baton("audit", "--since", bad, check=2)
        assert "--since" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    proc = baton("audit", "--json", "--jsonl", check=2)
    assert "not allowed with" in proc.stderr


def test_tokens_list_shows_created_expires_and_last_used_and_users_their_roles(baton) -> None:
    baton("tokens", "create", "--user", "ann", "--role", "operator", "--expires", "6h")
    baton("tokens", "create", "--user", "bo", "--namespace", "sales")
    listed = json.loads(baton("tokens", "list", "--json").stdout)
    assert [(t["user"], t["role"], t["namespace"]) for t in listed] == [
        ("ann", "operator", None),
        ("bo", None, "sales"),
    ]
    assert listed[0]["expires_at"] > listed[0]["created_at"] and listed[1]["expires_at"] is None
    assert all(t["last_used_at"] is None for t in listed)
    table = baton("tokens", "list").stdout
    for column in ("created", "expires", "last used", "never"):
        assert column in table
    assert json.loads(baton("users", "--json").stdout) == [
        {"user": "ann", "roles": ["operator"], "grants": []},
        {"user": "bo", "roles": [], "grants": []},
    ]
    assert "grants" in baton("users").stdout
    for bad, option in (
        (["--expires", "soon"], "--expires"),
        (["--namespace", "a/b"], "--namespace"),
    ):
        proc = baton("tokens", "create", "--user", "cy", *bad, check=2)
        assert option in proc.stderr and "Traceback" not in proc.stderr
    assert len(json.loads(baton("tokens", "list", "--json").stdout)) == 2


@pytest.mark.postgres
def test_no_audit_entry_shows_a_database_password_or_a_token(baton, pg_url, write) -> None:
    scheme, rest = pg_url.split("://", 1)
    userinfo, _, host = rest.rpartition("@")
    user, _, password = userinfo.partition(":")
    password = password or "hunter2-s3cret"  # a server trusting local connections ignores it
    baton.env["BATON_DATABASE_URL"] = f"{scheme}://{user}:{password}@{host}"
    baton("db", "upgrade")
    baton("deploy", write("days.yaml", DAYS))
    made = json.loads(baton("tokens", "create", "--user", "ann", "--json").stdout)
    baton("tokens", "revoke", made["id"])
    out = baton("audit", "--jsonl").stdout
    assert [json.loads(line)["action"] for line in out.splitlines()] == [
        "db.upgrade",
        "flows.deploy",
        "tokens.create",
        "tokens.revoke",
    ]
    assert password not in out
    assert made["token"] not in out and made["token"].split("_")[-1] not in out
