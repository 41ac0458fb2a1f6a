"""What the `baton` commands share: the store, signals, argument types."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from baton.store.store import Store


def store() -> closing[Store]:
    from baton.settings import Settings
    from baton.store.store import Store

    return closing(Store(Settings.from_env().database_url))


@contextmanager
def stop_on_signal(stop: Any, wake: Callable[[], object] | None = None) -> Iterator[None]:
    """SIGTERM or Ctrl-C sets `stop` (a graceful stop); a second Ctrl-C stops hard."""
    import signal

    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stop.set()
        if wake is not None:
            wake()

    old = signal.signal(signal.SIGINT, handler), signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old[0])
        signal.signal(signal.SIGTERM, old[1])


def whole(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got '{text}'") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def json_option(p: argparse.ArgumentParser, text: str = "print JSON") -> None:
    p.add_argument("--json", action="store_true", help=text)


def path_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--path",
        default=".",
        help="the project folder `baton deploy` was given, here: where relative flow files "
        "and file-trigger globs are found (default: .)",
    )


def port(text: str) -> int:
    value = whole(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(
            f"expected a port number 0-65535 (0: any free one), got {value}"
        )
    return value
