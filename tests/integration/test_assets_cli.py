"""`baton assets ...` as real processes: list, show (the issue's JSON), history, lineage
across deployed flows, report (masked, fires asset triggers), check; the same through a
`baton server` with `--server`; bad input exits 2 without a traceback; and a server
answering hundreds of concurrent catalog and lineage reads."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
import pytest

from server_kit import Server

SECRET = "hunter2-s3cr3t"
ETL = """
name: etl
assets:
  - name: warehouse.orders
    description: One row per order.
    owner: data@example.com
    tags: [sales]
    freshness: {max_lag: 6h}
    checks:
      - {name: enough_rows, python: "checks:enough_rows", severity: warn}
  - {name: raw.events, description: Written by the vendor.}
tasks:
  - key: load
    type: shell
    inputs: [raw.events]
    outputs: [warehouse.orders]
    command: >-
      echo '{"asset": "warehouse.orders", "metadata": {"rows": 3}, "data_version": "v1"}'
      >> "$BATON_ASSETS_FILE"
"""
MARTS = """
name: marts
triggers: [{asset: raw.events}]
tasks:
  - {key: build, type: shell, command: "true", inputs: [warehouse.orders], outputs: [marts.sales]}
"""
CHECKS = """
def enough_rows(asset, metadata, partition):
    return metadata.get("rows", 0) > 0
