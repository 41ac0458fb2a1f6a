"""Partitions through a real `baton server`: the CLI's `--server` prints what it prints
locally; hundreds of concurrent callers adding dynamic keys and reading a flow's keys are
all answered, and every key added is recorded once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from server_kit import Server
from waiting import wait_until

LOAD = 200
BOUND = 90.0  # seconds for all of them to be answered, on a loaded 2-core machine

FLOWS = """
name: bill
partitions: {type: dynamic, name: customers}
tasks: [{key: a, type: shell, command: 'echo $BATON_PARTITION'}]
"""


def test_cli_through_a_server_matches_the_local_cli(baton, write) -> None:
    path = write("bill.yaml", FLOWS)
    baton("deploy", path)
    server = Server(baton)
    remote = server.flags("operator")
    added = baton.json("partitions", "add", "customers", "acme", "zeta", *remote)
    assert added == {"name": "customers", "keys": ["acme", "zeta"]}
    assert baton.json("partitions", "keys", "customers", *remote) == ["acme", "zeta"]
    run = baton.run(path, "--partition", "acme")
    assert run["partition"] == "acme"
    there = baton.json("partitions", "show", "bill", *remote)
    here = baton.json("partitions", "show", "bill")
    assert there == here
    assert [(i["key"], i["status"]) for i in here["items"]] == [
        ("acme", "succeeded"),
        ("zeta", "missing"),
    ]
    refused = baton("partitions", "add", "customers", "x", *server.flags("viewer"), check=2)
    assert "role 'viewer' may not do this: it needs 'operator'" in refused.stderr
    bad = baton("partitions", "add", "customers", "a/b", *remote, check=2)
    assert "is not a partition key" in bad.stderr
    assert "Traceback" not in bad.stderr + refused.stderr


def test_hundreds_of_concurrent_adds_and_reads(baton, write) -> None:
    baton("deploy", write("bill.yaml", FLOWS))
    server = Server(baton)
    headers = {"Authorization": f"Bearer {server.tokens['operator']}"}

    async def load() -> list[tuple[int | None, Any]]:
        limits = httpx.Limits(max_connections=LOAD, max_keepalive_connections=0)
        async with httpx.AsyncClient(
            base_url=f"{server.url}/api/v1", headers=headers, timeout=BOUND, limits=limits
        ) as client:

            async def one(i: int) -> tuple[int | None, Any]:
                try:
                    if i % 2:
                        r = await client.get("/flows/bill/partitions")
                    else:  # overlapping keys: each caller's and its neighbour's
                        keys = [f"c{i}", f"c{i + 2}"]
                        r = await client.post("/partitions/customers", json={"keys": keys})
                except httpx.HTTPError:
                    return None, None
                return r.status_code, r.json() if r.status_code == 200 else None

            return await asyncio.gather(*(one(i) for i in range(LOAD)))

    answers = asyncio.run(load())
    statuses = [s for s, _ in answers]
    assert set(statuses) <= {200, 503}, sorted(set(map(str, statuses)))
    assert statuses.count(200) >= LOAD // 2, statuses.count(200)
    said_added = [
        k for i, (s, body) in enumerate(answers) if s == 200 and i % 2 == 0 for k in body["keys"]
    ]
    assert len(said_added) == len(set(said_added))  # no key reported new twice
    r = httpx.get(f"{server.url}/api/v1/partitions/customers?limit=500", headers=headers)
    stored = r.json()["items"]
    assert sorted(stored) == sorted(said_added)


DAYS = """
name: days
partitions: {type: daily, start: 2024-01-01}
tasks: [{key: a, type: shell, command: 'echo $BATON_PARTITION >> days.txt'}]
"""


def test_a_backfill_asked_of_a_server_is_run_by_its_timers_and_workers(baton, write, workdir):
    baton("deploy", write("days.yaml", DAYS))
    server = Server(baton)
    r = server.call(
        "POST",
        "/flows/days/backfills",
        "operator",
        json={"partitions": "2024-01-01..2024-01-05", "max_parallel": 2},
    )
    assert r.status_code == 201, r.text
    backfill = r.json()

    def done() -> Any:
        got = server.call("GET", f"/backfills/{backfill['id']}", "viewer").json()
        return got if got["state"] == "done" else None

    finished = wait_until(done, timeout=BOUND, what="the backfill to end")
    assert sorted(finished["runs"]) == [f"2024-01-0{d}" for d in range(1, 6)]
    page = server.call("GET", "/flows/days/partitions", "viewer", params={"limit": 5}).json()
    assert {i["status"] for i in page["items"]} == {"succeeded"}
    assert sorted((workdir / "days.txt").read_text().split()) == sorted(finished["runs"])
