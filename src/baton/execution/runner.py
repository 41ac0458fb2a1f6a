"""The user-code boundary: run one attempt, capture its output, classify how it ended.

User errors (error_kind user), timeouts, cancels and skips become an Outcome; only a bug in
baton itself is reported as `internal`. Nothing a task does escapes into the worker loop.

Secret references in the task's fields are resolved here, just before it runs, in a copy of
its spec; the attempt's log, error and result have the values masked (execution.secrets).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import json
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from baton import tasks
from baton.engine import planner
from baton.engine.planner import CheckRun, Outcome, Reported
from baton.errors import BatonError, Skip, TaskCancelled, TaskInterrupt, TaskTimeout
from baton.execution import asset_records, checks, logs, results
from baton.execution.context import TaskContext
from baton.execution.secrets import Secrets, references_secret
from baton.model.assets import AssetSpec
from baton.model.spec import TaskSpec
from baton.model.states import AttemptState, ErrorKind
from baton.store import dialect
from baton.store.store import Claimed
from baton.tasks.base import Defer, TaskFailed


@dataclass
class Job:
    """One claimed attempt, ready to run."""

    claimed: Claimed
    task: TaskSpec
    ctx: TaskContext
    results_store: str  # where results too big for the database go (`results`)
    deadline: float | None
    load_secrets: Callable[[], Secrets] = Secrets.empty  # read when the attempt starts
    assets: tuple[AssetSpec, ...] = ()  # what it writes that has checks (`checks.of_task`)
    secrets: Secrets = field(default_factory=Secrets.empty)  # what it resolved and masks
    thread_id: int | None = None
    lost: str | None = None  # why its worker stopped it itself (fencing.Fence)
    cache_key: str | None = None  # a task that caches: the key its result is kept under
    cache_replace: bool = False  # a refresh: its result replaces the entry under the key
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)  # its thread is free
    results_inline_max: int = 1 << 20  # bytes of JSON kept in the database
    broken: str | None = None  # why it fails before it starts (an upstream result is gone)


def run_attempt(job: Job) -> Outcome:
    ctx = job.ctx
    with job.lock:
        job.thread_id = threading.get_ident()
    ctx.on_interrupt(lambda kind: _raise_in_thread(job, kind))
    try:
        with logs.capture(ctx.log_file):
            result = _run(job)
    except Exception as exc:  # baton's own failure around the task: its log cannot be written
        result = internal(job, exc)
    finally:
        with job.lock:
            job.thread_id = None  # from here on, no interrupt may land in this thread
        try:
            ctx.close()
        except Exception as exc:  # a masked log writes what it kept back: the disk may be full
            result = internal(job, exc)
        job.done.set()
    if result.state is not AttemptState.SUCCEEDED and ctx.spawned:
        asset_records.discard(ctx.assets_file)  # what an attempt that failed wrote is unread
    if job.lost is not None:
        return outcome(job, AttemptState.FAILED, error=job.lost, error_kind=ErrorKind.LOST)
    return result


def internal(job: Job, exc: BaseException) -> Outcome:
    """The attempt failed through no fault of its task: baton could not write its log or
    result here (the disk is full), or a bug of baton's. One line says which."""
    fault = dialect.local_fault(exc)
    if fault is not None:
        where = getattr(exc, "filename", None) or "its log or result"
        error = f"{fault} writing {where}: free space on this machine"
    else:
        error = f"{type(exc).__name__}: {exc}"
    return outcome(job, AttemptState.FAILED, error=error, error_kind=ErrorKind.INTERNAL)


