"""Sending the notifications outbox: due rows are claimed, sent, and retried with backoff.

The engine writes a row in the transaction of its event (`engine.notifications`); this
module sends it. Whoever runs the timers (`baton server`, `baton scheduler`) calls `serve`
in a thread of its own, and `baton run` sends its run's notifications while and after it
runs. Several senders may run at once: a row is claimed (compare-and-set on its attempt
count) before it is sent, so it is sent once; a sender that dies mid-send leaves the claim
to expire after CLAIM seconds, then another one sends it (at least once).

A failing notifier never touches a run: its error is logged (one line on stderr), kept on
the row, and the row is tried again after BACKOFF; after the last try it ends `failed`.
Secret values are masked in what is sent, and a `${secret:NAME}` webhook URL is resolved
here, at the last moment. So are the last lines of each failed attempt's log added, by the
`log_tail` the caller gives (`execution.log_tail.last_lines`: reading logs is not ours).

OpenLineage events are outbox rows too, queued by `notify.lineage`'s feed, which `serve`
runs each pass when BATON_OPENLINEAGE_URL or BATON_OPENLINEAGE_FILE is set. A receiver that
fails one event in a pass is not tried again for the others until the next pass.
`baton run` ends with `drain`: batch after batch, for a few seconds at most.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from baton.model.names import task_run_name
from baton.settings import Settings
from baton.store.store import Row, Store

if TYPE_CHECKING:
    from baton.notify import lineage

BACKOFF = (5.0, 30.0, 120.0, 600.0, 1800.0)  # seconds before each retry; then it failed
MAX_ATTEMPTS = len(BACKOFF) + 1
CLAIM = 120.0  # seconds a sender holds a row; must outlast one send (TIMEOUT)
TIMEOUT = 10.0  # seconds one send may take
BATCH = 50  # rows per pass
POLL = 1.0  # seconds between passes of `serve`
AFTER_ERROR = 5.0  # seconds `serve` waits after the store failed it
LINEAGE = "openlineage"  # the event (and channel key) of OpenLineage rows (`notify.lineage`)


class Secrets(Protocol):
    """What sending needs of `baton.execution.secrets.Secrets`."""

    def resolve(self, value: Any) -> Any: ...

    def mask(self, text: str) -> str: ...

    def mask_json(self, value: Any) -> Any: ...


# (store, task run id, attempt number) -> the last lines of that attempt's log, or None.
LogTail = Callable[[Store, int, int], str | None]
LOG_TAILS = 5  # how many failed tasks of a notification get the end of their log


def deliver_due(
    store: Store,
    settings: Settings,
    now: float,
    *,
    secrets: Callable[[], Secrets],
    run_ids: Sequence[str] | None = None,
    timeout: float = TIMEOUT,
    log_tail: LogTail | None = None,
) -> float | None:
    """Send the notifications due at `now` (of these runs only, with `run_ids`), up to
    BATCH of them.

    `secrets` is called once, and only if something is due. Returns when the next pending
    notification is due (None: none is pending).
    """
    _deliver(store, settings, now, secrets, run_ids, timeout, log_tail)
    return store.read().next_notification_at()


def drain(
    store: Store,
    settings: Settings,
    now: float,
    *,
    secrets: Callable[[], Secrets],
    run_ids: Sequence[str] | None = None,
    timeout: float = TIMEOUT,
    log_tail: LogTail | None = None,
    budget: float = TIMEOUT,
) -> None:
    """`deliver_due` again and again while whole batches go out without a failure, for up
    to about `budget` seconds: what `baton run` does as it ends (a run of many tasks has
    two OpenLineage events each)."""
    end = time.monotonic() + budget
    while True:
        handled, failures = _deliver(store, settings, now, secrets, run_ids, timeout, log_tail)
        if handled < BATCH or failures or time.monotonic() >= end:
            return


def _deliver(
    store: Store,
    settings: Settings,
    now: float,
    secrets: Callable[[], Secrets],
    run_ids: Sequence[str] | None,
    timeout: float,
    log_tail: LogTail | None,
) -> tuple[int, int]:
    """One pass of `deliver_due`: how many rows were due, how many failed."""
    rows = store.read().due_notifications(now, BATCH, run_ids)
    loaded: list[Secrets] = []

    def load() -> Secrets:
        if not loaded:
            loaded.append(secrets())
        return loaded[0]

    events = [r for r in rows if r["event"] == LINEAGE]
    failures = _deliver_lineage(store, settings, events, now, load, timeout) if events else 0
    for row in rows:
        if row["event"] == LINEAGE:
            continue
        with store.transaction() as tx:
            if not tx.claim_notification(row["id"], row["attempts"], now + CLAIM):
                continue  # another sender took it
        attempt = row["attempts"] + 1
        try:
            tails = _log_tails(store, row, log_tail)
            send(row, settings, load(), timeout=timeout, tails=tails)
        except Exception as exc:  # any notifier failure: logged and retried, never raised
            error = " ".join((str(exc) or type(exc).__name__).split())  # one line
            if loaded:
                error = loaded[0].mask(error)
            _failed(store, row, attempt, error, now)
            failures += 1
        else:
            with store.transaction() as tx:
                tx.update_notification(row["id"], {"state": "sent", "sent_at": now, "error": None})
    return len(rows), failures


def _deliver_lineage(
    store: Store,
    settings: Settings,
    rows: Sequence[Row],
    now: float,
    secrets: Callable[[], Secrets],
    timeout: float,
) -> int:
    """Send OpenLineage rows: claimed in one transaction, settled in another (a run has
    two events a task: a transaction each would cost more than sending them). A sink that
    fails one is not tried again in this pass: its other rows count the same failure,
    rather than each waiting out its timeout. How many failed."""
    with store.transaction() as tx:
        mine = [r for r in rows if tx.claim_notification(r["id"], r["attempts"], now + CLAIM)]
    down: dict[str, str] = {}  # channel -> its error in this pass
    settled: list[tuple[int, dict[str, Any]]] = []
    for row in mine:
        error = down.get(row["channel"])
        if error is None:
            try:
                send(row, settings, secrets(), timeout=timeout)
            except Exception as exc:  # any sink failure: logged and retried, never raised
                error = secrets().mask(" ".join((str(exc) or type(exc).__name__).split()))
                down[row["channel"]] = error
                fields, then = _retry(row["attempts"] + 1, error, now)
                what = describe(json.loads(row["channel"]))
                print(f"baton: {what} failed: {error}; {then}", file=sys.stderr, flush=True)
        if error is None:
            settled.append((row["id"], {"state": "sent", "sent_at": now, "error": None}))
        else:
            settled.append((row["id"], _retry(row["attempts"] + 1, error, now)[0]))
    with store.transaction() as tx:
        for row_id, fields in settled:
            tx.update_notification(row_id, fields)
    return sum(1 for _, f in settled if f.get("state") != "sent")


def send(
    row: Row,
    settings: Settings,
    secrets: Secrets,
    *,
    timeout: float,
    tails: Mapping[tuple[int, int], str] | None = None,
) -> None:
    """Send one outbox row through its channel; `tails` are the last lines of the failed
    attempts' logs, by (task run id, attempt number), masked here with the rest."""
    # Imported here, like urllib in `describe`: httpx, email and html cost `baton run`
    # ~130 ms at start-up, which only a run that sends something should pay.
    from baton.notify import email, message, webhook

    channel = json.loads(row["channel"])
    payload = json.loads(row["payload"])
    if LINEAGE in channel:  # an event as `notify.lineage` built it, masked
        from baton.notify import lineage

        lineage.send(settings, channel[LINEAGE], secrets.mask_json(payload), timeout=timeout)
        return
    for task in _failed_attempts(payload):
        at = _attempt_of(task)
        if at is not None and at in (tails or {}):
            task["log_tail"] = (tails or {})[at]
    payload = secrets.mask_json(payload)
    asset = row["asset"]
    payload["url"] = (
        f"{settings.base_url}/assets/{asset}"  # asset names need no quoting: model.assets.NAME
        if asset
        else f"{settings.base_url}/runs/{row['run_id']}"
    )
    if payload.get("event") == "approval_required":  # the page where its approvers decide
        t = payload["task"]
        payload["url"] += f"/tasks/{task_run_name(t['key'], t.get('map_index'))}"
    if "email" in channel:
        email.send(
            settings,
            channel["email"],
            message.subject(payload),
            message.text(payload),
            message.html_body(payload),
            timeout=timeout,
        )
    else:
        body = message.slack(payload) if channel.get("format") == "slack" else payload
        webhook.post(secrets.resolve(channel["webhook"]), body, timeout=timeout)