"""
SHOW_KEYS = ["name", "description", "owner", "tags", "producers", "consumers"]
SHOW_KEYS += ["last_materialization", "freshness", "checks"]


@pytest.fixture
def project(baton: Any, write: Any) -> Any:
    write("etl.yaml", ETL)
    write("marts.yaml", MARTS)
    write("checks.py", CHECKS)
    baton("deploy", ".")
    return baton


def test_list_show_history_lineage_and_check(project: Any) -> None:
    baton = project
    assert baton.run("etl.yaml")["state"] == "succeeded"
    listed = baton.json("assets", "list")
    assert [a["name"] for a in listed] == ["marts.sales", "raw.events", "warehouse.orders"]
    orders = listed[-1]
    assert (orders["freshness"], orders["checks"], orders["checks_failing"]) == ("fresh", 1, 0)
    assert [a["name"] for a in baton.json("assets", "list", "--tag", "sales")] == [
        "warehouse.orders"
    ]
    assert baton.json("assets", "list", "--stale") == []
    table = baton("assets", "list").stdout
    assert table.splitlines()[0] == "3 assets"
    assert re.search(r"warehouse\.orders\s+fresh\s+\d{4}-", table), table

    shown = baton.json("assets", "show", "warehouse.orders")
    assert list(shown)[: len(SHOW_KEYS)] == SHOW_KEYS
    assert shown["producers"] == [{"flow": "etl", "task": "load"}]
    assert shown["consumers"] == [{"flow": "marts", "task": "build"}]
    last = shown["last_materialization"]
    assert set(last) == {"run_id", "task", "at", "metadata", "data_version"}
    assert (last["task"], last["metadata"], last["data_version"]) == ("load", {"rows": 3}, "v1")
    assert set(shown["freshness"]) == {"state", "last_update", "due"}
    assert [c["name"] for c in shown["checks"]] == ["enough_rows"]
    assert set(shown["checks"][0]["last"]) == {"passed", "at", "run_id"}  # ran after the write
    text = baton("assets", "show", "warehouse.orders").stdout
    assert "producers: etl/load" in text and "check enough_rows (warn): passed" in text

    (m,) = baton.json("assets", "history", "warehouse.orders")
    assert (m["source"], m["flow"], m["task"], m["metadata"]) == (
        "task",
        "etl",
        "load",
        {"rows": 3},
    )
    assert (
        "1 materializations of warehouse.orders"
        in baton("assets", "history", "warehouse.orders").stdout
    )

    g = baton.json("assets", "lineage", "marts.sales", "--downstream", "0")
    assert {n["id"]: n["kind"] for n in g["nodes"]} == {
        "marts.sales": "asset",
        "task:marts/build": "task",
        "warehouse.orders": "asset",
        "task:etl/load": "task",
        "raw.events": "asset",
    }
    assert {"from": "warehouse.orders", "to": "task:marts/build"} in g["edges"]
    near = baton.json("assets", "lineage", "marts.sales", "--upstream", "1")
    assert "raw.events" not in {n["id"] for n in near["nodes"]}
    out = baton("assets", "lineage", "warehouse.orders").stdout
    assert "[etl/load] -> warehouse.orders" in out and "raw.events -> [etl/load]" in out

    (result,) = baton.json("assets", "check", "warehouse.orders")
    assert (result["check"], result["passed"], result["run_id"]) == ("enough_rows", True, None)
    text = baton("assets", "check", "warehouse.orders").stdout
    assert re.fullmatch(r"check enough_rows \(warn\): passed in \d+\.\d{3}s\n", text), text
    # Elsewhere, its python check cannot be imported: refused, not run (nor told as failed).
    (baton.cwd / "elsewhere").mkdir()
    before = baton.json("assets", "show", "warehouse.orders")["checks"]
    refused = baton("assets", "check", "warehouse.orders", "--path", "elsewhere", check=2)
    assert "deployed from etl.yaml, which is not under" in refused.stderr, refused.stderr
    assert baton.json("assets", "show", "warehouse.orders")["checks"] == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "no.such"], "no asset 'no.such'"),
        (["history", "no.such"], "no asset 'no.such'"),
        (["lineage", "no.such"], "no asset 'no.such'"),
        (["lineage", "raw.events", "--upstream", "11"], "--upstream: expected at most 10"),
        (["lineage", "raw.events", "--downstream", "-1"], "--downstream: expected a number >= 0"),
        (["list", "--limit", "0"], "--limit: expected a number >= 1"),
        (["report", "bad name"], "asset name 'bad name' is not valid"),
        (["report", "raw.events", "--metadata", "novalue"], "expected KEY=VALUE, got 'novalue'"),
        (["report", "no.such"], "no asset 'no.such'"),
        (["check", "raw.events"], "has no checks"),
        (["show", "x", "--server", "nope"], "expected a URL"),
    ],
)
def test_bad_input_exits_2_with_a_message(project: Any, args: list[str], message: str) -> None:
    out = project("assets", *args, check=2)
    assert message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_report_masks_secrets_and_fires_an_asset_trigger(
    project: Any, workdir: Any, h: Any
) -> None:
    baton = project
    (workdir / ".baton" / "secrets.yaml").write_text(f'DB_PASSWORD: "{SECRET}"\n')
    # The trigger counts writes after its flow's deploy: it fires whenever this starts.
    baton.start("scheduler")
    m = baton.json(
        "assets",
        "report",
        "raw.events",
        "--metadata",
        "rows=5",
        "--metadata",
        "note=hello world",
        "--metadata",
        'obj={"a": [1, 2]}',
        "--metadata",
        f"dsn=pg://u:{SECRET}@h",
        "--partition",
        "2026-12-01",
    )
    assert m["metadata"] == {
        "rows": 5,
        "note": "hello world",
        "obj": {"a": [1, 2]},
        "dsn": "pg://u:***@h",
    }
    assert (m["source"], m["partition"], m["run_id"]) == ("external", "2026-12-01", None)
    assert "materialization" in baton("assets", "report", "raw.events").stdout
    runs = h.wait_until(
        lambda: baton.json("runs", "list", "--flow", "marts"),
        timeout=20,
        what="the asset trigger to fire",
    )
    assert {r["trigger"] for r in runs} == {"asset"}
    assert runs[-1]["trigger_detail"] == "raw.events"
    assert SECRET not in (workdir / ".baton" / "baton.db").read_bytes().decode("latin-1")


def test_the_same_through_a_server(project: Any, h: Any) -> None:
    baton = project
    assert baton.run("etl.yaml")["state"] == "succeeded"
    server = Server(baton)
    viewer = server.flags("viewer")
    assert baton.json("assets", "list", *viewer) == baton.json("assets", "list")
    assert baton.json("assets", "list", "--limit", "2", *viewer) == baton.json(
        "assets", "list", "--limit", "2"
    )
    assert baton.json("assets", "show", "warehouse.orders", *viewer) == baton.json(
        "assets", "show", "warehouse.orders"
    )
    assert baton.json("assets", "history", "warehouse.orders", *viewer) == baton.json(
        "assets", "history", "warehouse.orders"
    )
    assert baton.json("assets", "lineage", "marts.sales", *viewer) == baton.json(
        "assets", "lineage", "marts.sales"
    )
    out = baton("assets", "show", "no.such", *viewer, check=2)
    assert "no asset 'no.such'" in out.stderr and "Traceback" not in out.stderr
    refused = baton("assets", "report", "raw.events", *viewer, check=2)
    assert "needs 'operator'" in refused.stderr
    m = baton.json(
        "assets", "report", "raw.events", "--metadata", "rows=1", *server.flags("operator")
    )
    assert (m["reported_by"], m["metadata"]) == ("operator-user", {"rows": 1})
    # The server's scheduler fires the trigger waiting for it.
    runs = h.wait_until(
        lambda: baton.json("runs", "list", "--flow", "marts"), timeout=20, what="a marts run"
    )
    assert runs[0]["trigger"] == "asset"


LOAD = 300  # concurrent requests
BOUND = 90.0  # seconds for all of them to be answered, on a loaded 2-core machine


def test_hundreds_of_concurrent_catalog_and_lineage_reads_are_all_answered(project: Any) -> None:
    baton = project
    server = Server(baton)
    headers = {"Authorization": f"Bearer {server.tokens['viewer']}"}
    paths = [
        "/api/v1/lineage?asset=warehouse.orders&upstream=10&downstream=10",
        "/api/v1/assets?limit=500",
        "/api/v1/assets/warehouse.orders",
    ]

    async def load() -> list[int | None]:
        limits = httpx.Limits(max_connections=LOAD, max_keepalive_connections=0)
        async with httpx.AsyncClient(
            base_url=server.url, headers=headers, timeout=BOUND, limits=limits
        ) as client:

            async def one(i: int) -> int | None:
                try:
                    r = await client.get(paths[i % len(paths)])
                except httpx.HTTPError:
                    return None
                return r.status_code

            return await asyncio.gather(*(one(i) for i in range(LOAD)))

    start = time.monotonic()
    statuses = asyncio.run(load())
    took = time.monotonic() - start
    assert took < BOUND, took
    assert set(statuses) <= {200, 503}, sorted(set(map(str, statuses)))
    assert statuses.count(200) >= LOAD // 2, statuses.count(200)
    after = httpx.get(f"{server.url}{paths[0]}", headers=headers, timeout=10)
    assert after.status_code == 200


def test_hundreds_of_concurrent_reports_are_each_recorded_once(project: Any, workdir: Any) -> None:
    baton = project
    (workdir / ".baton" / "secrets.yaml").write_text(f'DB_PASSWORD: "{SECRET}"\n')
    server = Server(baton)
    headers = {"Authorization": f"Bearer {server.tokens['operator']}"}
    n = 200

    async def load() -> list[int | None]:
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
        async with httpx.AsyncClient(
            base_url=server.url, headers=headers, timeout=BOUND, limits=limits
        ) as client:

            async def one(i: int) -> int | None:
                try:
                    r = await client.post(
                        "/api/v1/assets/raw.events/materializations",
                        json={"metadata": {"i": i, "token": SECRET}},
                    )
                except httpx.HTTPError:
                    return None
                return r.status_code

            return await asyncio.gather(*(one(i) for i in range(n)))

    statuses = asyncio.run(load())
    assert set(statuses) <= {201, 503}, sorted(set(map(str, statuses)))
    assert statuses.count(201) >= n // 2, statuses.count(201)
    page = httpx.get(
        f"{server.url}/api/v1/assets/raw.events/materializations?limit=500",
        headers=headers,
        timeout=10,
    ).json()
    recorded = sorted(m["metadata"]["i"] for m in page["items"])
    assert recorded == sorted(i for i, s in enumerate(statuses) if s == 201)
    assert SECRET not in str(page)
