"""The flows list: a flow that is not deployed says so instead of offering a pause switch
it would not honour; operators get a trigger shortcut on every row."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from baton.engine.service import Engine
from baton.model.spec import FlowSpec, TaskSpec
from baton.store.store import Store
from ui_kit import sign_in

TASKS = (TaskSpec(key="a", type="shell", config={"command": "true"}),)


def rows(html: str) -> dict[str, str]:
    body = html.split("<tbody>", 1)[1]
    return {
        m.group(1): m.group(0)
        for m in re.finditer(
            r'<tr>\s*<td class="name"><a class="strong" href="/flows/(\w+)".*?</tr>', body, re.S
        )
    }


def test_not_deployed_flows_have_no_pause_switch_and_rows_a_trigger_shortcut(
    client: TestClient, store: Store
) -> None:
    engine = Engine(store)
    engine.register(FlowSpec(name="deployed_one", schedule="0 2 * * *", tasks=TASKS))
    engine.register(FlowSpec(name="ran_only", tasks=TASKS))
    with store.transaction() as tx:
        tx.mark_deployed("deployed_one", 0)
    sign_in(client, store, "operator")
    found = rows(client.get("/flows").text)
    assert set(found) == {"deployed_one", "ran_only"}
    assert 'data-pause="deployed_one"' in found["deployed_one"]
    assert "not deployed" not in found["deployed_one"]
    assert "data-pause" not in found["ran_only"]
    assert ">not deployed</span>" in found["ran_only"]
    for name, row in found.items():
        assert f'href="/flows/{name}#trigger" data-trigger-shortcut' in row
    page = client.get("/flows/ran_only").text
    assert "data-pause" not in page and ">not deployed</span>" in page
    assert 'data-pause="deployed_one"' in client.get("/flows/deployed_one").text

    sign_in(client, store, "viewer")
    seen = rows(client.get("/flows").text)
    assert "data-trigger-shortcut" not in "".join(seen.values())
    assert ">not deployed</span>" in seen["ran_only"]
    assert ">Active</span>" in seen["deployed_one"]
