"""The CLI against a real `baton server`: `--server URL` (or BATON_SERVER) makes `baton runs`,
`baton flows list` and `baton logs` go through the REST API, and print what they print
when they read the store themselves."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from server_kit import Server

GREET = """
name: greet
params:
  who: {type: string, required: true}
  times: {type: integer, default: 2}
tasks:
  - key: hello
    type: shell
    command: "for i in $(seq {{ params.times }}); do echo hello {{ params.who }} $i; done"
  - key: bye
    type: shell
    command: "echo bye"
    depends_on: [hello]
"""


@pytest.fixture
def server(baton: Any) -> Server:
    return Server(baton)


def ended(baton: Any, server: Server, run_id: str, h: Any) -> dict[str, Any]:
    def look() -> Any:
        run = baton.json("runs", "show", run_id, *server.flags("viewer"))
        return run["state"] in ("succeeded", "failed", "cancelled") and run

    result: dict[str, Any] = h.wait_until(look, timeout=20, what=f"run {run_id} to end")
    return result


def test_trigger_with_params_then_list_show_and_logs_through_the_server(baton, server, h):
    server.define(GREET)
    # Bad params: a 422 naming each field, and no run is created.
    r = server.call("POST", "/flows/greet/runs", "operator", json={"params": {"times": "x"}})
    assert r.status_code == 422
    assert sorted(e["loc"] for e in r.json()["detail"]) == [
        ["body", "params", "times"],
        ["body", "params", "who"],
    ]
    assert baton.json("runs", "list") == []

    run_id = server.trigger("greet", who="ann", times=3)
    done = ended(baton, server, run_id, h)
    assert done["state"] == "succeeded" and done["params"] == {"who": "ann", "times": 3}
    assert done["trigger"] == "api" and done["trigger_info"] == {"user": "operator-user"}
    other = server.trigger("greet", who="bob")
    ended(baton, server, other, h)

    # The same output as reading the store, in every form.
    remote = server.flags("viewer")
    for args in (
        ("runs", "list", "--json"),
        ("runs", "list"),
        ("runs", "list", "--flow", "greet", "--limit", "1", "--json"),
        ("runs", "list", "--state", "failed"),
        ("runs", "show", run_id, "--json"),
        ("runs", "show", run_id[:6]),
        ("flows", "list", "--json"),
        ("flows", "list"),
        ("logs", run_id),
        ("logs", run_id, "hello", "--attempt", "1"),
        ("logs", run_id, "--timestamps"),
    ):
        assert baton(*args, *remote).stdout == baton(*args).stdout, args
    assert "hello ann 3" in baton("logs", run_id, "hello", *remote).stdout
    # BATON_SERVER and BATON_TOKEN do what --server and --token do.
    env = {"BATON_SERVER": server.url, "BATON_TOKEN": server.tokens["viewer"]}
    assert baton("runs", "list", "--json", env=env).stdout == baton("runs", "list", "--json").stdout


def test_cancel_and_repair_through_the_server(baton, server, h, workdir: Path):
    server.define(
        "name: slow\ntasks:\n"
        "  - key: wait\n    type: shell\n"
        "    command: 'echo started; for i in $(seq 400); do [ -f go ] && exit 0; "
        "sleep 0.05; done; exit 1'\n"
    )
    run_id = server.trigger("slow")
    # The live log, over a real connection, while the task runs.
    url = f"{server.url}/api/v1/runs/{run_id}/logs/wait/stream"
    headers = {"Authorization": f"Bearer {server.tokens['viewer']}"}
    h.wait_until(
        lambda: httpx.get(url.removesuffix("/stream"), headers=headers).status_code == 200,
        what="the task to start",
    )
    with httpx.stream("GET", url, headers=headers, timeout=20) as r:
        lines = r.iter_lines()
        assert next(line for line in lines if line.startswith("data:")) == "data: started"
        out = baton("runs", "cancel", run_id, *server.flags())
        assert re.fullmatch(rf"run {run_id} is (cancelling|cancelled)\n", out.stdout)
        rest = list(lines)  # the stream ends when the attempt does
    assert "event: end" in rest
    assert ended(baton, server, run_id, h)["state"] == "cancelled"
    again = baton("runs", "cancel", run_id, *server.flags())  # already ended: a no-op
    assert again.stdout == f"run {run_id} is cancelled\n"

    server.define(
        "name: fragile\ntasks:\n"
        "  - {key: a, type: shell, command: 'echo a'}\n"
        "  - {key: b, type: shell, command: 'test -f ok', depends_on: [a]}\n"
    )
    failed = server.trigger("fragile")
    assert ended(baton, server, failed, h)["state"] == "failed"
    (workdir / "ok").write_text("")
    repaired = baton.json("runs", "repair", failed, *server.flags())  # waits for its end
    assert (repaired["state"], repaired["parent_run_id"]) == ("succeeded", failed)
    assert [(t["key"], t["attempts"]) for t in repaired["tasks"]] == [("a", 0), ("b", 1)]
    assert baton.json("runs", "show", failed)["state"] == "failed"  # history stays
    out = baton("runs", "resume", failed, *server.flags(), check=2)
    assert "already ended failed: nothing to resume" in out.stderr


def test_errors_name_the_problem_and_change_nothing(baton, server):
    server.define(GREET)
    out = baton("runs", "cancel", "nope", *server.flags(), check=2)
    assert out.stderr == "error: no run 'nope'; `baton runs list` shows the runs\n"
    out = baton("runs", "list", "--server", server.url, check=2)
    assert "valid API token is required" in out.stderr and "--token" in out.stderr
    out = baton("runs", "list", "--server", server.url, "--token", "baton_x_y", check=2)
    assert "valid API token" in out.stderr
    run_id = server.trigger("greet", who="x")
    out = baton("runs", "cancel", run_id, *server.flags("viewer"), check=2)
    assert "role 'viewer' may not do this" in out.stderr
    out = baton("runs", "list", "--server", "127.0.0.1:1", check=2)
    assert "expected a URL such as http://" in out.stderr
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    out = baton("runs", "list", "--server", f"http://127.0.0.1:{port}", check=1)
    assert out.stderr.startswith(f"error: cannot reach the baton server at http://127.0.0.1:{port}")
    for proc in (out,):
        assert "Traceback" not in proc.stderr
    assert [r["id"] for r in json.loads(baton("runs", "list", "--json").stdout)] == [run_id]


def test_the_server_keeps_what_it_loaded_out_of_the_collector(server):
    # A full collection over the ~150,000 objects a server loads took ~80 ms in the middle of
    # a request (the p95 of a 1,000-task flow's page); frozen at start, they cost it nothing.
    r = httpx.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {server.tokens['viewer']}"}
    )
    assert r.status_code == 200, r.text
    frozen = re.search(r"^python_gc_objects_frozen (\d+)$", r.text, re.M)
    assert frozen and int(frozen.group(1)) > 50_000, r.text[-500:]
    assert re.search(r'^python_gc_collections_total\{generation="2"\} \d+$', r.text, re.M)
