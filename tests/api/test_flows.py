"""Flow routes: define from YAML, list and inspect, pause, delete, trigger runs."""

from __future__ import annotations

import json

from baton.engine.service import Engine
from baton.model import yaml_spec

YAML = {"Content-Type": "application/yaml"}

DAILY = """
name: daily
description: a daily report
schedule: "0 6 * * *"
params:
  n: {type: integer, default: 2, description: how many}
  label: hello
tasks:
  - key: extract
    type: shell
    command: "echo extract {{ params.n }}"
  - key: report
    type: shell
    command: "echo report {{ params.label }}"
    depends_on: [extract]
    trigger_rule: all_done
"""

NEEDS = """
name: needs
params:
  n: {type: integer, required: true}
  flag: {type: boolean, default: false}
tasks:
  - {key: a, type: shell, command: "echo n={{ params.n }}"}
"""


def shell_flow(name: str, command: str = "true") -> str:
    return f"name: {name}\ntasks:\n  - {{key: a, type: shell, command: '{command}'}}\n"


def test_define_a_flow_then_change_it(client_for, store):
    editor = client_for("editor")
    r = editor.post("/api/v1/flows", content=DAILY, headers=YAML)
    assert r.status_code == 201, r.text
    flow = r.json()
    assert (flow["name"], flow["description"], flow["deployed"], flow["paused"]) == (
        "daily",
        "a daily report",
        True,
        False,
    )
    assert flow["schedule"] == "0 6 * * *"
    assert flow["next_run_at"].endswith("T06:00:00.000000Z")
    assert flow["params"] == {
        "n": {
            "type": "integer",
            "default": 2,
            "required": False,
            "description": "how many",
            "items": None,
        },
        "label": {
            "type": "string",
            "default": "hello",
            "required": False,
            "description": None,
            "items": None,
        },
    }
    assert flow["dag"] == {
        "nodes": [
            {
                "key": "extract",
                "type": "shell",
                "depends_on": [],
                "trigger_rule": "all_success",
                "map_over": None,
            },
            {
                "key": "report",
                "type": "shell",
                "depends_on": ["extract"],
                "trigger_rule": "all_done",
                "map_over": None,
            },
        ],
        "edges": [["extract", "report"]],
    }
    assert flow["spec"] == json.loads(yaml_spec.load_yaml_flow(DAILY, file="x").to_json())
    assert [v["id"] for v in flow["versions"]] == [flow["latest_version"]]
    assert flow["last_run"] is None

    # The same definition again: nothing new. A changed one: a new version, newest first.
    again = editor.post("/api/v1/flows", content=DAILY, headers=YAML)
    assert again.status_code == 200 and again.json()["versions"] == flow["versions"]
    changed = DAILY.replace("echo report", "echo the report")
    r = editor.put("/api/v1/flows/daily", content=changed, headers={"Content-Type": "text/yaml"})
    assert r.status_code == 200
    assert r.json()["latest_version"] != flow["latest_version"]
    assert [v["id"] for v in r.json()["versions"]] == [
        r.json()["latest_version"],
        flow["latest_version"],
    ]
    assert editor.get("/api/v1/flows/daily").json() == r.json()
    # Deployed as `baton deploy` would: the scheduler sees it.
    assert [s.name for s in store.read().deployed_specs()] == ["daily"]

    audit = client_for("admin").get("/api/v1/audit").json()["items"]
    assert [(e["action"], e["object_id"], e["status"]) for e in audit] == [
        ("flows.update", "daily", 200),
        ("flows.create", "daily", 200),
        ("flows.create", "daily", 201),
    ]


