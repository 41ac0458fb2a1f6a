"""`baton server` as a process: where it listens, a port in use, a clean stop on SIGTERM."""

from __future__ import annotations

import re
import signal
import socket

import httpx


def serving_url(proc) -> str:
    """The address `baton server` says it serves, from its first line on stderr."""
    line = proc.stderr.readline()
    found = re.search(r"serving (http://\S+)/ ", line)
    assert found, line
    return found.group(1)


def test_the_server_listens_on_localhost_and_stops_cleanly_on_sigterm(baton, write, h):
    write("ok.yaml", "name: ok\ntasks: [{key: a, type: shell, command: 'echo hi'}]\n")
    token = baton("tokens", "create", "--user", "op", "--role", "operator").stdout.strip()
    baton("deploy", ".")
    server = baton.start("server")
    url = serving_url(server)
    assert url.startswith("http://127.0.0.1:")  # never every interface unless asked
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{url}/api/v1/audit").status_code == 401
    # The embedded store's server runs tasks itself: a run made through the API finishes.
    made = httpx.post(
        f"{url}/api/v1/flows/ok/runs",
        json={"params": {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert made.status_code == 201, made.text
    run_id = made.json()["id"]
    h.wait_until(
        lambda: baton.json("runs", "show", run_id)["state"] == "succeeded",
        what="the server's worker to run the triggered run",
    )
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=15) == 0
    assert "Traceback" not in server.stderr.read()


def test_a_port_in_use_is_a_clear_error(baton):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        proc = baton("server", "--port", port, check=2)
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "give another --port" in proc.stderr and "Traceback" not in proc.stderr


def test_a_bad_port_is_exit_2(baton):
    proc = baton("server", "--port", "99999", check=2)
    assert "expected a port number 0-65535" in proc.stderr and "Traceback" not in proc.stderr
    proc = baton("ui", "--port", "-1", check=2)
    assert "Traceback" not in proc.stderr
