"""What a `flow` task asks of the store from its own thread: start a sub-flow run, read a
run's state, cancel a run. Each call opens its own connection (the worker loop's belongs to
the loop thread) and closes it before returning."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from baton.engine.service import Engine
from baton.execution import loader
from baton.execution.loader import LoadedFlow
from baton.model.names import task_label
from baton.model.params import coerce_params
from baton.store.store import Claimed, Store


def start_child(
    url: str, parent: Claimed, path: str, flow_name: str | None, params: Mapping[str, Any]
) -> tuple[str, LoadedFlow]:
    """Create a sub-flow run of the flow in `path` under the attempt `parent`; its id and
    the loaded flow (the worker that runs `parent` works on it too)."""
    child = loader.pick(loader.load_file(path), flow_name, file=path)
    values = coerce_params(child.spec.params, params, flow=child.spec.name)
    store = Store(url)
    try:
        engine = Engine(store)
        root = store.read().run(parent.run_id).root_run_id or parent.run_id
        run_id = engine.create_run(
            engine.register(child.spec),
            values,
            trigger="flow",
            parent_run_id=parent.run_id,
            parent_task_run_id=parent.task_run_id,
            root_run_id=root,
        )
    finally:
        store.close()
    return run_id, child


def run_status(url: str, run_id: str) -> dict[str, Any]:
    """A run's id, flow, state and its task runs' states and errors, by name."""
    store = Store(url)
    try:
        read = store.read()
        run = read.run(run_id)
        tasks = read.task_runs(run_id)
    finally:
        store.close()
    return {
        "id": run_id,
        "flow": run.flow_name,
        "state": run.state,
        "tasks": {
            task_label(r.task_key, r.map_index): {
                "state": r.state,
                "error": r.error,
            }
            for r in tasks
        },
    }


def cancel_run(url: str, run_id: str) -> bool:
    """`Engine.cancel` on a connection of its own."""
    store = Store(url)
    try:
        return Engine(store).cancel(run_id)
    finally:
        store.close()
