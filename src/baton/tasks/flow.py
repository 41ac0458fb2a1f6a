"""`flow` tasks: start another flow as a sub-flow run and wait for it, holding no slot.

The task starts the run, then waits in state `waiting`; the sub-flow run's end wakes it (a
slow poll is the fallback). Its failure fails this task; cancelling this run cancels it.
"""

from __future__ import annotations

import os
import time
from typing import Annotated, Any

import msgspec

from baton.errors import TaskInterrupt, TaskTimeout
from baton.model import decorators
from baton.model.context import TaskContext
from baton.tasks.base import Defer, TaskConfig, TaskFailed, TaskType


class FlowConfig(TaskConfig, frozen=True):
    path: Annotated[str, msgspec.Meta(min_length=1)]  # the flow file, from the flow's folder
    flow: str | None = None  # which flow of the file, when it defines several
    params: dict[str, Any] = {}
    poll_interval: Annotated[float, msgspec.Meta(gt=0)] = 30.0


def execute(ctx: TaskContext, cfg: FlowConfig) -> Any:
    assert ctx.start_run and ctx.run_status and ctx.cancel_run
    now = time.time()
    waiting = ctx.resume_state
    if waiting is None:
        path = os.path.join(ctx.flow_dir, cfg.path)
        if not os.path.isfile(path):
            raise TaskFailed(f"no flow file {path}", retryable=False)
        run_id = ctx.start_run(path, cfg.flow, cfg.params)
        print(f"started run {run_id} of {cfg.flow or cfg.path}")
        wake_at = now + cfg.poll_interval
        if ctx.timeout is not None:
            wake_at = min(wake_at, now + ctx.timeout)
        raise Defer(wake_at=wake_at, state={"run_id": run_id, "since": now})
    run_id = waiting["run_id"]
    deadline = waiting["since"] + ctx.timeout if ctx.timeout is not None else None
    cancel_child = ctx.on_interrupt(lambda _: ctx.cancel_run(run_id) if ctx.cancel_run else None)
    try:
        status = ctx.run_status(run_id)
        if status["state"] == "succeeded":
            print(f"run {run_id} succeeded")
            return {"run_id": run_id, "state": "succeeded"}
        if status["state"] in ("failed", "cancelled"):
            bad = [
                f"{key} {t['state']}" + (f": {t['error']}" if t["error"] else "")
                for key, t in status["tasks"].items()
                if t["state"] in ("failed", "upstream_failed", "cancelled")
            ]
            raise TaskFailed(
                f"run {run_id} of {status['flow']} {status['state']}: {'; '.join(bad)}"
            )
        if deadline is not None and now >= deadline:
            raise TaskTimeout(f"run {run_id} did not end within {ctx.timeout:g}s")
    except TaskInterrupt:  # a timeout, ours or the worker's, or a cancel: the sub-flow goes too
        ctx.cancel_run(run_id)
        raise
    finally:
        cancel_child()
    wake_at = now + cfg.poll_interval
    raise Defer(wake_at=wake_at if deadline is None else min(wake_at, deadline), state=waiting)


def flow_task(
    path: str,
    *,
    key: str,
    flow: str | None = None,
    params: dict[str, Any] | None = None,
    poll_interval: float = 30.0,
    wait_for: Any = (),
    **options: Any,
) -> Any:
    """A sub-flow inside a `@flow`: `flow_task("child.py", key="child", params={...})`."""
    config = {"path": path, "flow": flow, "params": params, "poll_interval": poll_interval}
    return decorators.typed_task("flow", key, config, wait_for=wait_for, **options)


TYPE = TaskType("flow", FlowConfig, execute, icon="flow")
