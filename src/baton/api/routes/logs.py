"""Log routes: an attempt's log by pages, and its live tail as server-sent events.

An attempt's log is its file under BATON_HOME/logs when the attempt ran on this machine, or,
in cluster mode, what its worker shipped to the store (`execution.logs.read_attempt_log`).
Offsets are bytes into the log; a page never ends inside a UTF-8 character.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, NamedTuple

import anyio
from fastapi import Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from baton.api.common import SecretsDep, SettingsDep
from baton.api.deps import API, StoreDep, Viewer, audited_router
from baton.api.stores import StorePool
from baton.errors import NotFoundError
from baton.execution import logs
from baton.execution.secrets import Secrets
from baton.model.names import task_run_name
from baton.settings import Settings
from baton.store.store import Store

router = audited_router(prefix=API, tags=["logs"])
PAGE_BYTES = 65536
MAX_PAGE_BYTES = 1 << 20
POLL = 0.2  # seconds between looks at a running attempt's log
KEEPALIVE = 15.0  # an SSE comment this often, so proxies keep a quiet stream open
STREAM_SECONDS = 3600.0  # a stream ends (`event: end`, complete false) after this; reconnect


class LogPage(BaseModel):
    run_id: str
    task: str = Field(description="the task run: its key, or `key.N` for a mapped one")
    attempt: int
    offset: int
    next_offset: int = Field(description="where the next page starts")
    text: str
    complete: bool = Field(description="the attempt has ended and this page reaches its end")
    times: list[int | None] | None = Field(
        None,
        description="with `times=true`: when each line of `text` was written, in ms since "
        "the epoch (null: not recorded), one per line `text` starts, the first for the text "
        "at `offset` (the rest of a line when the byte before `offset` is not a newline)",
    )


class _Log(NamedTuple):
    """An attempt's log, found."""

    run_id: str
    task: str  # key, or key.N
    task_run_id: int
    attempt: int


AttemptQuery = Annotated[int | None, Query(ge=1, description="default: the latest attempt")]
OffsetQuery = Annotated[int, Query(ge=0, description="in bytes")]
TimesQuery = Annotated[bool, Query(description="also say when each line was written")]


@router.get(
    "/runs/{run_id}/logs/{task}",
    name="logs.get",
    response_model=LogPage,
    response_model_exclude_none=True,
)
def page(
    run_id: str,
    task: str,
    store: StoreDep,
    settings: SettingsDep,
    secrets: SecretsDep,
    _: Viewer,
    attempt: AttemptQuery = None,
    offset: OffsetQuery = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_BYTES, description="bytes")] = PAGE_BYTES,
    times: TimesQuery = False,
) -> dict[str, Any]:
    """A page of an attempt's log (`task`: a key, or `key.N` for one run of a mapped task)."""
    log = _find(store, run_id, task, attempt)
    text, next_offset, complete, line_times = _read(store, settings, log, offset, limit, times)
    return {
        "run_id": log.run_id,
        "task": log.task,
        "attempt": log.attempt,
        "offset": offset,
        "next_offset": next_offset,
        "text": secrets.mask(text),
        "complete": complete,
        "times": line_times,
    }


@router.get(
    "/runs/{run_id}/logs/{task}/stream",
    name="logs.stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
def stream(
    run_id: str,
    task: str,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    secrets: SecretsDep,
    _: Viewer,
    attempt: AttemptQuery = None,
    offset: OffsetQuery = 0,
    times: TimesQuery = False,
    last_event_id: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> StreamingResponse:
    """An attempt's log as server-sent events: `data:` events with new text while it runs
    (each with the `id` of the offset after it, so a reconnecting client goes on from there),
    with `times=true` each after an `event: times` with the JSON list of when its lines were
    written (see `LogPage.times`), then `event: end` with `{"next_offset", "complete"}`."""
    log = _find(store, run_id, task, attempt)
    if last_event_id and last_event_id.isdigit():
        offset = int(last_event_id)
    events = _tail(request.app.state.stores, settings, log, offset, secrets, times)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


async def _tail(
    pool: StorePool, settings: Settings, log: _Log, offset: int, secrets: Secrets, times: bool
) -> AsyncIterator[str]:
    started = last_sent = time.monotonic()

    while True:
        async with pool.lend() as store:  # the request's store went back to the pool already
            text, next_offset, complete, line_times = await run_in_threadpool(
                _read, store, settings, log, offset, PAGE_BYTES, times
            )
        if next_offset > offset:
            offset = next_offset
            if text:
                last_sent = time.monotonic()
                if line_times is not None:
                    yield _event(json.dumps(line_times), event="times")
                yield _event(secrets.mask(text), id=str(offset))
            continue  # more may be there already
        timed_out = time.monotonic() - started >= STREAM_SECONDS
        if complete or timed_out:
            end = {"next_offset": offset, "complete": not timed_out}
            yield _event(json.dumps(end), event="end")
            return
        if time.monotonic() - last_sent >= KEEPALIVE:
            last_sent = time.monotonic()
            yield ": keepalive\n\n"
        await anyio.sleep(POLL)


def _event(data: str, *, id: str | None = None, event: str | None = None) -> str:
    # Each line of the text is a `data:` line; the client joins them with newlines. A CR is
    # a line break in SSE too, so any line break becomes one.
    lines = [f"event: {event}"] if event else []
    if id is not None:
        lines.append(f"id: {id}")
    lines += [
        f"data: {line}" for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    ]
    return "\n".join(lines) + "\n\n"


def _find(store: Store, run_id: str, task: str, attempt: int | None) -> _Log:
    """The log of a task run's attempt (default: its latest); NotFoundError naming what is
    missing."""
    read = store.read()
    run_id = read.resolve_run_id(run_id)
    key, index = task, -1
    rows = [r for r in read.task_runs(run_id, [task]) if r.map_index == -1]
    if not rows:  # `key.N` (or `key[N]`): one run of a mapped task
        key, _, n = task.replace("[", ".").rstrip("]").rpartition(".")
        if key and n.isdigit():
            index = int(n)
            rows = [r for r in read.task_runs(run_id, [key]) if r.map_index == index]
    if not rows:
        raise NotFoundError(f"run {run_id} has no task '{task}'")
    row = rows[0]
    name = task_run_name(key, index)
    if row.attempts == 0:
        raise NotFoundError(f"task '{name}' of run {run_id} has no attempt yet ({row.state})")
    number = attempt or row.attempts
    if number > row.attempts:
        raise NotFoundError(
            f"task '{name}' of run {run_id} has {row.attempts} attempt(s), not {number}"
        )
    return _Log(run_id, name, row.id, number)


def _read(
    store: Store, settings: Settings, log: _Log, offset: int, limit: int, times: bool = False
) -> logs.LogRead:
    """See `logs.read_attempt_log`."""
    row = store.read().attempt(log.task_run_id, log.attempt)
    if row is None:  # as good as ended with nothing printed (the claim counting it made it)
        return logs.LogRead("", offset, True, [] if times else None)
    return logs.read_attempt_log(store, settings, row, log.task, offset, limit, times=times)