def _run(job: Job) -> Outcome:
    ctx = job.ctx
    try:
        if job.broken is not None:
            raise TaskFailed(job.broken, retryable=False)
        task = _with_secrets(job)
        task_type = tasks.task_type(task.type)
        recorder = asset_records.Recorder()
        token = asset_records.attach(recorder)
        try:
            value = task_type.execute(ctx, tasks.config_of(task, ctx))
        finally:
            asset_records.detach(token)
        if ctx.interrupted is not None:
            raise ctx.interrupted()
        follow = follow_of(job, value)
        reported = asset_records.collect(
            recorder,
            ctx.assets_file,
            ctx.spawned,
            task.outputs,
            job.secrets.mask_json,
        )
        ran = _checks(job, reported) if job.assets else ()
        error = checks.blocking_error(ran)
        if error is not None:
            print(f"error: {error}")
            return outcome(
                job,
                AttemptState.FAILED,
                error=error,
                error_kind=ErrorKind.CHECK,
                retryable=False,  # the same code on the same data answers the same: repair
                checks=ran,
            )
        value = job.secrets.mask_json(value)
        try:
            result, ref, length = results.encode(
                value, job.results_store, ctx.attempt_id, job.results_inline_max
            )
        except OSError as exc:  # the machine's fault (a full disk), not the task's
            return internal(job, exc)
        except Exception as exc:  # running it again would not help
            raise TaskFailed(
                f"its result cannot be stored ({type(exc).__name__}: {exc}): return JSON-like "
                "data or an object pickle can save",
                retryable=False,
            ) from None
        return outcome(
            job,
            AttemptState.SUCCEEDED,
            result=result,
            result_ref=ref,
            result_len=length,
            follow=follow,
            reported=reported,
            checks=ran,
        )
    except Defer as exc:
        return outcome(
            job,
            AttemptState.WAITING,
            wake_at=exc.wake_at,
            defer_state=json.dumps(exc.state),
        )
    except Skip as exc:
        print(f"skipped: {exc}" if str(exc) else "skipped")
        return outcome(job, AttemptState.SKIPPED, error=str(exc) or None)
    except TaskTimeout:
        return timed_out(job)
    except TaskCancelled:
        return cancelled(job)
    except TaskFailed as exc:
        print(f"error: {exc}")
        if exc.traceback:
            print(exc.traceback)
        return outcome(
            job,
            AttemptState.FAILED,
            error=str(exc),
            error_kind=exc.error_kind,
            error_types=exc.error_types,
            traceback=exc.traceback,
            retryable=exc.retryable,
        )
    except Exception as exc:
        if _out_of_space(exc):  # the machine's fault, not the task's: its log may be full too
            return internal(job, exc)
        tb = traceback.format_exc()
        print(tb, end="")
        return outcome(
            job,
            AttemptState.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            error_kind=ErrorKind.USER,
            error_types=tuple(f"{t.__module__}.{t.__qualname__}" for t in type(exc).__mro__),
            traceback=tb,
        )
    except BaseException as exc:  # SystemExit, KeyboardInterrupt raised by the task itself
        if isinstance(exc, TaskInterrupt):
            raise
        return outcome(
            job,
            AttemptState.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            error_kind=ErrorKind.USER,
        )


def _checks(job: Job, reported: tuple[Reported, ...]) -> tuple[CheckRun, ...]:
    """Run the checks of the assets the attempt wrote (it succeeded), in its log."""
    metadata, _ = planner.merged_reports(reported)
    ran = checks.run_all(
        [
            (a.checks, checks.Target(a.name, metadata.get(a.name, {}), job.ctx.partition))
            for a in job.assets
        ],
        secrets=job.secrets,
        load_function=job.ctx.load_function,
        on_interrupt=job.ctx.on_interrupt,
    )
    if job.ctx.interrupted is not None:  # a timeout or cancel stopped a check's query
        raise job.ctx.interrupted()
    return ran


def _out_of_space(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def _with_secrets(job: Job) -> TaskSpec:
    """The task with its secret references resolved; from here on the log masks them.

    A secret that cannot be read fails the attempt for good: asking again would not find it.
    """
    if job.task.type == "flow" and references_secret(job.task.config):
        # Its params become the sub-flow run's params, which are stored: the value would be.
        raise TaskFailed(
            "a flow task cannot pass a secret to its sub-flow: reference the secret in the "
            "sub-flow's own tasks instead",
            retryable=False,
        )
    try:
        job.secrets = job.load_secrets()
        job.ctx.open_log = functools.partial(logs.open_attempt_log, job.secrets)
        job.ctx.mask = job.secrets.mask_json
        # A python task's fields are not templates: its values go in as they are.
        config = job.secrets.resolve(job.task.config, templates=job.task.type != "python")
    except BatonError as exc:
        raise TaskFailed(str(exc), retryable=False) from None
    if config is job.task.config:
        return job.task
    return msgspec.structs.replace(job.task, config=config)


def outcome(job: Job, state: AttemptState, **fields: Any) -> Outcome:
    for name in ("error", "traceback"):
        if fields.get(name):
            fields[name] = job.secrets.mask(fields[name])
    if job.cache_key is not None:
        fields.setdefault("cache_key", job.cache_key)
        fields.setdefault("cache_replace", job.cache_replace)
    return Outcome.of(job.claimed, state, time.time(), **fields)


def timed_out(job: Job) -> Outcome:
    return outcome(
        job,
        AttemptState.FAILED,
        error=f"timed out after {job.task.timeout:g}s",
        error_kind=ErrorKind.TIMEOUT,
    )


def cancelled(job: Job) -> Outcome:
    return outcome(job, AttemptState.CANCELLED, error="cancelled", error_kind=ErrorKind.CANCELLED)


def is_branch(job: Job) -> bool:
    return tasks.task_type(job.task.type).branches(job.task.config)


def follow_of(job: Job, value: Any) -> tuple[str, ...] | None:
    """The downstream keys a branch task's result chooses (None: it is no branch)."""
    if not is_branch(job):
        return None
    if value is None:
        return ()
    keys = (value,) if isinstance(value, str) else tuple(value)
    if not all(isinstance(k, str) for k in keys):
        raise TaskFailed(f"a branch task returns downstream task keys, not {value!r}")
    return keys


def _raise_in_thread(job: Job, kind: type[TaskInterrupt]) -> None:
    """Raise `kind` inside the thread running the task, at its next bytecode.

    A thread blocked in C (a long sleep, a socket read) only sees it when the call returns,
    so the worker does not wait for it: it records the attempt as ended right away.
    """
    with job.lock:
        if job.thread_id is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(job.thread_id), ctypes.py_object(kind)
            )


Runner = Callable[[Job], Outcome]
