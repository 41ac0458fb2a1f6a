"""The user-code boundary: how the runner classifies the way an attempt ended."""

from __future__ import annotations

import errno
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from baton.engine.planner import Outcome
from baton.errors import Skip, TaskCancelled, TaskTimeout
from baton.execution.runner import Job, run_attempt
from baton.model.context import NO_ITEM
from baton.model.spec import TaskSpec
from baton.model.states import AttemptState, ErrorKind
from baton.store.store import Claimed
from baton.tasks.base import Defer, TaskFailed


@pytest.fixture
def attempt(task_context, tmp_path: Path) -> Callable[..., Outcome]:
    """`attempt(fn, **task_fields)`: run a python task calling `fn` through the runner."""

    def run(fn: Callable[..., Any], *, job: dict[str, Any] | None = None, **fields: Any) -> Outcome:
        return run_attempt(make_job(task_context, tmp_path, fn, job=job, **fields))

    return run


def make_job(
    task_context: Callable[..., Any],
    tmp_path: Path,
    fn: Callable[..., Any],
    *,
    job: dict[str, Any] | None = None,
    **fields: Any,
) -> Job:
    config = {"function": "mod:fn"} | fields.pop("config", {})
    task = TaskSpec(key="t", type="python", config=config, **fields)
    return Job(
        claimed=Claimed(
            task_run_id=7, run_id="r", task_key="t", map_index=-1, attempt_id="a", attempt=2
        ),
        task=task,
        ctx=task_context(load_function=lambda ref: fn, timeout=task.timeout, item=NO_ITEM),
        results_store=str(tmp_path / "results"),
        deadline=None,
        **(job or {}),
    )


def test_a_returned_value_is_the_result_of_a_succeeded_attempt(attempt) -> None:
    done = attempt(lambda: {"rows": 3})
    assert done.state is AttemptState.SUCCEEDED
    assert json.loads(done.result or "null") == {"rows": 3}
    assert (done.attempt_id, done.task_run_id, done.run_id, done.attempt) == ("a", 7, "r", 2)
    assert done.error is None and done.error_kind is None


def test_an_exception_of_the_task_is_a_user_error_with_its_types_and_traceback(attempt) -> None:
    def fails() -> None:
        raise KeyError("region")

    done = attempt(fails)
    assert done.state is AttemptState.FAILED
    assert done.error_kind is ErrorKind.USER
    assert done.error == "KeyError: 'region'"
    assert "builtins.KeyError" in done.error_types and "builtins.LookupError" in done.error_types
    assert done.traceback is not None and "in fails" in done.traceback
    assert done.retryable is True


def test_a_task_types_own_failure_keeps_its_message_and_retryability(attempt) -> None:
    def fails() -> None:
        raise TaskFailed("HTTP 404 from the API", error_types=("http.404",), retryable=False)

    done = attempt(fails)
    assert (done.state, done.error_kind) == (AttemptState.FAILED, ErrorKind.USER)
    assert done.error == "HTTP 404 from the API"
    assert done.error_types == ("http.404",)
    assert done.retryable is False


def test_skip_ends_the_attempt_skipped_with_its_reason(attempt) -> None:
    def skips() -> None:
        raise Skip("no data today")

    done = attempt(skips)
    assert done.state is AttemptState.SKIPPED
    assert done.error == "no data today" and done.error_kind is None


def test_a_timeout_and_a_cancel_are_told_apart(attempt) -> None:
    def times_out() -> None:
        raise TaskTimeout()

    def cancelled() -> None:
        raise TaskCancelled()

    done = attempt(times_out, timeout=5.0)
    assert (done.state, done.error_kind) == (AttemptState.FAILED, ErrorKind.TIMEOUT)
    assert done.error == "timed out after 5s"
    done = attempt(cancelled)
    assert (done.state, done.error_kind) == (AttemptState.CANCELLED, ErrorKind.CANCELLED)
    assert done.error == "cancelled"


