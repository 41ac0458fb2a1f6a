"""The timers of a cluster, run by `baton server` (and `baton scheduler`).

Workers make successors ready as tasks end, so nothing here sits between a task and the
next. What is left needs a clock: attempts whose worker stopped heartbeating (their lease
expired: failed as lost and retried per policy), retries and waiting tasks whose time came,
schedules and event triggers, assets' freshness, and escalation steps (`escalation`).
Exactly one process does this at a time: the holder of the `scheduler` lock, a row in the
store with an expiry that its holder renews each round, so a second server stands by and
takes over within LOCK_TTL of the first one dying.

One clock decides all of it: the store's (`Tx.now`; PostgreSQL's own on a cluster store),
which also set the leases and lock expiries being compared. A server whose clock jumps, or
that runs on a machine whose clock disagrees with the workers', fails no live attempt and
fires no schedule early or twice.

Notifications are sent beside the rounds, by a thread with its own store connection: an
SMTP server that hangs must not hold up leases, retries and schedules (nor outlive the
lock). Every server sends; a row is claimed before it is sent, so none goes out twice.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from collections.abc import Callable
from typing import Protocol

from baton.engine.service import Engine, new_id
from baton.errors import StoreError
from baton.execution import log_tail
from baton.execution.lost import end_lost, hostname, lost_attempts
from baton.execution.secrets import Secrets
from baton.notify import outbox
from baton.scheduling import escalation, partition_backfills
from baton.settings import Settings

LOCK = "scheduler"
LOCK_TTL = 10.0  # seconds a holder's lock outlives its last round
POLL = 0.25  # seconds between rounds when nothing is due sooner
RECONNECT_MAX = 5.0
SENDER_GRACE = 1.0  # seconds a stopping server waits for a notification being sent


class Ticker(Protocol):
    def tick(self) -> float | None:
        """Do what is due; the UNIX time something is next due (None: nothing known)."""


class Timers:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        scheduler: Ticker | None = None,
        clock: Callable[[], float] | None = None,
        holder: str | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.scheduler = scheduler
        self.clock = clock or engine.store.clock
        self.holder = holder or f"{hostname()}:{new_id(4)}"
        self.leader = False
        self.escalation = escalation.Evaluator(engine.store)

    def tick(self) -> float:
        """One round, if this process holds the lock; the seconds until the next round."""
        store = self.engine.store
        now = self.clock()
        with store.transaction() as tx:
            self.leader = tx.acquire_lock(LOCK, self.holder, now, LOCK_TTL)
        if not self.leader:
            return LOCK_TTL / 4
        end_lost(
            self.engine,
            self.settings,
            lost_attempts(store, None, None),
            "its worker stopped responding (lease expired)",
        )
        due = [
            self.engine.wake_due(),
            partition_backfills.advance(self.engine),
            self.escalation.tick(now),
        ]
        if self.scheduler is not None:
            due.append(self.scheduler.tick())
        soonest = min((t for t in due if t is not None), default=None)
        if soonest is None:
            return POLL
        return min(POLL, max(soonest - now, 0.0))

    def release(self) -> None:
        with store_errors_ignored(self.engine), self.engine.store.transaction() as tx:
            tx.release_lock(LOCK, self.holder)


def serve(timers: Timers, stop: threading.Event) -> None:
    """Run rounds until `stop` is set; a lost database connection is retried with backoff.
    Notifications are sent meanwhile, in a thread."""
    sender = threading.Thread(
        target=outbox.serve,
        args=(timers.settings, stop),
        kwargs={
            "secrets": functools.partial(Secrets.load, timers.settings),
            "log_tail": functools.partial(log_tail.last_lines, timers.settings),
        },
        name="notifications",
        daemon=True,
    )
    sender.start()
    backoff = 0.1
    try:
        while not stop.is_set():
            try:
                wait = timers.tick()
                backoff = 0.1
            except timers.engine.store.errors as exc:
                why = timers.engine.store.describe(exc)  # one line, no password in it
                print(f"baton: database error ({why}); retrying in {backoff:.1f}s", file=sys.stderr)
                wait, backoff = backoff, min(backoff * 2, RECONNECT_MAX)
                with store_errors_ignored(timers.engine):
                    timers.engine.store.reconnect()
            stop.wait(wait)
    finally:
        timers.release()
        sender.join(SENDER_GRACE)


def store_errors_ignored(engine: Engine) -> contextlib.suppress:
    """Suppress database errors (the store is going away, or will be reconnected)."""
    return contextlib.suppress(*engine.store.errors, StoreError)
