"""Request-size limits (issue #11): a body over BATON_API_MAX_BODY is answered 413 before it
is read whole, chunked or not; an oversized param is a 422 naming it; neither stores anything.

The app is served by uvicorn over real HTTP (a thread of the test): whether a body is read
whole can only be seen on a socket, sending less than the body announced, or never ending it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from baton.api import create_app
from baton.api.auth import create_token
from baton.api.stores import StorePool
from baton.errors import InputError
from baton.settings import Settings
from baton.store.store import Store

TIMEOUT = 30.0  # seconds: an upper bound for one answer, never reached when all is well
FLOW = """
name: f
params: {note: {type: string, default: ''}}
tasks: [{key: a, type: shell, command: 'true'}]
"""


class Served:
    """`create_app(settings)` served by uvicorn on a free port, in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})
        self.thread.start()
        started = threading.Event()
        while not self.server.started and self.thread.is_alive():
            started.wait(0.02)
        assert self.server.started, "uvicorn did not start"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(TIMEOUT)
        self.sock.close()
        assert not self.thread.is_alive(), "uvicorn did not stop"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., tuple[Served, Store, dict[str, str]]]]:
    """`serve(**env)`: the app over a new SQLite store, with `BATON_*` settings from `env`;
    (the server, the store, an operator's headers). Flow `f` (one str param) is defined."""
    made: list[tuple[Served, Store]] = []

    def start(**env: str) -> tuple[Served, Store, dict[str, str]]:
        home = tmp_path / f"home{len(made)}"
        settings = Settings.from_env({"BATON_HOME": str(home), **env})
        store = Store(settings.database_url)
        with store.transaction() as tx:
            operator = create_token(tx, "op", "operator")[1]
            editor = create_token(tx, "ed", "editor")[1]
        served = Served(settings)
        made.append((served, store))
        r = httpx.post(
            f"{served.url}/api/v1/flows",
            content=FLOW,
            headers={"Authorization": f"Bearer {editor}", "Content-Type": "application/yaml"},
            timeout=TIMEOUT,
        )
        assert r.status_code == 201, r.text
        return served, store, {"Authorization": f"Bearer {operator}"}

    yield start
    for served, store in made:
        served.close()
        store.close()


def raw_answer(port: int, head: str, chunks: list[bytes]) -> bytes:
    """Send a request's head and these body bytes, never the rest (the socket stays open), and
    return the status line and headers of the answer (a timeout if there is none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(head.encode())
        for chunk in chunks:
            s.sendall(chunk)
        data = b""
        while b"\r\n\r\n" not in data:
            got = s.recv(65536)
            if not got:
                break
            data += got
        return data


def head(path: str, headers: dict[str, str], **more: str) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in (headers | more).items()]
    return "\r\n".join(lines) + "\r\n\r\n"


def runs(store: Store) -> list[object]:
    return list(store.read().runs(limit=10))


def test_a_body_announced_over_the_limit_is_413_before_it_is_sent(serve):
    served, store, op = serve(BATON_API_MAX_BODY="4096")
    # The head says 10 MB are coming; not one byte of them is sent.
    text = head("/api/v1/flows/f/runs", op, **{"Content-Length": str(10 << 20)})
    answer = raw_answer(served.port, text, [])
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    r = httpx.post(
        f"{served.url}/api/v1/flows/f/runs",
        json={"params": {"note": "x" * 5000}},
        headers=op,
        timeout=TIMEOUT,
    )
    assert r.status_code == 413
    assert r.json()["detail"] == (
        "the request body is over 4096 bytes, the server's limit (BATON_API_MAX_BODY)"
    )
    assert runs(store) == []


def test_a_chunked_body_is_cut_off_at_the_limit_not_read_whole(serve):
    served, store, op = serve(BATON_API_MAX_BODY="4096")
    # No length: 3 chunks of 2 KiB pass the limit; the body never ends, so a server that
    # waited for all of it would never answer.
    body = (b'{"params": {"note": "' + b"x" * 6144)[:6144]
    chunks = [b"800\r\n" + body[i : i + 2048] + b"\r\n" for i in range(0, 6144, 2048)]
    text = head("/api/v1/flows/f/runs", op, **{"Transfer-Encoding": "chunked"})
    answer = raw_answer(served.port, text, chunks)
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    # The same through a client streaming it; under the limit it is a run.
    whole = json.dumps({"params": {"note": "x" * 5000}}).encode()
    r = httpx.post(
        f"{served.url}/api/v1/flows/f/runs",
        content=iter([whole[:3000], whole[3000:]]),
        headers=op | {"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 413, r.text
    assert runs(store) == []
    small = json.dumps({"params": {"note": "hello"}}).encode()
    r = httpx.post(
        f"{served.url}/api/v1/flows/f/runs",
        content=iter([small[:10], small[10:]]),
        headers=op | {"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 201, r.text


def test_the_default_limit_is_1_mib_on_every_route(serve):
    assert Settings.from_env({}).api_max_body == 1 << 20
    served, store, op = serve()
    big = {"params": {"note": "x" * (20 << 20)}}  # the 20 MB param
    r = httpx.post(f"{served.url}/api/v1/flows/f/runs", json=big, headers=op, timeout=TIMEOUT)
    assert r.status_code == 413
    assert "over 1048576 bytes" in r.json()["detail"]
    # A YAML route and a UI form post are held to it too.
    r = httpx.put(
        f"{served.url}/api/v1/flows/f",
        content=b"#" * (2 << 20),
        headers=op | {"Content-Type": "application/yaml"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 413
    r = httpx.post(f"{served.url}/login", content=b"t" * (2 << 20), timeout=TIMEOUT)
    assert r.status_code == 413
    assert runs(store) == []


def test_a_bad_limit_is_a_clear_error():
    for text in ("0", "-5", "1MB", "1.5"):
        with pytest.raises(InputError, match=f"BATON_API_MAX_BODY='{text}': expected a number"):
            Settings.from_env({"BATON_API_MAX_BODY": text})
    assert Settings.from_env({"BATON_API_MAX_BODY": "65536"}).api_max_body == 65536


def test_an_oversized_param_is_422_naming_it_and_stores_nothing(serve):
    served, store, op = serve()
    url = f"{served.url}/api/v1/flows/f/runs"
    r = httpx.post(url, json={"params": {"note": "x" * (100 << 10)}}, headers=op, timeout=TIMEOUT)
    assert r.status_code == 422, r.text[:300]
    [problem] = r.json()["detail"]
    assert problem["loc"] == ["body", "params", "note"]
    assert "at most 65536 bytes" in problem["msg"]
    assert len(r.content) < 2000  # the value is not echoed back
    assert runs(store) == []
    # The refusal is audited, as a failed call, without the value; the log still works.
    [entry] = [a for a in store.read().audit(limit=10) if a["action"] == "flows.trigger"]
    assert (entry["outcome"], entry["status"]) == ("failed", 422)
    assert len(entry["detail"]) < 2000
    r = httpx.post(url, json={"params": {"note": "x" * 1000}}, headers=op, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    assert len(runs(store)) == 1


def test_a_request_that_finds_no_store_free_in_time_is_503_with_retry_after(serve):
    served, store, op = serve()
    pool = StorePool(store.url, size=1)
    pool.wait = 0.5  # seconds a request waits for the store
    served.app.state.stores = pool
    url = f"{served.url}/api/v1/runs"
    with pool.store():  # the one store is taken, and stays taken
        r = httpx.get(url, headers=op, timeout=TIMEOUT)
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "1"
        assert r.json()["detail"].startswith("the server is busy")
        assert httpx.get(f"{served.url}/healthz", timeout=TIMEOUT).status_code == 200
    assert httpx.get(url, headers=op, timeout=TIMEOUT).status_code == 200
    pool.close()
