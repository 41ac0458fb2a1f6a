"""OpenLineage through the outbox: a feed turning attempts' starts and ends into outbox
rows, and the two sinks that send them (BATON_OPENLINEAGE_URL, BATON_OPENLINEAGE_FILE).

Why a feed over the state events, not rows written by the engine: every attempt's start and
end is already a state event, written in the transaction that makes it happen (`Tx.claim`,
`Tx.move_attempts`), numbered by the table's primary key. Reading them afterwards keeps the
hot path as it is (the engine has no settings, and a run without OpenLineage pays nothing:
no feed runs), and makes the events of work done before the feed was configured, or while
it was down, a matter of where its cursor is. The feed reads events after its cursor,
builds each event (`notify.openlineage`), and inserts one outbox row per event and sink,
keyed `openlineage:SINK:ATTEMPT:TYPE`, in one transaction; the outbox then sends them like
alerts, with its claims, retries and backoff. Crashes: rows and cursor commit together, and
a row's key is unique, so a reader that dies re-reads from its last commit and a second
reader's inserts do nothing: each event reaches the outbox once, and the outbox sends it at
least once.

Two readers:

- servers (`baton server`, `baton scheduler`: `outbox.serve` without a root run) read every
  run's events with one cursor kept in the store (`feeds`, name `openlineage`), moved by
  compare-and-set, so any number of servers share it and a restarted one goes on where the
  last stopped. It starts at the newest event when it first runs: no backfill of history.
- `baton run` reads only its own runs' events, with a cursor of its own in memory (the run
  index makes that a small read), and reads them all once more as the run ends, so a laptop
  with no server sends the events of its runs. Rows left unsent as it ends (a receiver
  down) wait in the outbox for whoever serves it next: a server, or on a laptop a
  `baton scheduler` started for the purpose.

On PostgreSQL, ids are handed out when an event is written, not when it commits: a reader
stops before any event stamped in the last SETTLE seconds (see `Tx.attempt_changes`), so an
event whose transaction is still open is not passed over. SQLite has one writer at a time:
ids commit in order, no wait.

Event types: an attempt's first `running` is START; `succeeded` COMPLETE; `failed` FAIL (a
timeout and a lost worker too: the task failed, and may retry as a new run); `cancelled`
ABORT (its run was cancelled, or a stopping worker handed it back); `skipped` ABORT too (the
task chose not to run: a COMPLETE would tell the receiver its outputs have a new version).
A waiting attempt that goes on (a sensor's next poke) is the same OpenLineage run: no event.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Sequence
from typing import Any

from baton.errors import BatonError
from baton.model import urls
from baton.model.spec import FlowSpec
from baton.notify import openlineage, outbox
from baton.settings import Settings
from baton.store.claims import attempt_event_state
from baton.store.store import Row, Store

FEED = outbox.LINEAGE  # the feed's name in the `feeds` table, and the outbox rows' event
SETTLE = 5.0  # seconds a PostgreSQL transaction may hold an event id before it commits
SPAN = 1000  # state events read per step at most
MAX_ERROR = 4000  # characters of an attempt's error sent in its errorMessage facet
_KINDS: dict[str | None, openlineage.EventType] = {
    attempt_event_state("succeeded"): "COMPLETE",
    attempt_event_state("failed"): "FAIL",
    attempt_event_state("cancelled"): "ABORT",
    attempt_event_state("skipped"): "ABORT",
}
_VERSIONS = 256  # flow versions whose tasks' assets a feed keeps


class LineageError(BatonError):
    """An OpenLineage event could not be sent (the outbox tries again)."""


def sinks(settings: Settings) -> list[str]:
    """Where events go: "http" (BATON_OPENLINEAGE_URL), "file" (BATON_OPENLINEAGE_FILE)."""
    return [
        s
        for s, on in (("http", settings.openlineage_url), ("file", settings.openlineage_file))
        if on
    ]


class Feed:
    """Turns new attempt state events into outbox rows. Thread-safe: `baton run` steps it
    in its sender thread, then once more as the run ends."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sinks = sinks(settings)
        self._after = 0  # a run's own reader: the last event read
        self._lock = threading.Lock()
        self._assets: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {}
        self._producer: str | None = None

    def step(
        self, store: Store, now: float, run_ids: Sequence[str] | None = None, *, final: bool = False
    ) -> int:
        """Read what happened since the last step, queue its events; how many rows were
        queued. `run_ids`: a run's own reader (`baton run`); none: the store's feed. `final`:
        the run has ended, so read its events to the end, whatever their time."""
        if not self.sinks:
            return 0
        with self._lock:
            if run_ids is not None:
                return self._run_step(store, now, run_ids, final)
            return self._shared_step(store, now)

    def _settled(self, now: float) -> float:
        return now - SETTLE if self.settings.cluster else math.inf

    def _run_step(self, store: Store, now: float, run_ids: Sequence[str], final: bool) -> int:
        queued = 0
        while True:
            settled = math.inf if final else self._settled(now)
            upto, events = store.read().attempt_changes(
                self._after, settled=settled, span=SPAN, run_ids=run_ids
            )
            if upto == self._after:
                return queued
            rows = self._rows(store, events, now)
            if rows:
                with store.transaction() as tx:
                    tx.enqueue_notifications(rows)
            self._after, queued = upto, queued + len(rows)
            if not final:
                return queued

    def _shared_step(self, store: Store, now: float) -> int:
        read = store.read()
        cursor = read.feed_cursor(FEED)
        if cursor is None:
            with store.transaction() as tx:
                tx.start_feed(FEED, tx.last_event_id(), now)
            return 0
        upto, events = read.attempt_changes(cursor, settled=self._settled(now), span=SPAN)
        if upto == cursor:
            return 0
        rows = self._rows(store, events, now)
        try:
            with store.transaction() as tx:
                if rows:
                    tx.enqueue_notifications(rows)
                if not tx.move_feed(FEED, cursor, upto, now):
                    raise _Moved
        except _Moved:  # another server queued these: its rows stand, ours are undone
            return 0
        return len(rows)

    def _rows(self, store: Store, events: Sequence[Row], now: float) -> list[dict[str, Any]]:
        rows = []
        for e in events:
            kind: openlineage.EventType | None = (
                "START" if e["from_state"] is None else _KINDS.get(e["to_state"])
            )
            if kind is None:
                continue
            inputs, outputs = self._task_assets(store, e["version_id"], e["task_key"])
            error = e["error"] if kind in ("FAIL", "ABORT") else None
            event = openlineage.task_event(
                kind,
                namespace=self.settings.openlineage_namespace,
                flow=e["flow_name"],
                task_key=e["task_key"],
                attempt_id=e["attempt_id"],
                started_at=e["started_at"],
                event_time=e["at"],
                run_id=e["run_id"],
                run_created_at=e["run_created_at"],
                inputs=inputs,
                outputs=outputs,
                error=error[:MAX_ERROR] if error else None,
                producer=self.producer,
            )
            payload = json.dumps(event, separators=(",", ":"))
            for sink in self.sinks:
                rows.append(
                    {
                        "key": f"{FEED}:{sink}:{e['attempt_id']}:{kind}",
                        "flow_name": e["flow_name"],
                        "run_id": e["run_id"],
                        "event": FEED,
                        "channel": json.dumps({FEED: sink}),
                        "payload": payload,
                        "next_at": now,
                        "created_at": now,
                    }
                )
        return rows

    def _task_assets(
        self, store: Store, version_id: str, task_key: str
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        tasks = self._assets.get(version_id)
        if tasks is None:
            spec: FlowSpec = store.read().load_version(version_id)
            tasks = {t.key: (t.inputs, t.outputs) for t in spec.tasks}
            if len(self._assets) >= _VERSIONS:
                self._assets.pop(next(iter(self._assets)))
            self._assets[version_id] = tasks
        return tasks.get(task_key, ((), ()))

    @property
    def producer(self) -> str:
        if self._producer is None:
            from importlib.metadata import PackageNotFoundError, version

            try:
                v = version("baton")
            except PackageNotFoundError:
                v = "unknown"
            self._producer = f"https://github.com/baton-dev/baton/tree/{v}"
        return self._producer


class _Moved(Exception):
    """The shared cursor moved under this reader: roll its rows back."""


def send(settings: Settings, sink: str, event: Any, *, timeout: float) -> None:
    """Send one event to `sink` ("http" or "file").

    Raises:
        LineageError: the sink is not configured here, refused the event or cannot be
            reached. Its message never holds the receiver URL's user or password.
    """
    if sink == "http":
        _post(settings.openlineage_url, event, timeout)
    elif sink == "file":
        _append(settings.openlineage_file, event)
    else:
        raise LineageError(f"unknown OpenLineage sink {sink!r} (a row from a newer baton?)")


def _post(url: str | None, event: Any, timeout: float) -> None:
    if not url:
        raise LineageError(
            "BATON_OPENLINEAGE_URL is not set in this process: set it where the outbox is sent"
        )
    import httpx

    target = openlineage.endpoint(url)
    where = _shown(url)
    try:
        # httpx sends a URL's user:password as basic authentication.
        response = httpx.post(target, json=event, timeout=timeout)
    except httpx.HTTPError as exc:
        raise LineageError(
            f"OpenLineage receiver {where}: {urls.redact(str(exc) or type(exc).__name__, url)}"
        ) from None
    if not response.is_success:
        detail = urls.redact(" ".join(response.text.split())[:200], url)
        raise LineageError(
            f"OpenLineage receiver {where} answered HTTP {response.status_code}"
            + (f": {detail}" if detail else "")
        )


def _shown(url: str) -> str:
    """The receiver as messages name it: scheme, host and port, never its user:password."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def _append(path: str | None, event: Any) -> None:
    if not path:
        raise LineageError(
            "BATON_OPENLINEAGE_FILE is not set in this process: set it where the outbox is sent"
        )
    line = (json.dumps(event, separators=(",", ":")) + "\n").encode()
    try:
        # One write of the whole line on an O_APPEND file: lines of several senders do not mix.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        raise LineageError(
            f"BATON_OPENLINEAGE_FILE {path}: {exc.strerror or exc}: make its folder, or "
            "give a file baton can write"
        ) from None
