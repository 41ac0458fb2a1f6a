"""Ctrl-C and SIGTERM while a run works in this process: the first cancels it."""

from __future__ import annotations

import signal
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def cancel_on_signal(cancel: Callable[[], object]) -> Iterator[None]:
    """The first Ctrl-C or SIGTERM cancels the run (tasks stopped, state recorded)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: types.FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C stops hard
        cancel()

    old_int = signal.signal(signal.SIGINT, handler)
    old_term = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