def serve(
    settings: Settings,
    stop: threading.Event,
    *,
    secrets: Callable[[], Secrets],
    root_run_id: str | None = None,
    log_tail: LogTail | None = None,
    feed: lineage.Feed | None = None,
) -> None:
    """Send due notifications every POLL seconds until `stop` is set; with `root_run_id`,
    only those of that run and its sub-flow runs. With OpenLineage configured, each pass
    first queues the events of what happened since the last (`feed`, or a new one; of the
    runs sent only, with `root_run_id`). Has a store connection of its own. Its
    "now" is the store's clock (PostgreSQL's, see `Store.clock`): a claim held until then
    expires by the same clock on every server."""
    store: Store | None = None
    if feed is None and settings.openlineage:
        from baton.notify import lineage  # what only a configured process pays to import

        feed = lineage.Feed(settings)
    try:
        while not stop.is_set():
            try:
                store = store or Store(settings.database_url)
                runs = None if root_run_id is None else store.read().runs_under(root_run_id)
                now = store.clock()
                if feed is not None:
                    _feed(feed, store, now, runs)
                due = deliver_due(
                    store, settings, now, secrets=secrets, run_ids=runs, log_tail=log_tail
                )
                due = None if due is None else time.time() + max(due - now, 0.0)
            # The database is away (or worse): say so and try again, for notifications
            # must never stop what runs them.
            except Exception as exc:
                why = store.describe(exc) if store is not None else exc  # one line
                print(f"baton: sending notifications: {why}", file=sys.stderr, flush=True)
                if store is not None:
                    store.close()
                store, due = None, time.time() + AFTER_ERROR
            wait = POLL if due is None else max(due - time.time(), 0.0)
            if store is not None:
                wait = min(wait, POLL)  # new rows may come at any time
            stop.wait(wait)
    finally:
        if store is not None:
            store.close()