def test_bad_definitions_are_refused_and_change_nothing(client_for, store):
    editor = client_for("editor")

    def post(text: str, content_type: str = "application/yaml") -> tuple[int, str]:
        r = editor.post("/api/v1/flows", content=text, headers={"Content-Type": content_type})
        return r.status_code, r.json()["detail"]

    status, detail = post("name: py\ntasks:\n  - {key: f, type: python, function: 'lib:f'}\n")
    assert status == 422
    assert "flow 'py', task 'f'" in detail and "baton deploy" in detail
    status, detail = post("name: ps\ntasks:\n  - {key: s, type: sensor, python: 'lib:ready'}\n")
    assert status == 422 and "task 's'" in detail and "Python code" in detail
    status, detail = post("name: bad\ntasks:\n  - {key: a, type: shell, command: [\n")
    assert status == 422 and detail.startswith("request body:") and "invalid YAML" in detail
    status, detail = post(
        "name: cyc\ntasks:\n  - {key: a, type: shell, command: x, depends_on: [a]}\n"
    )
    assert status == 422 and "depends on itself" in detail
    status, detail = post("name: sh\ntasks:\n  - {key: a, type: shell}\n")
    assert status == 422 and "command" in detail
    status, detail = post(
        "name: trig\ntriggers: [{flow: nowhere}]\ntasks:\n  - {key: a, type: shell, command: x}\n"
    )
    assert status == 422 and "'nowhere'" in detail
    status, detail = post(shell_flow("ok"), "application/json")
    assert status == 415 and "application/yaml" in detail
    status, detail = post("x" * (1 << 20 + 1))
    assert status == 413
    r = editor.put("/api/v1/flows/other", content=shell_flow("ok"), headers=YAML)
    assert r.status_code == 422 and "defines flow 'ok', not 'other'" in r.json()["detail"]

    assert editor.get("/api/v1/flows").json() == {"items": [], "next_cursor": None}
    assert store.read().flow_rows() == []


