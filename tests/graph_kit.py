"""Big flows for the tests that show them: a run of a 2,000-task flow made through the
engine, half of it done."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from baton.engine.planner import Outcome
from baton.engine.service import Engine
from baton.model.spec import FlowSpec, TaskSpec
from baton.model.states import AttemptState, ErrorKind
from baton.settings import Settings
from baton.store.store import Store
from engine_kit import outcome_of

WIDTH, DEPTH = 40, 50  # 2,000 tasks: 50 layers of 40, each task waiting on 2 of the layer before


def big_run(home: Path, group_of: Callable[[int, int], str | None] = lambda layer, i: None) -> str:
    """A run of a 2,000-task flow in the store at `home`: the first half done (a few failed),
    some running, the rest waiting; `group_of(layer, i)` names each task's group."""
    tasks = []
    for layer in range(DEPTH):
        for i in range(WIDTH):
            ups = () if layer == 0 else (f"t{layer - 1}_{i}", f"t{layer - 1}_{(i * 7 + 3) % WIDTH}")
            tasks.append(
                TaskSpec(
                    key=f"t{layer}_{i}",
                    type="shell",
                    config={"command": "true"},
                    depends_on=ups,
                    group=group_of(layer, i),
                )
            )
    spec = FlowSpec(name="big_flow", description="2,000 tasks", tasks=tuple(tasks))
    clock = [time.time() - 600]  # ten minutes ago: the run is still going
    store = Store(Settings.from_env({"BATON_HOME": str(home)}).database_url)
    try:
        engine = Engine(store, clock=lambda: clock[0])
        run_id = engine.create_run(engine.register(spec), {})
        outcomes: list[Outcome] = []
        done = 0
        while done < 1_000:
            claimed = engine.claim(
                worker_id="w", queues=["default"], limit=120, lease=600, outcomes=outcomes
            )
            clock[0] += 0.4
            failing = {c.task_key for c in claimed[:2]} if done > 800 else set()
            outcomes = [
                outcome_of(
                    c,
                    AttemptState.FAILED if c.task_key in failing else AttemptState.SUCCEEDED,
                    at=clock[0],
                    error="exit 1" if c.task_key in failing else None,
                    error_kind=ErrorKind.USER if c.task_key in failing else None,
                )
                for c in claimed
            ]
            done += len(claimed)
        engine.claim(worker_id="w", queues=["default"], limit=60, lease=600, outcomes=outcomes)
    finally:
        store.close()
    return run_id
