"""No container outlives its attempt: a killed worker's watchdog removes it, whoever finds
the attempt lost sweeps it, and a worker that starts sweeps what dead workers left.

A real Docker engine (tests/docker_kit.py) and real `baton` processes killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import docker_kit

BATON = shutil.which("baton") or str(Path(sys.executable).parent / "baton")

SLEEPER = f"""
name: sleeper
tasks:
  - key: sleep
    type: container
    image: {docker_kit.IMAGE}
    pull: never
    network: none
    command: [sleep, "300"]
"""

QUICK = """
name: quick
tasks:
  - key: done
    type: shell
    command: "true"
"""


@pytest.fixture(scope="session")
def docker_host() -> str:
    return docker_kit.engine()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, workdir: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{workdir / '.baton' / 'baton.db'}"
    return str(request.getfixturevalue("pg_url"))


def orphan(attempt_id: str, run_id: str) -> Any:
    """A running container labelled as this attempt's, as a dead worker would leave it."""
    with contextlib.closing(docker_kit.client()) as c:
        return c.containers.run(
            docker_kit.IMAGE,
            ["sleep", "300"],
            detach=True,
            network_mode="none",
            labels={"baton.attempt": attempt_id, "baton.run": run_id},
        )


def test_a_starting_worker_removes_containers_of_ended_attempts_only(
    baton, write, h, docker_host: str, store_url: str, sql
):
    baton.env["DOCKER_HOST"] = docker_host
    write("quick.yaml", QUICK)
    if store_url.startswith("postgresql"):
        baton.env["BATON_DATABASE_URL"] = store_url
        first = baton.start("worker", "--name", "first")
        run = baton.run("quick.yaml", "--wait")
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0
    else:
        run = baton.run("quick.yaml")  # embedded: no worker starts, nothing is swept
    assert run["state"] == "succeeded"
    (ended,) = sql(store_url, "SELECT id FROM attempts")
    ended_id = ended["id"]
    of_ended = orphan(ended_id, run["id"])
    foreign = orphan(f"not-baton-{uuid.uuid4().hex}", "another-installation")
    try:
        assert {of_ended.id, foreign.id} <= {c.id for c in docker_kit.running(run["id"])} | {
            c.id for c in docker_kit.running("another-installation")
        }
        baton.start("worker", "--name", "sweeper")
        h.wait_until(
            lambda: not docker_kit.containers(**{"baton.attempt": ended_id}),
            what="the container of the ended attempt to be removed",
        )
        # The store does not know this attempt: another installation's, left alone.
        assert [c.id for c in docker_kit.running("another-installation")] == [foreign.id]
    finally:
        with contextlib.suppress(Exception):
            foreign.remove(force=True)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (its watchdog, for a worker)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(proc.name))
    return found


def run_id_when_running(baton: Any, h: Any) -> str:
    runs = h.wait_until(lambda: baton.json("runs", "list"), what="the run to exist")
    rid = str(runs[0]["id"])
    h.wait_until(lambda: docker_kit.running(rid), what="the container to run")
    return rid


def test_a_killed_baton_run_leaves_no_container(baton, write, h, docker_host: str, workdir):
    # SQLite: `baton run` is the worker; its watchdog removes the container it recorded.
    baton.env["DOCKER_HOST"] = docker_host
    proc = baton.start("run", write("sleeper.yaml", SLEEPER))
    rid = run_id_when_running(baton, h)
    proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    proc.wait(timeout=10)
    h.wait_until(lambda: not docker_kit.containers(**{"baton.run": rid}), timeout=10)
    print(f"killed baton run -> its container gone: {time.monotonic() - killed:.3f}s")
    assert list((workdir / ".baton" / "work" / "containers").iterdir()) == []


@pytest.mark.postgres
def test_a_worker_killed_with_its_watchdog_leaves_no_container_past_its_lease(
    baton, write, h, docker_host: str, pg_url: str, sql
):
    """The worker runs as another host (a UTS namespace of its own): once it and its
    watchdog are killed, nothing on its host is left to act and the server cannot see its
    processes. When the lease expires the server fails the attempt as lost and sweeps the
    engine: the container, labelled with an attempt now ended, goes."""
    lease = 3.0
    baton.env |= {
        "DOCKER_HOST": docker_host,
        "BATON_DATABASE_URL": pg_url,
        "BATON_HEARTBEAT_SECONDS": "0.3",
        "BATON_LEASE_SECONDS": str(lease),
    }
    write("sleeper.yaml", SLEEPER)
    baton("deploy", ".")
    baton.start("server")
    worker = subprocess.Popen(
        ["unshare", "--uts", "sh", "-c", 'hostname host-a && exec "$0" "$@"', BATON, "worker"],
        cwd=baton.cwd,
        env=baton.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    baton.procs.append(worker)
    baton.run("sleeper.yaml")
    rid = run_id_when_running(baton, h)
    (watchdog,) = children(worker.pid)
    for pid in (watchdog, worker.pid):
        subprocess.run(["kill", "-KILL", str(pid)], check=True)
    killed = time.monotonic()
    worker.wait(timeout=10)
    assert docker_kit.running(rid)  # nobody on its host removed it
    h.wait_until(
        lambda: not docker_kit.containers(**{"baton.run": rid}),
        timeout=lease + 10,
        what="the lost attempt's container to be swept",
    )
    gone = time.monotonic() - killed
    print(f"killed worker and watchdog -> its container gone: {gone:.3f}s (lease {lease}s)")
    assert gone < lease + 5  # the lease, then a turn of the server's timers
    (attempt,) = sql(pg_url, "SELECT state, error_kind FROM attempts")
    assert (attempt["state"], attempt["error_kind"]) == ("failed", "lost")


@pytest.mark.postgres
def test_a_worker_cut_off_from_its_store_removes_its_container_before_its_lease_ends(
    baton, write, h, docker_host: str, pg_url: str, sql, proxy
):
    """The worker's fence stops the attempt a margin before its lease ends: the container
    is gone before the server can find the attempt lost and another worker retry it."""
    lease = 4.0
    baton.env |= {
        "DOCKER_HOST": docker_host,
        "BATON_DATABASE_URL": pg_url,
        "BATON_HEARTBEAT_SECONDS": "0.3",
        "BATON_LEASE_SECONDS": str(lease),
    }
    write("sleeper.yaml", SLEEPER)
    baton("deploy", ".")
    baton.start("server")
    proxy.start()
    worker = subprocess.Popen(
        ["unshare", "--uts", "sh", "-c", 'hostname host-a && exec "$0" "$@"', BATON, "worker"],
        cwd=baton.cwd,
        env={**baton.env, "BATON_DATABASE_URL": proxy.url(pg_url)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    baton.procs.append(worker)
    baton.run("sleeper.yaml")
    rid = run_id_when_running(baton, h)
    proxy.stop()  # every connection of the worker cut; new ones refused
    h.wait_until(
        lambda: not docker_kit.containers(**{"baton.run": rid}),
        timeout=lease * 3,
        what="the fenced attempt's container to be removed",
    )
    removed = time.time()
    (attempt,) = h.wait_until(
        lambda: (a := sql(pg_url, "SELECT * FROM attempts")) and a[0]["state"] == "failed" and a,
        what="the server to find the attempt lost",
    )
    assert attempt["error_kind"] == "lost"
    assert removed < attempt["lease_expires_at"]
    assert worker.poll() is None  # the worker itself waits for its store to come back