def test_list_search_filter_and_pages(client_for, define, store):
    for name in ("alpha", "beta", "Gamma_1", "gamma_2", "delta"):
        define(shell_flow(name))
    viewer = client_for("viewer")
    client_for("operator").post("/api/v1/flows/delta/pause")

    def names(**query) -> list[str]:
        return [f["name"] for f in viewer.get("/api/v1/flows", params=query).json()["items"]]

    assert names() == ["Gamma_1", "alpha", "beta", "delta", "gamma_2"]
    assert names(search="gamma") == ["Gamma_1", "gamma_2"]
    assert names(search="a_") == ["Gamma_1", "gamma_2"]  # `_` is no wildcard
    assert names(search="%") == []
    assert names(paused="true") == ["delta"]
    assert names(paused="false", search="ta") == ["beta"]

    seen, cursor = [], None
    while True:
        page = viewer.get("/api/v1/flows", params={"limit": 2, "cursor": cursor}).json()
        assert len(page["items"]) <= 2
        seen += [f["name"] for f in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names()

    r = viewer.get("/api/v1/flows", params={"cursor": "not-a-cursor"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "cursor"]
    r = viewer.get("/api/v1/flows", params={"limit": 501})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "limit"]


def test_list_shows_last_and_recent_runs(client_for, define, store):
    define(shell_flow("busy"))
    define(shell_flow("idle"))
    operator = client_for("operator")
    ids = [operator.post("/api/v1/flows/busy/runs", json={}).json()["id"] for _ in range(23)]
    items = {f["name"]: f for f in client_for("viewer").get("/api/v1/flows").json()["items"]}
    busy = items["busy"]
    assert [r["id"] for r in busy["recent_runs"]] == ids[::-1][:20]  # newest first
    assert busy["last_run"] == busy["recent_runs"][0]
    assert busy["last_run"]["state"] == "queued"
    assert (items["idle"]["last_run"], items["idle"]["recent_runs"]) == (None, [])


def test_pause_unpause_and_delete(client_for, define, store):
    define(DAILY)
    operator, editor = client_for("operator"), client_for("editor")
    r = operator.post("/api/v1/flows/daily/pause")
    assert r.status_code == 200 and r.json()["paused"] is True
    assert r.json()["next_run_at"] is None
    r = operator.post("/api/v1/flows/daily/unpause")
    assert r.json()["paused"] is False and r.json()["next_run_at"]
    for path in ("/api/v1/flows/nope/pause", "/api/v1/flows/nope/unpause"):
        r = operator.post(path)
        assert r.status_code == 404 and r.json()["detail"].startswith("no flow 'nope'")
    assert operator.delete("/api/v1/flows/daily").status_code == 403

    run = operator.post("/api/v1/flows/daily/runs", json={}).json()
    assert editor.delete("/api/v1/flows/daily").status_code == 204
    assert editor.get("/api/v1/flows/daily").status_code == 404
    assert editor.delete("/api/v1/flows/daily").status_code == 404
    assert store.read().deployed_specs() == []
    # Its runs are history: they stay, and can still be read.
    assert editor.get(f"/api/v1/runs/{run['id']}").json()["flow"] == "daily"


def test_trigger_checks_params_and_names_each_bad_one(client_for, define, store):
    define(NEEDS)
    operator = client_for("operator", "olga")

    def trigger(body: object) -> tuple[int, object]:
        r = operator.post("/api/v1/flows/needs/runs", json=body)
        return r.status_code, r.json()

    status, out = trigger({"params": {"n": "many", "flag": True, "extra": 1}})
    assert status == 422
    assert sorted((e["loc"][-1], e["type"]) for e in out["detail"]) == [
        ("extra", "extra_forbidden"),
        ("n", "value_error"),
    ]
    assert all(e["loc"][:2] == ["body", "params"] for e in out["detail"])
    assert "expects an integer" in next(e for e in out["detail"] if e["loc"][-1] == "n")["msg"]
    status, out = trigger({})
    assert status == 422 and out["detail"][0]["loc"] == ["body", "params", "n"]
    assert out["detail"][0]["type"] == "missing"
    status, out = trigger({"params": {"n": 1}, "other": 2})
    assert status == 422 and out["detail"][0]["loc"] == ["body", "other"]
    status, out = trigger({"params": [1]})
    assert status == 422 and out["detail"][0]["loc"] == ["body", "params"]
    assert store.read().runs() == []  # nothing was created
    r = operator.post("/api/v1/flows/ghost/runs", json={})
    assert r.status_code == 404

    status, run = trigger({"params": {"n": "5"}})  # strings are parsed as the CLI does
    assert status == 201
    assert (run["flow"], run["state"], run["trigger"]) == ("needs", "queued", "api")
    assert run["params"] == {"n": 5, "flag": False}
    assert run["trigger_info"] == {"user": "olga"}
    assert [(t["key"], t["state"], t["type"]) for t in run["tasks"]] == [("a", "queued", "shell")]
    assert client_for("viewer").post("/api/v1/flows/needs/runs", json={}).status_code == 403


def test_trigger_takes_a_logical_date_and_a_note(client_for, define, store):
    define(shell_flow("dated"))
    operator = client_for("operator", "olga")
    r = operator.post(
        "/api/v1/flows/dated/runs",
        json={"logical_date": "2024-06-01T02:00:00+02:00", "note": "backfilling June"},
    )
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["logical_date"] == "2024-06-01T00:00:00.000000Z"
    assert run["trigger_info"] == {"user": "olga", "note": "backfilling June"}
    # No zone: UTC. One run per flow and logical date.
    naive = operator.post("/api/v1/flows/dated/runs", json={"logical_date": "2024-06-01T00:00"})
    assert naive.status_code == 409, naive.text
    for body, field in [
        ({"logical_date": "yesterday"}, "logical_date"),
        ({"logical_date": 10**30}, "logical_date"),
        ({"note": "x" * 2001}, "note"),
        ({"note": 5}, "note"),
    ]:
        bad = operator.post("/api/v1/flows/dated/runs", json=body)
        assert bad.status_code == 422, (body, bad.text)
        assert bad.json()["detail"][0]["loc"] == ["body", field]
    assert len(store.read().runs()) == 1


def test_a_triggered_run_runs_on_the_servers_worker(
    client_for, define, worker, settings, wait_until
):
    define(NEEDS)
    run = client_for("operator").post("/api/v1/flows/needs/runs", json={"params": {"n": 7}})
    worker.wake()
    viewer = client_for("viewer")
    done = wait_until(
        lambda: (
            (r := viewer.get(f"/api/v1/runs/{run.json()['id']}").json())["state"] == "succeeded"
            and r
        ),
        timeout=20,
        what="the run to succeed",
    )
    log = viewer.get(f"/api/v1/runs/{done['id']}/logs/a").json()
    assert log["text"] == "n=7\n" and log["complete"] is True


def test_a_flow_run_by_hand_is_listed_not_deployed(client_for, store):
    spec = yaml_spec.load_yaml_flow(shell_flow("adhoc"), file="adhoc.yaml")
    engine = Engine(store)
    engine.create_run(engine.register(spec), {})
    [flow] = client_for("viewer").get("/api/v1/flows").json()["items"]
    assert (flow["name"], flow["deployed"], flow["next_run_at"]) == ("adhoc", False, None)
    assert flow["last_run"]["state"] == "queued"
