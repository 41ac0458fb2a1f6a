"""The runs list page: the total, filters picked from lists (flow, state, trigger), a part
of a flow's name, date ranges, page sizes and paging from either end, bulk selection for
operators only; hostile parameters are ignored, never a 500."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from baton.api.auth import create_token
from baton.engine.service import Engine
from baton.model.spec import FlowSpec, TaskSpec
from baton.store.runs import RunQuery
from baton.store.store import Store

DAY = 86400.0
T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


def _sign_in(client: TestClient, store: Store, role: str) -> None:
    with store.transaction() as tx:
        token = create_token(tx, role, role)[1]
    r = client.post("/login", data={"token": token, "next": "/runs"}, follow_redirects=False)
    assert r.status_code == 303


def _fill(store: Store) -> None:
    clock = [T0]
    engine = Engine(store, clock=lambda: clock[0])
    for n, name in enumerate(("orders_daily", "orders_hourly", "billing")):
        spec = FlowSpec(
            name=name, tasks=(TaskSpec(key="a", type="shell", config={"command": "true"}),)
        )
        version = engine.register(spec)
        for i in range(20):
            clock[0] = T0 + i * DAY + n
            engine.create_run(
                version,
                {},
                trigger="schedule" if i % 2 else "manual",
                logical_date=T0 + i * DAY if i % 2 else None,
            )


def _ids(html: str) -> list[str]:
    return re.findall(r'data-run-row="([0-9a-f]+)"', html)


def test_filters_total_and_paging(client: TestClient, store: Store):
    _fill(store)
    _sign_in(client, store, "viewer")
    page = client.get("/runs").text
    assert "<strong>60</strong> runs" in page
    assert len(_ids(page)) == 50 and "Logical date" in page
    assert "data-select" not in page  # a viewer selects nothing to act on

    page = client.get("/runs", params={"q": "ORDERS", "trigger": "schedule"}).text
    assert "<strong>20</strong> runs match" in page
    page = client.get("/runs", params=[("flow", "billing"), ("flow", "orders_daily")]).text
    assert "<strong>40</strong> runs match" in page
    page = client.get("/runs", params={"start": "2023-11-16", "end": "2023-11-17"}).text
    assert "<strong>6</strong> runs match" in page  # created on those two days, 3 flows
    page = client.get(
        "/runs", params={"on": "logical", "start": "2023-11-15", "end": "2023-11-15"}
    ).text
    assert "<strong>3</strong> runs match" in page  # i = 1

    # 25 a page: newest, older, older (10), then from the oldest end back.
    first = client.get("/runs", params={"size": "25"}).text
    second_href = re.search(r'href="(\?[^"]*before=[0-9a-f]+)">Older', first)
    assert second_href is not None
    second = client.get("/runs" + second_href.group(1).replace("&amp;", "&")).text
    last = client.get("/runs", params={"size": "25", "last": "1"}).text
    assert len(_ids(first)) == len(_ids(second)) == 25 and len(_ids(last)) == 25
    assert not set(_ids(first)) & set(_ids(second))
    assert "Oldest ⇥" not in last and "⇤ Newest" in last
    every = _ids(client.get("/runs", params={"size": "100"}).text)
    assert _ids(last) == every[-25:]
    newer = re.search(r'href="(\?[^"]*after=[0-9a-f]+)">← Newer', last)
    assert newer is not None
    back = _ids(client.get("/runs" + newer.group(1).replace("&amp;", "&")).text)
    assert back == every[10:35]


def test_operators_select_runs_and_hostile_parameters_are_ignored(client: TestClient, store: Store):
    _fill(store)
    _sign_in(client, store, "operator")
    page = client.get("/runs").text
    assert "data-select-all" in page and "Cancel selected" in page
    for params in (
        [("flow", "x")] * 5000,
        {"start": "not-a-day", "end": "2023-99-99", "on": "sideways", "size": "7"},
        {"q": "%_\\" * 100, "before": "z" * 500, "after": "'; drop table runs"},
        {"state": "exploded", "trigger": "<script>"},
        {"last": "1", "before": "0" * 16},
    ):
        r = client.get("/runs", params=params)
        assert r.status_code == 200, (params, r.text[:300])
        assert "<script>alert" not in r.text
    assert store.read().count_runs(RunQuery()) == 60


def test_the_runs_list_of_100000_runs_answers_in_under_a_second(
    client: TestClient, store: Store, settings
):
    import sqlite3
    import time

    _fill(store)  # the flows and their versions; then 100,000 runs written straight in
    version = store.read().flow_rows(name="billing")[0].latest_version
    db = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))
    db.executemany(
        "INSERT INTO runs (id, flow_name, version_id, state, params, trigger, unfinished,"
        " created_at, started_at, ended_at) VALUES (?, ?, ?, ?, '{}', ?, 0, ?, ?, ?)",
        (
            (
                f"{i:016x}",
                ("billing", "orders_daily")[i % 2],
                version,
                ("succeeded", "failed")[i % 7 == 0],
                ("schedule", "manual")[i % 3 == 0],
                T0 + i,
                T0 + i,
                T0 + i + 5,
            )
            for i in range(100_000)
        ),
    )
    db.commit()
    db.close()
    _sign_in(client, store, "operator")
    for params in ({}, {"q": "bill", "state": "failed"}, {"last": "1", "size": "200"}):
        started = time.perf_counter()
        r = client.get("/runs", params=params)
        took = time.perf_counter() - started
        assert r.status_code == 200
        assert took < 1.0, (params, took)
        print(f"runs list, 100,060 runs, {params}: {took * 1000:.0f} ms")
    assert "100,060" in client.get("/runs").text
