"""The label sweep: removing containers of attempts that no longer run.

An attempt's record file (`tasks.docker_engine`) lives on the machine of the worker that
ran it: when the record is lost with its machine, or could not be acted on (the engine was
unreachable then), only the container's labels say whose it is. A standalone worker sweeps
as it starts, and whoever ends lost attempts sweeps after: it removes every container
labelled `baton.attempt` whose attempt the store knows and says has ended. A container of
an attempt the store does not know is left alone: another installation of baton may share
the engine. `baton run` (an embedded worker) does not sweep as it starts: its store is its
own, and its start must stay fast.
"""

from __future__ import annotations

import importlib.util
import sys

from baton.model.states import ATTEMPT_TERMINAL
from baton.store.store import Store
from baton.tasks import docker_engine

SWEEP_TIMEOUT = 10.0  # seconds for one call to the engine: a sweep must not hold a worker up


def sweep(store: Store) -> list[str]:
    """Remove the containers of ended attempts; the ids of those removed. Nothing is done
    (the SDK not even imported) when no engine is configured here."""
    if not docker_engine.configured() or importlib.util.find_spec("docker") is None:
        return []
    try:
        api = docker_engine.client(timeout=SWEEP_TIMEOUT)
    except docker_engine.EngineUnavailable:
        return []  # no engine, no containers: not a worker's problem
    removed = []
    try:
        found = docker_engine.labelled(api)
        states = store.read().attempt_states(sorted({a for _, a in found}))
        for container, attempt_id in found:
            if states.get(attempt_id) in ATTEMPT_TERMINAL:
                docker_engine.remove(api, container)
                removed.append(container)
    except Exception as exc:  # the engine went away mid-sweep: the next sweep goes on
        print(f"baton: could not sweep the Docker engine's containers: {exc}", file=sys.stderr)
    finally:
        api.close()
    return removed
