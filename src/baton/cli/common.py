"""What the `baton` commands share: the store, signals, argument types."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from baton.settings import Settings
    from baton.store.store import Store, Tx


WAIT_FOR_DB = 60.0  # seconds: the default of --wait-for-db


class Context:
    """What every command is given: the settings, read from the environment once per process.

    Read on first use rather than before the command runs, so that a command which needs no
    settings (`baton flows show`, one going through `--server`) does not fail on a variable
    it never reads, and a bad one is reported once, where it is first needed.
    """

    @cached_property
    def settings(self) -> Settings:
        from baton.settings import Settings

        return Settings.from_env()

    def store(self, patience: float = 0.0, who: str = "baton") -> closing[Store]:
        """The store of BATON_DATABASE_URL; with `patience`, once its database can be reached
        within that many seconds (one line on stderr per failed try, prefixed `who`)."""
        from baton.store import waiting

        return closing(waiting.open_store(self.settings.database_url, patience, say(who)))


def say(who: str) -> Callable[[str], None]:
    """A function printing one line to stderr as `who: line` (the waiting clients' log)."""
    import sys

    def print_line(line: str) -> None:
        print(f"{who}: {line}", file=sys.stderr, flush=True)

    return print_line


def wait_for_db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wait-for-db",
        type=seconds,
        default=WAIT_FOR_DB,
        metavar="SECONDS",
        help="while the database cannot be reached, try again for up to this long, then "
        f"give up with exit code 3 (default {WAIT_FOR_DB:g}; 0: do not wait)",
    )


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


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got '{text}'") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def flow_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--flow",
        dest="flow_name",
        help="which flow of the file, if it has several (`name` or `namespace/name`)",
    )
    p.add_argument("--namespace", help="the namespace of --flow (default: its own, or default)")


def flow_of(args: argparse.Namespace) -> str | None:
    """The full name `--flow` and `--namespace` give (`namespace/name`), or None."""
    from baton.model import namespaces

    namespace = getattr(args, "namespace", None)
    if namespace is None or args.flow_name is None:
        return args.flow_name  # type: ignore[no-any-return]
    return namespaces.full_name(
        namespaces.check_namespace(namespace, "--namespace"), args.flow_name
    )


def concurrency_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--concurrency",
        type=positive_int,
        default=16,
        help="how many tasks may run at once (default 16)",
    )


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


def actor() -> str:
    """Who a change made by this command is audited as: `cli:<OS user>`, as an API call is
    audited as its token's user."""
    import getpass
    import os

    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # a container's uid with no passwd entry and no $USER
        name = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"cli:{name}"[:200]


def audit(
    target: Store | Tx,
    action: str,
    object_id: object = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write the audit entry of a change this command made directly on the store (no API in
    between): actor `cli:<OS user>`, `action` named as the API route doing the same
    (`flows.pause`, `tokens.create`, ...). Given a `Tx`, in the change's own transaction, so
    a change is never left unaudited; given a `Store`, in a transaction of its own, after a
    change made in several. `detail` must hold no secret (tokens, URLs with a password)."""
    import json
    import time

    from baton.store import store as stores

    entry = {
        "at": time.time(),
        "actor": actor(),
        "token_id": None,
        "role": None,
        "action": action,
        "object_type": action.split(".", 1)[0],
        "object_id": None if object_id is None else str(object_id)[:300],
        "outcome": "ok",
        "status": 0,  # the command's exit code: only changes that were made are audited
        "remote": None,
        "detail": json.dumps({"via": "cli", **(detail or {})}),
    }
    if isinstance(target, stores.Store):
        with target.transaction() as tx:
            tx.add_audit(entry)
    else:
        target.add_audit(entry)
