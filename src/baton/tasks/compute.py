"""Running a python task on a compute backend other than the worker (`model.compute`):
the check made when its flow is loaded, and the hand-over to the backend's module."""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import Any

from baton import tasks
from baton.errors import DefinitionError
from baton.model.compute import BACKENDS, parse_compute, split_address
from baton.model.context import TaskContext
from baton.tasks.base import TaskFailed

CONNECT_TIMEOUT = 2.0  # seconds a load-time check waits for a scheduler to accept


def check(config: dict[str, Any]) -> None:
    """Refuse, when the flow is loaded, a python task whose backend is not installed or
    whose literal address cannot be reached (an address from the environment is checked by
    the worker that runs it). The backend's modules are not imported to tell."""
    compute = parse_compute(config.get("compute"))
    if compute is None or compute["backend"] == "local":
        return
    backend = BACKENDS[compute["backend"]]
    missing = [m for m in backend.requires if importlib.util.find_spec(m) is None]
    if missing:
        raise DefinitionError(
            f"compute backend {backend.name} needs {', '.join(missing)}, which is not "
            f"installed: {tasks.install_hint(backend.extra, missing)}"
        )
    address = compute.get("address")
    if address is not None:
        problem = unreachable(address)
        if problem is not None:
            raise DefinitionError(f"'compute.address' {address}: {problem}")


def unreachable(address: str) -> str | None:
    """Why nothing accepts a TCP connection at `address` (None: something does)."""
    import socket  # only flows with a compute address pay for it

    where = split_address(address)
    if where is None:
        return "not a scheduler address such as tcp://host:8786"
    try:
        socket.create_connection(where, timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return f"cannot connect to {where[0]}:{where[1]} ({reason}): is the scheduler running?"
    return None


def address_of(compute: dict[str, Any]) -> str:
    """The task's scheduler address, or its backend's default from this worker's
    environment; TaskFailed (no retry) when there is neither."""
    backend = BACKENDS[compute["backend"]]
    address = compute.get("address") or (
        os.environ.get(backend.address_env) if backend.address_env else None
    )
    if not address:
        raise TaskFailed(
            f"compute backend {backend.name} has no address: set compute.address in the task "
            f"or the flow, or {backend.address_env} in the worker's environment",
            retryable=False,
        )
    return str(address)


def execute(
    ctx: TaskContext,
    function: str,
    config: str | dict[str, Any],
    args: list[Any],
    kwargs: dict[str, Any],
) -> Any:
    """Run (or go on waiting for) the call on the task's backend (`config`: its `compute`)."""
    compute = parse_compute(config)
    assert compute is not None
    module = BACKENDS[compute["backend"]].module
    assert module is not None
    runner = importlib.import_module(f"baton.tasks.{module}")
    return runner.execute(ctx, function, address_of(compute), args, kwargs)
