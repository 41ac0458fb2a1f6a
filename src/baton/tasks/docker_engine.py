"""The Docker engine as baton's container tasks use it: a client, the labels and names of
baton's containers, and the record of what each attempt started.

The Docker SDK (`baton[docker]`) is imported only when a container is to be started or
removed: a worker that never sees one never pays for it (about a tenth of a second).
`DOCKER_HOST` (and the SDK's other variables) say which engine, as for `docker` itself.

An attempt's container must not outlive the attempt's claim, even when its worker dies.
Before one is created its name goes into a record file under the worker's work dir
(`containers/<attempt id>`, removed when the attempt ends cleanly); whoever cleans up after
the attempt (the worker's watchdog, its fence, whoever finds it lost: `process.kill_groups`)
removes the containers it names. Every container also carries the labels `baton.attempt`
and `baton.run`, for the sweep that finds those no record names
(`execution.container_sweep`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

LABEL_ATTEMPT = "baton.attempt"
LABEL_RUN = "baton.run"
DEFAULT_SOCKET = "/var/run/docker.sock"
API_TIMEOUT = 60  # seconds for one call to the engine (not a container's run)


class EngineUnavailable(Exception):
    """The Docker engine cannot be reached, or the SDK is not installed."""


def configured() -> bool:
    """Whether an engine may be there to talk to, without importing the SDK: DOCKER_HOST
    is set, or the default socket exists."""
    return bool(os.environ.get("DOCKER_HOST")) or os.path.exists(DEFAULT_SOCKET)


def client(host: str = "", *, timeout: float | None = API_TIMEOUT) -> Any:
    """A low-level client (`docker.APIClient`) of the engine at `host`, else the one
    DOCKER_HOST names, else the local socket's; EngineUnavailable, saying which and why, if
    it does not answer. `timeout` bounds each call (None: calls that last as long as a
    container runs)."""
    try:
        import docker  # the SDK's import is the dearest part of a container's start
    except ImportError:
        raise EngineUnavailable(
            "container tasks need the Docker SDK for Python: pip install 'baton[docker]'"
        ) from None
    environment = {**os.environ, "DOCKER_HOST": host} if host else dict(os.environ)
    where = environment.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"
    try:
        # The engine's own API version (asking it is also what tells that it answers): a
        # fixed one would be refused by engines that dropped it (Docker 29 needs >= 1.44).
        api = docker.APIClient(
            **docker.utils.kwargs_from_env(environment=environment),
            version="auto",
            timeout=timeout,
        )
    except Exception as exc:  # the SDK raises DockerException, requests' errors, OSError...
        raise EngineUnavailable(f"the Docker engine at {where} does not answer: {exc}") from None
    return api


def attach(api: Any, name: str) -> tuple[Iterator[tuple[int, bytes]], Callable[[], None]]:
    """A container's output from its start on, as it comes: (stream, bytes) pairs (1:
    stdout, 2: stderr); and what closes the connection (the SDK's `attach(stream=True)`
    leaves no way to)."""
    from docker.utils.socket import frames_iter

    sock = api.attach_socket(name, params={"stdout": 1, "stderr": 1, "stream": 1, "logs": 1})

    def close() -> None:
        for part in (sock, getattr(sock, "_sock", sock)):  # the file, then its socket
            with contextlib.suppress(Exception):
                part.close()

    return frames_iter(sock, tty=False), close


def container_name(attempt_id: str) -> str:
    """The name of an attempt's container: known before it exists, so it can be recorded
    first (a worker dying between creating and recording it leaves none unnamed)."""
    return f"baton-{attempt_id}"


def labels(attempt_id: str, run_id: str) -> dict[str, str]:
    """What marks a container as an attempt's (the sweep reads `baton.attempt`)."""
    return {LABEL_ATTEMPT: attempt_id, LABEL_RUN: run_id}


def record_path(work_dir: str, attempt_id: str) -> str:
    return os.path.join(work_dir, "containers", attempt_id)


def record(work_dir: str, attempt_id: str, name: str) -> None:
    """Note that the attempt is about to create the container `name`."""
    path = record_path(work_dir, attempt_id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        f.write(f"{os.environ.get('DOCKER_HOST', '')}\t{name}\n")


def forget(work_dir: str, attempt_id: str) -> None:
    """The attempt removed its containers itself."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(record_path(work_dir, attempt_id))


def remove_recorded(work_dir: str, attempt_id: str) -> None:
    """Remove (killed if running) the containers an attempt's record names, then the record.
    A record that names none costs nothing: the SDK is not even imported."""
    path = record_path(work_dir, attempt_id)
    try:
        with open(path) as f:
            entries = [line.rstrip("\n").split("\t", 1) for line in f if "\t" in line]
    except FileNotFoundError:
        return
    for host, name in entries:
        try:
            api = client(host)
            try:
                remove(api, name)
            finally:
                api.close()
        except Exception as exc:  # what the sweep finds later (its labels), not a crash now
            print(f"baton: could not remove the container {name}: {exc}", file=sys.stderr)
    forget(work_dir, attempt_id)


def remove(api: Any, container: str) -> None:
    """Remove a container (killed first if it runs); one already gone is fine."""
    try:
        api.remove_container(container, force=True)
    except Exception as exc:
        if not not_found(exc):
            raise


def not_found(exc: BaseException) -> bool:
    """Whether an error of the SDK's is the engine's 404 (no such container or image)."""
    return getattr(getattr(exc, "response", None), "status_code", None) == 404


def labelled(api: Any) -> list[tuple[str, str]]:
    """(container id, attempt id) of every container, running or not, labelled by baton."""
    found = api.containers(all=True, filters={"label": LABEL_ATTEMPT})
    return [(c["Id"], c["Labels"][LABEL_ATTEMPT]) for c in found]
