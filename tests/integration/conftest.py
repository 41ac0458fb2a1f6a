"""Integration tests: the real `baton` command, as subprocesses, one temp directory each.

Every test runs in its own working directory with `BATON_HOME=<tmp>/.baton` (and no
`BATON_DATABASE_URL`), so tests share nothing and can run in parallel (pytest-xdist).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smtp_kit import smtp
from waiting import wait_until

__all__ = ["smtp"]  # a fixture of smtp_kit, for the tests that send mail

BATON = shutil.which("baton") or str(Path(sys.executable).parent / "baton")
TIMEOUT = 30  # seconds: an upper bound for any one command, never reached when all is well


class Baton:
    """Runs `baton` in one test's working directory and environment."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        self.env["BATON_HOME"] = str(cwd / ".baton")
        self.env["PYTHONUNBUFFERED"] = "1"
        self.env["BATON_PORT"] = "0"  # `baton server` listens on any free port
        self.prefix: list[str] = []  # what `baton` runs under (`nsenter -n` into a namespace)
        self.procs: list[subprocess.Popen[str]] = []

    def __call__(
        self,
        *args: str,
        check: int | None = 0,
        env: dict[str, str] | None = None,
        timeout: float = TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        """Run `baton ARGS` to the end; `check` is the exit code expected (None: any);
        `timeout` for what legitimately takes longer (a JVM starting on a busy machine)."""
        proc = subprocess.run(
            [*self.prefix, BATON, *args],
            cwd=self.cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check is not None:
            assert proc.returncode == check, (
                f"baton {' '.join(args)} exited {proc.returncode}, expected {check}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        return proc

    def json(self, *args: str, check: int | None = 0, timeout: float = TIMEOUT) -> Any:
        """Run a command with `--json` and parse what it printed."""
        proc = self(*args, "--json", check=check, timeout=timeout)
        try:
            return json.loads(proc.stdout)
        except json.JSONDecodeError:
            pytest.fail(f"not JSON: {proc.stdout!r}\n--- stderr\n{proc.stderr}")

    def run(self, path: str, *args: str, check: int | None = 0, timeout: float = TIMEOUT) -> Any:
        """`baton run PATH ARGS --json`: the finished run as a dict."""
        return self.json("run", path, *args, check=check, timeout=timeout)

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start `baton ARGS` in the background (killed at the end of the test if alive)."""
        proc = subprocess.Popen(
            [*self.prefix, BATON, *args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=TIMEOUT)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def baton(workdir: Path) -> Iterator[Baton]:
    b = Baton(workdir)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def write(workdir: Path) -> Callable[[str, str], str]:
    """Write a (dedented) file into the working directory; returns its name."""

    def _write(name: str, text: str) -> str:
        path = workdir / name
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return name

    return _write


@pytest.fixture
def definition_error(baton: Baton, write: Callable[[str, str], str]) -> Callable[..., str]:
    """Run a one-task YAML flow whose task has `fields` (the inside of a YAML flow mapping);
    check it is refused the way a user's mistake should be (exit 2, no traceback, the task
    named) and return stderr, for the test to look for the field it names."""

    def check(task_type: str, fields: str, key: str = "app") -> str:
        path = write(
            "bad.yaml", f"name: bad\ntasks:\n  - {{key: {key}, type: {task_type}, {fields}}}\n"
        )
        proc = baton("run", path, check=2)
        assert "Traceback" not in proc.stdout + proc.stderr
        assert f"'{key}'" in proc.stderr, proc.stderr
        return proc.stderr

    return check


def tasks_of(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A run's task runs (from `--json`) by name: the key, `key[i]` for a mapped one."""
    out: dict[str, dict[str, Any]] = {}
    for t in run["tasks"]:
        name = t["key"] if t["map_index"] is None else f"{t['key']}[{t['map_index']}]"
        assert name not in out, f"task run {name} listed twice"
        out[name] = t
    return out


def states_of(run: dict[str, Any]) -> dict[str, str]:
    return {name: t["state"] for name, t in tasks_of(run).items()}


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def pid_alive(pid: int) -> bool:
    """Whether a process exists; a zombie (killed, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Stderr:
    """A background process's stderr, read line by line as it comes (by a thread), so a
    test can `wait_until` a line shows up without blocking on the pipe."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        self.lines: list[str] = []
        self._stream = proc.stderr
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)

    def finish(self) -> list[str]:
        """Every line, once the process has exited (and closed its stderr)."""
        self._thread.join(timeout=TIMEOUT)
        return self.lines


class Helpers:
    """The helpers above, as a fixture (test modules do not import conftest)."""

    tasks = staticmethod(tasks_of)
    states = staticmethod(states_of)
    wait_until = staticmethod(wait_until)
    lines = staticmethod(lines)
    pid_alive = staticmethod(pid_alive)
    stderr = Stderr


@pytest.fixture
def h() -> type[Helpers]:
    return Helpers


class Proxy:
    """A TCP forwarder from 127.0.0.1:`port` to a database: `stop()` cuts every connection
    and closes the port, `start()` opens it again on the same port, so "the database is
    gone for N seconds" is real for whoever connects through it (a URL from `url`)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def url(self, url: str) -> str:
        """`url` (postgresql://USER@HOST:PORT/...) through this proxy."""
        scheme, rest = url.split("://", 1)
        user, _, rest = rest.rpartition("@")
        _, sep, tail = rest.partition("/")
        return f"{scheme}://{user}{'@' if user else ''}127.0.0.1:{self.port}{sep}{tail}"

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        for s in [*sockets, *([listener] if listener else [])]:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxy(pg_url: str) -> Iterator[Proxy]:
    """A stopped Proxy to this test's PostgreSQL (`start()` it); its port is free now."""
    netloc = pg_url.split("://", 1)[1].split("/", 1)[0].rpartition("@")[2]
    host, _, port = netloc.partition(":")
    p = Proxy((host or "127.0.0.1", int(port or 5432)))
    p.start()
    p.stop()  # a port that refuses connections until the test starts the proxy
    try:
        yield p
    finally:
        p.stop()
