"""Browser tests: a real `baton server` subprocess driven by the distribution's headless
Chromium (/usr/bin/chromium, through Playwright; never a downloaded browser).

Screenshots of every page go to tests/e2e/artifacts/ (not committed): look at them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

BATON = shutil.which("baton") or str(Path(sys.executable).parent / "baton")
CHROMIUM = os.environ.get("BATON_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
START_TIMEOUT = 20  # seconds for a server to say where it listens


@dataclass
class Server:
    """A `baton server` (or `baton ui`) process serving one temp directory's store."""

    url: str
    home: Path
    cwd: Path
    proc: subprocess.Popen[str]
    reader: threading.Thread
    lines: list[str] = field(default_factory=list)

    def token(self, user: str, role: str) -> str:
        out = subprocess.run(
            [BATON, "tokens", "create", "--user", user, "--role", role, "--json"],
            cwd=self.cwd,
            env=env_for(self.home),
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return str(json.loads(out.stdout)["token"])


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return {**env, "BATON_HOME": str(home), "BATON_PORT": "0", "PYTHONUNBUFFERED": "1"}


def start(cwd: Path, *args: str) -> Server:
    """Start `baton ARGS` in `cwd` and wait for the line naming its URL."""
    home = cwd / ".baton"
    proc = subprocess.Popen(
        [BATON, *args],
        cwd=cwd,
        env=env_for(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    url: list[str] = []
    ready = threading.Event()

    def read() -> None:  # all along: a server must never block on a full stderr pipe
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            found = re.search(r"serving (http://[\d.]+:\d+)/", line)
            if found and not url:
                url.append(found.group(1))
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    started = ready.wait(START_TIMEOUT)
    server = Server(url[0] if url else "", home, cwd, proc, reader, lines)
    if not started or not url:
        stop(server)
        pytest.fail(f"baton {' '.join(args)} did not start:\n{''.join(lines)}")
    return server


def stop(server: Server) -> None:
    proc = server.proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    server.reader.join(timeout=10)  # it reads to the end of stderr, then the pipe can close
    if proc.stderr is not None:
        proc.stderr.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: `apt-get install chromium` (the browser tests drive the "
        "distribution's Chromium, never a downloaded one)"
    )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 960})
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield p
    finally:
        context.close()
    assert not errors, f"the pages' scripts failed: {errors}"


@pytest.fixture
def shot() -> object:
    """`shot(page, name)`: save a full-page screenshot as artifacts/NAME.png."""
    ARTIFACTS.mkdir(exist_ok=True)

    def save(p: Page, name: str, *, full_page: bool = True) -> None:
        p.bring_to_front()  # a background tab is not painted, so not shot
        p.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)

    return save


@pytest.fixture
def launch() -> Iterator[Callable[..., Server]]:
    """`launch(cwd, ARGS...)`: a started `baton ARGS` process, stopped after the test."""
    started: list[Server] = []

    def _launch(cwd: Path, *args: str) -> Server:
        started.append(start(cwd, *args))
        return started[-1]

    yield _launch
    for s in started:
        stop(s)


# The flow the browser tests work on: a slow task to watch, a check that fails until a file
# exists (so a test can fix the cause and repair), and typed params for the trigger form.
FLOW = """
name: orders_daily
description: Load the day's orders into the warehouse and report on them.
schedule: "0 6 * * *"
params:
  day: {{type: string, default: "2024-06-01", description: "the day to load (YYYY-MM-DD)"}}
  limit: {{type: integer, default: 100, description: "at most this many orders"}}
  dry_run: {{type: boolean, default: false}}
tasks:
  - key: extract_orders
    type: shell
    command: >-
      for i in $(seq 10); do echo extracted batch $i of {{{{ params.day }}}}; sleep 0.4; done
  - key: extract_customers
    type: shell
    command: "echo customers"
  - key: transform
    type: shell
    command: "echo transforming {{{{ params.limit }}}} orders"
    depends_on: [extract_orders, extract_customers]
  - key: quality_check
    type: shell
    command: >-
      test -f {flag} || {{ echo 'ready.flag is missing: the export did not finish' >&2; exit 3; }}
    depends_on: [transform]
  - key: load
    type: shell
    command: "echo loading"
    depends_on: [quality_check]
  - key: report
    type: shell
    command: "echo report"
    depends_on: [load]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    cwd = tmp_path_factory.mktemp("ui")
    (cwd / "flows").mkdir()
    (cwd / "flows" / "orders.yaml").write_text(
        textwrap.dedent(FLOW.format(flag=cwd / "ready.flag")).lstrip()
    )
    subprocess.run(
        [BATON, "deploy", "flows"],
        cwd=cwd,
        env=env_for(cwd / ".baton"),
        check=True,
        capture_output=True,
        timeout=30,
    )
    s = start(cwd, "server", "--path", str(cwd))
    try:
        yield s
    finally:
        stop(s)
