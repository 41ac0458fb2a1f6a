"""The flows list's tags and owner: chips per flow, `?tag=` (every one) and `?owner=`
filters kept by the search, the show switch and the pages; fast with 2,000 flows."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient

from baton.api.auth import create_token
from baton.model.spec import FlowSpec, TaskSpec
from baton.store.store import Store

TASKS = (TaskSpec(key="a", type="shell", config={"command": "true"}),)


def save(store: Store, *specs: FlowSpec) -> None:
    with store.transaction() as tx:
        for spec in specs:
            tx.save_version(spec, 1.0)


def sign_in(client: TestClient, store: Store) -> None:
    with store.transaction() as tx:
        token = create_token(tx, "viewer", "viewer")[1]
    r = client.post("/login", data={"token": token, "next": "/flows"}, follow_redirects=False)
    assert r.status_code == 303


def names(html: str) -> list[str]:
    return re.findall(r'<a class="strong" href="/flows/([^"]+)"', html)


def test_chips_filters_and_the_flow_page(client: TestClient, store: Store) -> None:
    save(
        store,
        FlowSpec(name="ledger", tags=("finance", "daily"), owner="data@example.com", tasks=TASKS),
        FlowSpec(name="payroll", tags=("finance",), owner="hr@example.com", tasks=TASKS),
        FlowSpec(name="plain", tasks=TASKS),
    )
    sign_in(client, store)
    page = client.get("/flows").text
    assert names(page) == ["ledger", "payroll", "plain"]
    assert 'href="?q=&amp;show=all&amp;tag=finance" title="Show the flows tagged finance"' in page
    assert "data@example.com</a>" in page

    picked = client.get("/flows", params={"tag": "finance"}).text
    assert names(picked) == ["ledger", "payroll"]
    assert 'data-tag-filter="finance">tag: finance ' in picked
    assert '<input type="hidden" name="tag" value="finance">' in picked  # the search keeps it
    # Another chip adds its tag to the one picked: flows having both.
    assert 'href="?q=&amp;show=all&amp;tag=finance&amp;tag=daily"' in picked
    both = client.get("/flows?tag=finance&tag=daily").text
    assert names(both) == ["ledger"]
    assert 'href="?q=&amp;show=all&amp;tag=daily" title="Stop filtering by this tag"' in both
    assert names(client.get("/flows?owner=hr@example.com&tag=finance").text) == ["payroll"]
    assert names(client.get("/flows?tag=finance&q=led").text) == ["ledger"]
    assert names(client.get("/flows?tag=finance&show=paused").text) == []
    none = client.get("/flows", params={"tag": ["x" * 500, "<b>"], "owner": "o" * 999})
    assert none.status_code == 200 and "No flow matches." in none.text
    assert "<b>" not in none.text

    flow = client.get("/flows/ledger").text
    assert '<a class="tag" href="/flows?tag=finance"' in flow
    assert 'href="/flows?owner=data%40example.com"' in flow


def test_two_thousand_flows_list_and_filter_fast(client: TestClient, store: Store) -> None:
    save(
        store,
        *(
            FlowSpec(
                name=f"flow_{i:04}",
                tags=("finance" if i % 3 == 0 else "ops", f"t{i % 7}"),
                owner=f"team{i % 5}@example.com",
                tasks=TASKS,
            )
            for i in range(2000)
        ),
    )
    sign_in(client, store)
    client.get("/flows")  # templates compiled, connections opened
    timings = {}
    queries = (
        "",
        "?tag=finance",
        "?tag=finance&tag=t6",
        "?owner=team4@example.com",
        "?tag=nowhere",
        "?tag=t1&owner=team3@example.com&after=flow_1500",
        "?tag=shell",  # in every spec's text, no flow's tag: the worst case, every row read
    )
    for query in queries:
        start = time.perf_counter()
        r = client.get("/flows" + query)
        timings[query] = time.perf_counter() - start
        assert r.status_code == 200
    print({q: round(t * 1000) for q, t in timings.items()})  # ms, for the report
    assert max(timings.values()) < 1.0, timings
    # Flows 0, 21, 42...: finance and t6 (i % 3 == 0 and i % 7 == 6 -> i % 21 == 6)
    shown = names(client.get("/flows?tag=finance&tag=t6").text)
    assert shown[:3] == ["flow_0006", "flow_0027", "flow_0048"] and len(shown) == 50
