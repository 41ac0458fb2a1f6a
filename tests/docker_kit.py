"""A real Docker engine for the container tests, and the images they run.

Debian's `dockerd` (package docker.io; `./dev test` installs it) is started, when none
answers at SOCKET yet, with a data root, exec root, pidfile and socket of its own under
ROOT: the machine's own engine, if any, is never touched. It stays up for the next tests
(xdist workers and later sessions share it; a lock file makes one of them start it). It
runs without a default bridge and without touching iptables: test containers run with
`network: none`, or on a network of the test's own.

No registry is reachable: images are built here `FROM scratch`, with Debian's static
busybox (package busybox-static) as their shell and tools, and never pulled.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from typing import Any

import docker

from waiting import wait_until

ROOT = "/tmp/baton-test-dockerd"
SOCKET = f"{ROOT}/docker.sock"
DOCKER_HOST = f"unix://{SOCKET}"
IMAGE = "baton-test-busybox:1"
BUSYBOX = "/bin/busybox"
START_TIMEOUT = 60.0  # seconds for dockerd to answer (it sets up its data root first)

DOCKERFILE = """
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/bin
"""


def client() -> Any:
    return docker.DockerClient(base_url=DOCKER_HOST, version="auto", timeout=120)


def engine() -> str:
    """DOCKER_HOST of the tests' engine, started if need be, with IMAGE built on it."""
    os.makedirs(ROOT, exist_ok=True)
    with open(f"{ROOT}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one xdist worker starts it, the others wait
        if not _answers():
            _start()
        with contextlib.closing(client()) as c:
            _build(c)
    return DOCKER_HOST


def _answers() -> bool:
    """Whether the engine answers its ping. Asked over a plain socket: the SDK leaves its
    socket open when the connection is refused (a ResourceWarning, an error here)."""
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(SOCKET)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return sock.recv(4096).startswith(b"HTTP/1.0 200")
    except OSError:
        return False


def _start() -> None:
    dockerd = shutil.which("dockerd")
    if dockerd is None or not os.path.exists(BUSYBOX):
        raise RuntimeError(
            "the container tests need dockerd and a static busybox: "
            "apt-get install docker.io busybox-static (./dev test does)"
        )
    with contextlib.suppress(FileNotFoundError):
        os.remove(SOCKET)  # left by an engine that died: dockerd would refuse to start
    # `setsid --fork`: dockerd runs on in a session of its own, past this test session (the
    # next one reuses it), and no process of ours is left waiting for it.
    with open(f"{ROOT}/dockerd.log", "ab") as log:
        subprocess.run(
            [
                "setsid",
                "--fork",
                dockerd,
                f"--data-root={ROOT}/data",
                f"--exec-root={ROOT}/exec",
                f"--pidfile={ROOT}/dockerd.pid",
                f"--host={DOCKER_HOST}",
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            check=True,
        )
    # Nothing tells when it is ready but its socket answering.
    wait_until(_answers, timeout=START_TIMEOUT, what=f"dockerd to answer ({ROOT}/dockerd.log)")


def _build(c: Any) -> None:
    with contextlib.suppress(docker.errors.ImageNotFound):
        c.images.get(IMAGE)
        return
    with tempfile.TemporaryDirectory() as context:
        shutil.copy(BUSYBOX, os.path.join(context, "busybox"))
        with open(os.path.join(context, "Dockerfile"), "w") as f:
            f.write(DOCKERFILE)
        c.images.build(path=context, tag=IMAGE, rm=True, network_mode="none")


def containers(**labels: str) -> list[Any]:
    """The containers (running or not) with these labels (`baton.run=...`: pass a dict)."""
    with contextlib.closing(client()) as c:
        wanted = [f"{k}={v}" for k, v in labels.items()]
        # Sparse: not inspected one by one, which fails for one removed meanwhile; reload()
        # one for its configuration.
        return list(c.containers.list(all=True, filters={"label": wanted}, sparse=True))


def running(run_id: str) -> list[Any]:
    """The containers of a run that are running now."""
    return [c for c in containers(**{"baton.run": run_id}) if c.status == "running"]


@contextlib.contextmanager
def network(name: str) -> Iterator[ipaddress.IPv4Network]:
    """An internal network of the test's own (no route out), removed at the end; its subnet."""
    with contextlib.closing(client()) as c:
        net = c.networks.create(name, driver="bridge", internal=True)
        try:
            net.reload()
            yield ipaddress.IPv4Network(net.attrs["IPAM"]["Config"][0]["Subnet"])
        finally:
            net.remove()
