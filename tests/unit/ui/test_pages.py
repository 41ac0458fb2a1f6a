"""The UI's pages over a SQLite store, without a browser: sign-in, what each role is offered,
what each page shows, errors as pages, secrets masked. (tests/e2e drives a real browser.)"""

from __future__ import annotations

import re
import time

import pytest

from baton.api.auth import create_token
from baton.engine.planner import Outcome
from baton.engine.service import Engine
from baton.model.spec import FlowSpec, ParamSpec, TaskSpec
from baton.model.states import AttemptState, ErrorKind
from baton.store.store import Store
from engine_kit import outcome_of
from ui_kit import sign_in

SECRET = "hunter2-very-secret"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret the pages must mask wherever it shows up."""
    monkeypatch.setenv("BATON_SECRET_PASSWORD", SECRET)


SPEC = FlowSpec(
    name="etl",
    description="extract, split, load",
    params={"day": ParamSpec(type="string", default="2024-01-01"), "n": ParamSpec(type="integer")},
    tasks=(
        TaskSpec(key="extract", type="shell", config={"command": "echo"}),
        TaskSpec(key="split", type="python", config={}, depends_on=("extract",)),
        TaskSpec(key="each", type="python", config={}, depends_on=("split",), map_over="split"),
        TaskSpec(key="load", type="sql", config={"sql": "select 1"}, depends_on=("each",)),
    ),
    schedule="0 6 * * *",
)


def failed_run(store: Store) -> str:
    """A run of SPEC: extract succeeds, split returns [1, 2], each[0] succeeds, each[1] fails
    (quoting a secret), load is upstream_failed."""
    engine = Engine(store)
    run_id = engine.create_run(engine.register(SPEC), {"day": SECRET, "n": 3})
    outcomes: list[Outcome] = []
    for _ in range(10):
        claimed = engine.claim(worker_id="w", queues=[], limit=10, lease=60, outcomes=outcomes)
        if not claimed:
            break
        now = time.time()
        outcomes = []
        for c in claimed:
            fail = c.task_key == "each" and c.map_index == 1
            outcomes.append(
                outcome_of(
                    c,
                    AttemptState.FAILED if fail else AttemptState.SUCCEEDED,
                    at=now,
                    result=None if fail else ("[1, 2]" if c.task_key == "split" else '"ok"'),
                    result_len=2 if c.task_key == "split" else None,
                    error=f"could not log in with {SECRET}" if fail else None,
                    error_kind=ErrorKind.USER if fail else None,
                    traceback="Traceback (most recent call last):\n  boom" if fail else None,
                )
            )
    engine.complete(outcomes)
    assert store.read().run(run_id).state == "failed"
    return run_id


def test_pages_send_strangers_to_sign_in_and_back(client, store):
    r = client.get("/flows/etl?run=x", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/flows/etl%3Frun%3Dx"
    r = client.post("/login", data={"token": "baton_x_y", "next": "/flows"})
    assert r.status_code == 401 and "not valid" in r.text
    assert "baton_token" not in r.headers.get("set-cookie", "")
    with store.transaction() as tx:
        token = create_token(tx, "ann", "viewer")[1]
    for target, landing in (
        ("/runs", "/runs"),
        ("https://evil.example/", "/flows"),
        ("//x", "/flows"),
    ):
        r = client.post("/login", data={"token": token, "next": target}, follow_redirects=False)
        assert r.headers["location"] == landing
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/flows").status_code == 200
    client.post("/logout")
    assert client.get("/flows", follow_redirects=False).status_code == 303


def test_a_viewer_is_offered_no_action_and_no_audit_log(client, store):
    run_id = failed_run(store)
    with store.transaction() as tx:
        tx.mark_deployed("etl", time.time())
    sign_in(client, store, "viewer")
    flows = client.get("/flows").text
    assert "etl" in flows and "data-pause" not in flows and "/audit" not in flows
    assert "Trigger run" not in client.get("/flows/etl").text
    assert "data-action" not in client.get(f"/runs/{run_id}").text
    assert "data-action" not in client.get(f"/runs/{run_id}/tasks/each.1").text
    r = client.get("/audit")
    assert r.status_code == 403 and "needs the admin role" in r.text


def test_an_operator_is_offered_the_actions_of_the_state_the_run_is_in(client, store):
    run_id = failed_run(store)
    sign_in(client, store, "operator")
    page = client.get(f"/runs/{run_id}").text
    assert re.search(r'data-action="repair"[^>]*>', page).group(0).count("hidden") == 0
    assert re.search(r'data-action="cancel"[^>]*>', page).group(0).count("hidden") == 1
    assert 'data-action="retry"' in client.get(f"/runs/{run_id}/tasks/each.1").text
    assert 'data-action="retry"' not in client.get(f"/runs/{run_id}/tasks/extract").text
    assert client.get("/audit").status_code == 403


def test_a_run_page_shows_its_tasks_graph_and_links(client, store):
    run_id = failed_run(store)
    sign_in(client, store, "admin")
    page = client.get(f"/runs/{run_id}").text
    assert "<title>etl · run " in page
    for name in ("extract", "split", "each.0", "each.1", "load"):
        assert f'data-name="{name}"' in page
    assert "Upstream failed" in page and "could not log in with ***" in page
    assert SECRET not in page  # params and errors are masked
    assert client.get(f"/runs/{run_id}?state=failed").text.count("data-name=") == 1
    assert client.get(f"/runs/{run_id[:6]}", follow_redirects=False).headers["location"] == (
        f"/runs/{run_id}"
    )
    repair = Engine(store).repair(run_id)
    child = client.get(f"/runs/{repair}").text
    assert f'href="/runs/{run_id}"' in child and "Repair of" in child
    assert f'href="/runs/{repair}"' in client.get(f"/runs/{run_id}").text


def test_a_task_page_shows_its_error_traceback_result_and_neighbours(client, store):
    run_id = failed_run(store)
    sign_in(client, store, "viewer")
    page = client.get(f"/runs/{run_id}/tasks/each.1").text
    assert "could not log in with ***" in page and SECRET not in page
    assert "Traceback (most recent call last)" in page
    assert f'href="/runs/{run_id}/tasks/each.0"' in page  # its sibling mapped runs
    assert "upstream_failed" in page  # load, downstream
    assert "&#34;ok&#34;" in client.get(f"/runs/{run_id}/tasks/each.0").text  # the result
    # A mapped task's key alone opens its first run; a key or run that does not exist: 404.
    r = client.get(f"/runs/{run_id}/tasks/each", follow_redirects=False)
    assert r.headers["location"] == f"/runs/{run_id}/tasks/each.0"
    assert client.get(f"/runs/{run_id}/tasks/nope").status_code == 404
    assert client.get("/runs/0000/tasks/each").status_code == 404


def test_the_flow_page_has_its_graph_grid_form_and_versions(client, store):
    run_id = failed_run(store)
    sign_in(client, store, "operator")
    page = client.get("/flows/etl").text
    assert '"nodes":[["extract"' in page.replace(" ", "")
    assert f'href="/runs/{run_id}/tasks/each"' in page  # a grid cell opens its task run
    assert 'name="day" value="2024-01-01"' in page and 'name="n"' in page
    assert "0 6 * * *" in page and "1 version" in page
    new = Engine(store).register(
        FlowSpec(name="etl", tasks=(TaskSpec(key="only", type="shell", config={}),))
    )
    page = client.get(f"/flows/etl?version={run_id}").text  # an unknown version: the run's
    assert '"extract"' in page
    assert '"only"' in client.get(f"/flows/etl?version={new}").text
    assert client.get("/flows/nope").status_code == 404


def test_the_flows_page_searches_and_filters(client, store):
    engine = Engine(store)
    for name in ("alpha", "beta", "gamma"):
        engine.register(FlowSpec(name=name, tasks=(TaskSpec(key="t", type="shell"),)))
    with store.transaction() as tx:
        tx.set_paused("beta", True)
    sign_in(client, store, "viewer")
    names = lambda text: re.findall(r'class="strong" href="/flows/(\w+)"', text)  # noqa: E731
    assert names(client.get("/flows").text) == ["alpha", "beta", "gamma"]
    assert names(client.get("/flows?q=MM").text) == ["gamma"]
    assert names(client.get("/flows?show=paused").text) == ["beta"]
    assert names(client.get("/flows?show=active&after=alpha").text) == ["gamma"]
    assert "No flow matches" in client.get("/flows?q=zzz").text


def test_the_workers_and_audit_pages(client, store):
    run_id = failed_run(store)
    sign_in(client, store, "admin")
    page = client.get("/workers").text
    assert "No worker is running" in page and "Nothing queued or running" in page
    client.post(f"/api/v1/runs/{run_id}/cancel", headers={"X-Baton-UI": "1"})
    assert "runs.cancel" in client.get("/audit").text


def test_forms_from_another_site_and_odd_query_strings_are_refused_politely(client, store):
    with store.transaction() as tx:
        token = create_token(tx, "ann", "viewer")[1]
    r = client.post("/login", data={"token": token}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "baton_token" not in r.headers.get("set-cookie", "")
    assert client.post("/logout", headers={"Origin": "https://evil.example"}).status_code == 403
    run_id = failed_run(store)
    sign_in(client, store, "viewer")
    for path in (
        f"/runs/{run_id}?page=abc",
        f"/runs/{run_id}/tasks/each.1?attempt=-1",
        "/flows/etl?rows=x&before=nope",
        "/audit?before=x",
    ):
        r = client.get(path)
        assert r.status_code in (200, 403), path
        assert r.headers["content-type"].startswith("text/html"), path
    csp = client.get("/flows").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