def _feed(feed: lineage.Feed, store: Store, now: float, runs: Sequence[str] | None) -> None:
    try:
        feed.step(store, now, runs)
    except Exception as exc:  # alerts go out even if lineage cannot be queued
        why = store.describe(exc)
        print(f"baton: queueing OpenLineage events: {why}", file=sys.stderr, flush=True)


def describe(channel: Mapping[str, Any]) -> str:
    """A channel as a log line names it: addresses, or a webhook's host (its URL often
    holds a token)."""
    if "email" in channel:
        return "email to " + ", ".join(channel["email"])
    if LINEAGE in channel:  # its URL is this process's setting, not the row's
        return f"OpenLineage {channel[LINEAGE]}"
    import urllib.parse

    url = str(channel["webhook"])
    host = urllib.parse.urlsplit(url).hostname if url.startswith("http") else None
    return f"webhook {host or url}"


def _failed_attempts(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The failed attempts a payload reports (a failure's first tasks, a retry's one)."""
    if payload.get("event") == "retry":
        return [payload["task"]]
    return list(payload.get("failed_tasks", ()))[:LOG_TAILS]


def _attempt_of(task: Mapping[str, Any]) -> tuple[int, int] | None:
    """(task run id, attempt number) of a reported task; None for a row an older baton
    wrote, or a task that failed before any attempt ran (upstream, a bad map)."""
    task_run_id, attempt = task.get("task_run_id"), task.get("attempt")
    if not isinstance(task_run_id, int) or not isinstance(attempt, int) or attempt < 1:
        return None
    return task_run_id, attempt


def _log_tails(store: Store, row: Row, log_tail: LogTail | None) -> dict[tuple[int, int], str]:
    if log_tail is None or row["event"] not in ("failure", "retry"):
        return {}
    tails = {}
    for task in _failed_attempts(json.loads(row["payload"])):
        at = _attempt_of(task)
        if at is None:
            continue
        try:
            tail = log_tail(store, *at)
        except Exception as exc:  # a log that cannot be read: the message goes without it
            print(f"baton: reading a log for a notification: {exc}", file=sys.stderr, flush=True)
            continue
        if tail:
            tails[at] = tail
    return tails


def _retry(attempt: int, error: str, now: float) -> tuple[dict[str, Any], str]:
    """What a failed try of a row's `attempt`-th attempt sets on it, and what a log says."""
    if attempt >= MAX_ATTEMPTS:
        return {"state": "failed", "error": error}, f"giving up after {attempt} attempts"
    delay = BACKOFF[attempt - 1]
    return {"next_at": now + delay, "error": error}, f"retrying in {delay:g}s"


def _failed(store: Store, row: Row, attempt: int, error: str, now: float) -> None:
    channel = describe(json.loads(row["channel"]))
    what = f"notification {row['event']} of run {row['run_id']} ({channel})"
    fields, then = _retry(attempt, error, now)
    print(f"baton: {what} failed: {error}; {then}", file=sys.stderr, flush=True)
    with store.transaction() as tx:
        tx.update_notification(row["id"], fields)
