"""The timers of a cluster, run by `baton server` (and `baton scheduler`).

Workers make successors ready as tasks end, so nothing here sits between a task and the
next. What is left needs a clock: attempts whose worker stopped heartbeating (their lease
expired: failed as lost and retried per policy), retries and waiting tasks whose time came,
and schedules and event triggers. Exactly one process does this at a time: the holder of
the `scheduler` lock, a row in the store with an expiry that its holder renews each round,
so a second server stands by and takes over within LOCK_TTL of the first one dying.

Notifications are sent beside the rounds, by a thread with its own store connection: an
SMTP server that hangs must not hold up leases, retries and schedules (nor outlive the
lock). Every server sends; a row is claimed before it is sent, so none goes out twice.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import time
from collections.abc import Callable
from typing import Protocol

from baton.engine.service import Engine, new_id
from baton.errors import StoreError
from baton.execution.secrets import Secrets
from baton.execution.worker import end_lost, hostname, lost_attempts
from baton.notify import outbox
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
        clock: Callable[[], float] = time.time,
        holder: str | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.scheduler = scheduler
        self.clock = clock
        self.holder = holder or f"{hostname()}:{new_id(4)}"
        self.leader = False

    def tick(self) -> float:
        """One round, if this process holds the lock; the seconds until the next round."""
        store = self.engine.store
        with store.transaction() as tx:
            self.leader = tx.acquire_lock(LOCK, self.holder, self.clock(), LOCK_TTL)
        if not self.leader:
            return LOCK_TTL / 4
        end_lost(
            self.engine,
            self.settings,
            lost_attempts(store, None, None),
            "its worker stopped responding (lease expired)",
        )
        due = [self.engine.wake_due()]
        if self.scheduler is not None:
            due.append(self.scheduler.tick())
        soonest = min((t for t in due if t is not None), default=None)
        if soonest is None:
            return POLL
        return min(POLL, max(soonest - self.clock(), 0.0))

    def release(self) -> None:
        with store_errors_ignored(self.engine), self.engine.store.transaction() as tx:
            tx.release_lock(LOCK, self.holder)


def serve(timers: Timers, stop: threading.Event) -> None:
    """Run rounds until `stop` is set; a lost database connection is retried with backoff.
    Notifications are sent meanwhile, in a thread."""
    sender = threading.Thread(
        target=outbox.serve,
        args=(timers.settings, stop),
        kwargs={"secrets": functools.partial(Secrets.load, timers.settings)},
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
                print(f"baton: database error ({exc}); retrying in {backoff:.1f}s", file=sys.stderr)
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
