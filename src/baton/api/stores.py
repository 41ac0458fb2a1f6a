"""Store connections for the API's requests.

A `Store` is one connection, used by one thread at a time; FastAPI runs plain `def` routes in
a thread pool. So the API keeps a few stores and lends one to each request: opening a
PostgreSQL connection per request would cost more than most answers take.

A request waits for a store for a bounded time (`WAIT`), then is answered 503 with
`Retry-After`: a server with more callers than it can serve says so rather than queueing
them without end. An API request waits on the event loop (`lend`), holding no thread: the
thread pool (40 threads) is left to the requests that hold a store, so they always find one
to run on. (Requests that blocked a thread while they waited, with the holders waiting for a
thread, once froze the server for good: issue #11.) The UI's pages, plain `def` functions
already on a thread, wait there (`store`), for the same bounded time.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from baton import errors
from baton.store.store import Store

SIZE = 8  # stores per server: well under the 40 threads that run the requests holding them
WAIT = 5.0  # seconds a request waits for a store before it is answered 503
RETRY_AFTER = 1  # seconds, in that 503's Retry-After


class Busy(HTTPException):
    """Every store is in use and stayed so for `WAIT` seconds: 503, try again later."""

    def __init__(self) -> None:
        super().__init__(
            503,
            f"the server is busy (every store connection in use for {WAIT:g} s): "
            f"try again in {RETRY_AFTER} s",
            headers={"Retry-After": str(RETRY_AFTER)},
        )


class StorePool:
    def __init__(self, url: str, size: int = SIZE, wait: float = WAIT) -> None:
        self.url = url
        self.wait = wait
        self._idle: queue.LifoQueue[Store] = queue.LifoQueue()
        self._slots = Slots(size)

    @classmethod
    def of(cls, store: Store) -> StorePool:
        """A pool of the one store given (requests take turns on it)."""
        pool = cls(store.url, size=1)
        pool._idle.put(store)
        return pool

    @asynccontextmanager
    async def lend(self) -> AsyncIterator[Store]:
        """A store for a request, waited for on the event loop; `Busy` after `wait` seconds."""
        if not await self._slots.take_async(self.wait):
            raise Busy
        try:
            try:
                store = self._idle.get_nowait()
            except queue.Empty:  # a new connection, made on a thread: connecting takes a while
                store = await run_in_threadpool(Store, self.url)
        except BaseException:
            self._slots.give_back()
            raise
        try:
            if store.broken:  # the database went away since its last use: try a new one
                await run_in_threadpool(_reconnect, store)
            yield store
        except BaseException as exc:
            if _may_be_broken(exc):
                await run_in_threadpool(_reconnect, store)
                _unavailable(store, exc)
            raise
        finally:
            self._idle.put(store)
            self._slots.give_back()

    @contextmanager
    def store(self) -> Iterator[Store]:
        """A store for code on a thread; `Busy` after `wait` seconds."""
        if not self._slots.take(self.wait):
            raise Busy
        try:
            store = self._take()
            try:
                if store.broken:
                    _reconnect(store)
                yield store
            except BaseException as exc:
                if _may_be_broken(exc):
                    _reconnect(store)
                    _unavailable(store, exc)
                raise
            finally:
                self._idle.put(store)
        finally:
            self._slots.give_back()

    def _take(self) -> Store:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return Store(self.url)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def _may_be_broken(exc: BaseException) -> bool:
    """Whether an error may have come from the connection (an answer such as 404 or 422 did
    not, nor a cancelled request: the store is fine)."""
    if not isinstance(exc, Exception) or isinstance(exc, HTTPException | RequestValidationError):
        return False
    return not isinstance(exc, errors.BatonError) or isinstance(exc, errors.StoreError)


def _unavailable(store: Store, exc: BaseException) -> None:
    """A driver's error (the database went away mid-request) as baton's: a 503 whose one
    line has no password in it, rather than a 500 with a traceback in the server's log."""
    if isinstance(exc, store.errors) and not isinstance(exc, errors.BatonError):
        raise errors.StoreUnavailable(
            f"the database is unavailable, try again: {store.describe(exc)}"
        ) from None


def _reconnect(store: Store) -> None:
    # A broken connection is not lent again; a new one replaces it.
    with suppress(Exception):
        store.reconnect()


class _Waiter:
    """One caller waiting for a slot: a thread (an event) or a coroutine (a future on its
    loop). `granted` is set, under the slots' lock, when a slot is handed to it."""

    __slots__ = ("event", "future", "granted", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.granted = False
        self.loop = loop
        self.event = threading.Event() if loop is None else None
        self.future: asyncio.Future[None] | None = loop.create_future() if loop else None

    def wake(self) -> bool:
        """Tell it it has a slot; False if it cannot be told (its loop has closed)."""
        if self.event is not None:
            self.event.set()
            return True
        assert self.loop is not None and self.future is not None
        try:
            self.loop.call_soon_threadsafe(_resolve, self.future)
        except RuntimeError:
            return False
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Slots:
    """A counting semaphore that threads and coroutines can both wait on, first come first
    served, each for a bounded time. (`threading.Semaphore` would hold a thread to wait;
    `asyncio.Semaphore` cannot be used from a thread.) A slot given back goes straight to the
    first waiter, so a steady stream of new callers cannot starve those already waiting."""

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._free = size
        self._waiters: deque[_Waiter] = deque()

    def take(self, timeout: float) -> bool:
        """Take a slot, waiting on this thread up to `timeout` seconds; whether one was taken."""
        with self._lock:
            if self._free:
                self._free -= 1
                return True
            waiter = _Waiter()
            self._waiters.append(waiter)
        assert waiter.event is not None
        waiter.event.wait(timeout)
        return self._settle(waiter)

    async def take_async(self, timeout: float) -> bool:
        """Take a slot, waiting on the event loop up to `timeout` seconds; whether one was
        taken. Cancelled while waiting, it takes none."""
        with self._lock:
            if self._free:
                self._free -= 1
                return True
            waiter = _Waiter(asyncio.get_running_loop())
            self._waiters.append(waiter)
        assert waiter.future is not None
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
        except TimeoutError:
            pass
        except BaseException:
            if self._settle(waiter):  # handed one just as it was cancelled: pass it on
                self.give_back()
            raise
        return self._settle(waiter)

    def _settle(self, waiter: _Waiter) -> bool:
        """Whether `waiter` was given a slot; if not, it stops waiting."""
        with self._lock:
            if not waiter.granted:
                with suppress(ValueError):  # give_back dropped it already (its loop closed)
                    self._waiters.remove(waiter)
            return waiter.granted

    def give_back(self) -> None:
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                waiter.granted = waiter.wake()
                if waiter.granted:
                    return
            self._free += 1