def test_a_timeout_is_raised_inside_a_busy_task(task_context, tmp_path: Path) -> None:
    started = threading.Event()

    def busy() -> str:
        started.set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # pure bytecode: the interrupt lands at once
            pass
        return "never interrupted"

    job = make_job(task_context, tmp_path, busy, timeout=2.0)
    outcomes: list[Outcome] = []
    thread = threading.Thread(target=lambda: outcomes.append(run_attempt(job)))
    thread.start()
    assert started.wait(10)
    job.ctx.interrupt(TaskTimeout)
    thread.join(10)
    assert not thread.is_alive()
    assert (outcomes[0].state, outcomes[0].error_kind) == (AttemptState.FAILED, ErrorKind.TIMEOUT)
    assert outcomes[0].error == "timed out after 2s"


def test_a_full_disk_is_the_machines_fault_not_the_tasks(attempt) -> None:
    def writes() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    done = attempt(writes)
    assert (done.state, done.error_kind) == (AttemptState.FAILED, ErrorKind.INTERNAL)
    assert (
        done.error
        == "No space left on device writing its log or result: free space on this machine"
    )


def test_a_result_that_cannot_be_written_here_is_internal(attempt, tmp_path: Path) -> None:
    (tmp_path / "results").write_text("a file where the results directory goes")
    done = attempt(lambda: {1, 2})  # a set is no JSON: it is pickled into the result store
    assert (done.state, done.error_kind) == (AttemptState.FAILED, ErrorKind.INTERNAL)
    assert done.error is not None and done.error.startswith("FileExistsError: ")


def test_a_result_pickle_cannot_save_fails_for_good(attempt) -> None:
    def returns_a_lock() -> object:
        return threading.Lock()

    done = attempt(returns_a_lock)
    assert (done.state, done.error_kind) == (AttemptState.FAILED, ErrorKind.USER)
    assert done.error is not None and done.error.startswith("its result cannot be stored (")
    assert done.retryable is False


def test_defer_waits_with_its_wake_up_time_and_state(attempt) -> None:
    def waits() -> None:
        raise Defer(wake_at=1234.5, state={"pokes": 2})

    done = attempt(waits)
    assert done.state is AttemptState.WAITING
    assert done.wake_at == 1234.5
    assert json.loads(done.defer_state or "null") == {"pokes": 2}


def test_system_exit_of_the_task_is_its_failure_not_the_workers(attempt) -> None:
    def exits() -> None:
        raise SystemExit(3)

    done = attempt(exits)
    assert (done.state, done.error_kind) == (AttemptState.FAILED, ErrorKind.USER)
    assert done.error == "SystemExit: 3"


def test_a_branch_task_must_return_task_keys(attempt) -> None:
    done = attempt(lambda: ["load", "report"], config={"branch": True})
    assert (done.state, done.follow) == (AttemptState.SUCCEEDED, ("load", "report"))
    done = attempt(lambda: ["load", 2], config={"branch": True})
    assert (done.state, done.error_kind) == (AttemptState.FAILED, ErrorKind.USER)
    assert done.error == "a branch task returns downstream task keys, not ['load', 2]"


def test_an_attempt_its_worker_lost_fails_as_lost(attempt) -> None:
    done = attempt(lambda: "done", job={"lost": "lost: lease not renewed"})
    assert (done.state, done.error_kind) == (AttemptState.FAILED, ErrorKind.LOST)
    assert done.error == "lost: lease not renewed"


def test_a_flow_task_cannot_pass_a_secret(task_context, tmp_path: Path) -> None:
    task = TaskSpec(key="t", type="flow", config={"flow": "sub", "params": {"p": "${secret:K}"}})
    job = make_job(task_context, tmp_path, print)
    job.task = task
    done = run_attempt(job)
    assert (done.state, done.error_kind, done.retryable) == (
        AttemptState.FAILED,
        ErrorKind.USER,
        False,
    )
    assert done.error is not None and done.error.startswith("a flow task cannot pass a secret")
