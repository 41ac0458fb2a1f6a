"""Clients that wait for the database (`--wait-for-db SECONDS`).

A database that cannot be reached is often only restarting, failing over or not up yet (a
worker started with it): a client that can wait tries again with backoff, one line per try,
for up to its patience, and then gives up with StoreUnavailable (the CLI's exit 3). The
patience counts from the start of the outage, so a client that waits for a long run to end
survives any number of short outages. A URL that is wrong (no such database, a bad
password) fails at once: waiting would not make it right.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from baton.errors import StoreUnavailable
from baton.store.store import Store

T = TypeVar("T")
Say = Callable[[str], object]

PATIENCE = 60.0  # seconds: the default of --wait-for-db
BACKOFF_MIN = 0.5  # first wait between tries, doubled up to BACKOFF_MAX
BACKOFF_MAX = 5.0


def open_store(url: str, patience: float, say: Say) -> Store:
    """The store at `url`, once its database can be reached (within `patience` seconds).

    Raises:
        StoreUnavailable: it could not be reached for `patience` seconds.
        StoreError: the URL or the database is wrong (not worth waiting for).
    """
    outage = Outage(patience, say)
    while True:
        try:
            return Store(url)
        except StoreUnavailable as exc:
            outage.wait(str(exc))


def patiently(store: Store, patience: float, say: Say, read: Callable[[], T]) -> T:
    """`read()`, again as often as the store's connection is lost and reopened meanwhile.

    `read` must be safe to repeat (it only reads, or waits for something to happen): a
    transaction cut off mid-way may or may not have committed, so writes are not retried.

    Raises:
        StoreUnavailable: the connection could not be reopened for `patience` seconds.
    """
    while True:
        try:
            return read()
        except store.errors as exc:
            if not store.broken:
                raise  # the connection is fine: this is no outage to wait out
            reason = f"lost the connection to {store.shown_url}: {store.describe(exc)}"
        outage = Outage(patience, say)
        while True:
            outage.wait(reason)
            try:
                store.reconnect()
                break
            except StoreUnavailable as exc:
                reason = str(exc)


class Outage:
    """The waits of one outage: backoff, one line each, and the end of the patience (a
    client of the API waits for its server the same way)."""

    def __init__(self, patience: float, say: Say) -> None:
        self.patience, self.say = patience, say
        self.started = time.monotonic()
        self.backoff = BACKOFF_MIN
        self.tries = 0

    def wait(self, reason: str) -> None:
        """Say why, then sleep before the next try; StoreUnavailable when patience is out."""
        self.tries += 1
        waited = time.monotonic() - self.started
        left = self.patience - waited
        if left <= 0:
            given = f"; gave up after {waited:.0f}s (--wait-for-db {self.patience:g})"
            raise StoreUnavailable(reason + (given if self.patience > 0 else ""))
        pause = min(self.backoff, left)
        self.say(
            f"{one_line(reason)}; try {self.tries}, next in {pause:.1f}s "
            f"(waiting up to {self.patience:g}s)"
        )
        time.sleep(pause)
        self.backoff = min(self.backoff * 2, BACKOFF_MAX)


def one_line(text: str) -> str:
    return " ".join(text.split())
