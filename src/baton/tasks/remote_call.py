"""What runs on a cluster's worker for a python task with a compute backend: import the
function by reference, call it, and hand back its result with what it printed and logged.

Self-contained on purpose (the standard library only, no other baton module): it is sent
to the cluster by value (`cloudpickle.register_pickle_by_value`), so the cluster's workers
need the task's own modules but not baton. Its failure comes back as data too (message,
exception class names, traceback): the cluster need not unpickle the user's exception
classes on the baton side, and `retry_on` matches the names as for a local task.

A cluster worker runs several tasks at once in threads, so sys.stdout, sys.stderr and the
root logger are routed per thread (as baton's own worker does, in `execution.logs`).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import io
import logging
import sys
import threading
import traceback
from typing import Any

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_MAX = 1 << 20  # characters of output kept (its end), so a chatty task cannot flood


def call(function: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Run `module:function` with these arguments; {ok, value | error, types, traceback, log}."""
    buffers = _routes()
    out = buffers[threading.get_ident()] = io.StringIO()
    try:
        try:
            module, _, qualname = function.partition(":")
            fn: Any = importlib.import_module(module)
            for part in qualname.split("."):
                fn = getattr(fn, part)
            value = fn(*args, **kwargs)
            if inspect.iscoroutine(value):
                value = asyncio.run(value)
        except BaseException as exc:
            kinds = [f"{t.__module__}.{t.__qualname__}" for t in type(exc).__mro__]
            return {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "types": kinds,
                "traceback": traceback.format_exc(),
                "log": _tail(out.getvalue()),
            }
        return {"ok": True, "value": value, "log": _tail(out.getvalue())}
    finally:
        del buffers[threading.get_ident()]


def has_task(key: str, dask_scheduler: Any = None) -> bool:
    """Whether the scheduler (Dask passes it by this name) still has the task `key`."""
    return key in dask_scheduler.tasks


def _tail(text: str) -> str:
    return text if len(text) <= LOG_MAX else "[...]\n" + text[-LOG_MAX:]


class _Router(io.TextIOBase):
    """A stream that writes to the calling thread's buffer when it has one."""

    def __init__(self, fallback: Any, buffers: dict[int, io.StringIO]) -> None:
        self.fallback = fallback
        self.baton_buffers = buffers

    def write(self, s: str) -> int:
        target = self.baton_buffers.get(threading.get_ident())
        if target is None:
            written = self.fallback.write(s)
            return len(s) if written is None else int(written)  # Ray's streams return None
        return target.write(s)

    def flush(self) -> None:
        if threading.get_ident() not in self.baton_buffers:
            self.fallback.flush()


class _Handler(logging.Handler):
    def __init__(self, buffers: dict[int, io.StringIO]) -> None:
        super().__init__()
        self.baton_buffers = buffers
        self.setFormatter(logging.Formatter(_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        target = self.baton_buffers.get(threading.get_ident())
        if target is not None:
            target.write(self.format(record) + "\n")


def _routes() -> dict[int, io.StringIO]:
    """The per-thread buffers, routing installed once per process. This module arrives by
    value with every call, so what is installed is found by attribute, not by identity."""
    lock = sys.__dict__.setdefault("_baton_remote_lock", threading.Lock())
    with lock:
        found = getattr(sys.stdout, "baton_buffers", None)
        if found is not None:
            return found  # type: ignore[no-any-return]
        buffers: dict[int, io.StringIO] = {}
        sys.stdout = _Router(sys.stdout, buffers)
        sys.stderr = _Router(sys.stderr, buffers)
        root = logging.getLogger()
        root.addHandler(_Handler(buffers))
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)  # a task's logger.info is shown, as in baton's worker
        return buffers
