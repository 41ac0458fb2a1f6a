"""Cancel and repair: what an operator does to a run, applied by the engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from baton.engine import planner, selection
from baton.errors import InputError
from baton.model.states import RUN_TERMINAL, AttemptState, RunState, TaskState

if TYPE_CHECKING:
    from baton.engine.service import Engine


def cancel(engine: Engine, run_id: str) -> bool:
    """Cancel a run: what has not started ends cancelled; running attempts are stopped by
    their worker, which sees the run `cancelling`. False if the run had already ended.
    Cancelling a run that is already cancelling does nothing more."""
    now = engine.clock()
    with engine.store.transaction() as tx:
        run = tx.lock_run(run_id)  # a completion under way commits first, or waits
        if run.state in RUN_TERMINAL:
            return False
        if run.state == RunState.CANCELLING:
            return True
        c, _ = engine.run_info(run_id, tx)
        tx.move_run(run_id, RunState.CANCELLING, None, now)
        # Everything not running ends at once; nothing downstream needs deciding, since
        # it is all cancelled too. Running attempts report when their worker stops them,
        # as do those a worker is claiming now (skipped: their claim will see cancelling).
        moves = planner.cancel_moves(run_id, tx.unfinished_task_runs(run_id, skip_locked=True), now)
        if moves:
            tx.move_tasks(moves, now)
            tx.finish_tasks(run_id, len(moves))
        waiting = [m.id for m in moves if m.frm is TaskState.WAITING]
        tx.close_attempts(
            [r.resume_attempt for r in map(tx.task_run, waiting) if r.resume_attempt],
            AttemptState.CANCELLED.value,
            now,
        )
        # A `flow` task may be waiting, or queued to check on its sub-flow run again.
        children = [
            r for r in tx.child_runs([m.id for m in moves]) if tx.run(r).state not in RUN_TERMINAL
        ]
        if tx.run(run_id).unfinished == 0:
            engine.finish_run(tx, run_id, c, now)
    for child in children:  # sub-flow runs of cancelled `flow` tasks go too
        engine.cancel(child)
    return True


def repair(engine: Engine, run_id: str) -> str:
    """A new run of the same version and params that re-runs only what did not succeed
    (failed, upstream_failed and cancelled tasks, and everything downstream of them; of
    a mapped task, only its items that did not succeed: `planner.repair_plan`)."""
    read = engine.store.read()
    run = read.run(run_id)
    if run.state not in RUN_TERMINAL:
        raise InputError(
            f"run {run_id} is {run.state}: only a finished run can be repaired "
            "(wait for it, cancel it, or `baton runs resume` it)"
        )
    c, params = engine.run_info(run_id)
    mapped = [t.key for t in c.spec.tasks if planner.is_mapped(t)]
    plan = planner.repair_plan(c.graph, mapped, read.task_runs(run_id))
    if plan is None:
        raise InputError(f"run {run_id} has nothing to repair: no task failed or was cancelled")
    return engine.create_run(
        c.version_id,
        params,
        trigger="repair",
        trigger_info=selection.carried(engine.run_meta(run_id).trigger_info),
        parent_run_id=run_id,
        reuse=plan.reuse,
        items=plan.items,
        partition=run.partition,
    )
