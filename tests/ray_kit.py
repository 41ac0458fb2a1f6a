"""A real local Ray cluster for tests (`ray start --head`), in a network namespace of its own
with only loopback.

Ray registers the machine's own network address even when told `--node-ip-address
127.0.0.1`; in a namespace where loopback is the only interface, it has no other. The baton
processes that talk to it run in the same namespace (`prefix`: `nsenter -n` into it), so
its ports are private to the test too: fixed ports, no clash with other tests.

`ray start --block` runs as the first process of a PID namespace of its own, so `kill()`
(SIGKILL to it) ends every process of the cluster at once: a cluster that dies. `start()`
brings it back, on the same ports, in the same network namespace.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from dask_kit import TASKS
from waiting import wait_until

RAY = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
GCS_PORT = 6379
CLIENT_PORT = 10001
ADDRESS = f"ray://127.0.0.1:{CLIENT_PORT}"

# For Ray and its clients: no gRPC fork handlers (baton's workers fork), no token to find,
# and a client that lost its cluster gives up after 3 seconds rather than 30.
ENV = {
    "GRPC_ENABLE_FORK_SUPPORT": "false",
    "RAY_AUTH_MODE": "disabled",
    "RAY_CLIENT_RECONNECT_GRACE_PERIOD": "3",
    "RAY_USAGE_STATS_ENABLED": "0",
}


# The tests' functions, as for Dask (importable on Ray's workers and in baton's), and one
# that tells which process runs it: a Ray task cancelled with force ends its process.
RAY_TASKS = (
    TASKS.replace("dask_tasks", "ray_tasks")
    + """

def sleep_noting_pid(seconds, pidfile):
    with open(pidfile, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(seconds)
    return seconds
"""
)


class RayCluster:
    def __init__(self, folder: Path, cpus: int = 4) -> None:
        self.folder = folder
        self.cpus = cpus
        self.address = ADDRESS
        (folder / "ray_tasks.py").write_text(RAY_TASKS)
        self.env = {**os.environ, **ENV, "PYTHONPATH": str(folder)}
        # Short: Ray's unix sockets live under it, and their paths are limited to 107 bytes.
        self.temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
        # The network namespace lives as long as this process does.
        self.holder = subprocess.Popen(["unshare", "--net", "sleep", "infinity"])
        self.prefix = ["nsenter", "-t", str(self.holder.pid), "-n"]
        wait_until(self._namespaced, timeout=10, what="the network namespace")
        subprocess.run([*self.prefix, "ip", "link", "set", "lo", "up"], check=True)
        self.proc: subprocess.Popen[bytes] | None = None

    def _namespaced(self) -> bool:
        mine = os.readlink("/proc/self/ns/net")
        return os.readlink(f"/proc/{self.holder.pid}/ns/net") != mine

    def start(self) -> None:
        logs = self.folder / "logs"
        logs.mkdir(exist_ok=True)
        args = [
            *self.prefix,
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            RAY,
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={GCS_PORT}",
            f"--ray-client-server-port={CLIENT_PORT}",
            f"--num-cpus={self.cpus}",
            "--object-store-memory=200000000",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={self.temp}",
        ]
        with open(logs / "ray.log", "ab") as out:
            self.proc = subprocess.Popen(
                args, cwd=self.folder, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        wait_until(self._ready, timeout=90, what="the Ray cluster to accept clients")

    def _ready(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, (
            self.folder / "logs" / "ray.log"
        ).read_text(errors="replace")[-3000:]
        probe = f"import socket; socket.create_connection(('127.0.0.1', {CLIENT_PORT}), 1)"
        return (
            subprocess.run(
                [*self.prefix, sys.executable, "-c", probe], check=False, capture_output=True
            ).returncode
            == 0
        )

    def kill(self) -> None:
        """SIGKILL the first process of the cluster's PID namespace: the kernel kills the
        rest of it."""
        if self.proc is None:
            return
        with contextlib.suppress(OSError, IndexError):
            os.kill(self._first(), signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def alive(self, pid: int) -> bool:
        """Whether the cluster's process `pid` (as its PID namespace numbers it) lives; a
        zombie counts as gone."""
        namespace = os.readlink(f"/proc/{self._first()}/ns/pid")
        for entry in Path("/proc").iterdir():
            try:
                if not entry.name.isdigit() or os.readlink(entry / "ns" / "pid") != namespace:
                    continue
                status = (entry / "status").read_text()
            except OSError:  # it ended meanwhile
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if int(fields["NSpid"].split()[-1]) == pid and not fields["State"].strip().startswith(
                "Z"
            ):
                return True
        return False

    def _first(self) -> int:
        """The first process of the cluster's PID namespace (`unshare --fork`'s child)."""
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return int(children.split()[0])

    def close(self) -> None:
        self.kill()
        self.holder.kill()
        self.holder.wait(timeout=30)
        shutil.rmtree(self.temp, ignore_errors=True)

    def run(self, code: str) -> str:
        """Run Python `code` in the namespace as a client of the cluster; what it printed."""
        proc = subprocess.run(
            [*self.prefix, sys.executable, "-c", code],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout
