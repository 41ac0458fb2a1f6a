"""Store connections for the API's request threads.

A `Store` is one connection, used by one thread at a time; FastAPI runs plain `def` routes in
a thread pool. So the API keeps a few stores and lends one to each request: opening a
PostgreSQL connection per request would cost more than most answers take.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from baton.store.store import Store


class StorePool:
    def __init__(self, url: str, size: int = 8) -> None:
        self.url = url
        self._idle: queue.LifoQueue[Store] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    @classmethod
    def of(cls, store: Store) -> StorePool:
        """A pool of the one store given (requests take turns on it)."""
        pool = cls(store.url, size=1)
        pool._idle.put(store)
        return pool

    @contextmanager
    def store(self) -> Iterator[Store]:
        with self._slots:
            try:
                store = self._idle.get_nowait()
            except queue.Empty:
                store = Store(self.url)
            try:
                yield store
            except BaseException:
                # A broken connection is not lent again; a new one replaces it.
                with suppress(Exception):
                    store.reconnect()
                raise
            finally:
                self._idle.put(store)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
