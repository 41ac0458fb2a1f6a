"""Entry point of a `python` task run with isolation: process.

    python -m baton.tasks.child IN OUT

IN holds (function reference, sys.path, args, kwargs) pickled; OUT receives
("ok", result), ("skip", message) or ("error", (message, error type names, traceback)).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import pickle
import sys
import traceback
from typing import Any

from baton.errors import Skip


def load(reference: str) -> Any:
    module_name, _, qualname = reference.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return getattr(obj, "fn", obj)  # a baton Task wraps the user's function


def main(argv: list[str]) -> int:
    src, dst = argv
    with open(src, "rb") as f:
        reference, path, args, kwargs = pickle.load(f)
    sys.path[:] = path
    # As in a worker thread: the task's INFO logs reach its log (stderr goes there).
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    outcome: tuple[str, Any]
    try:
        result = load(reference)(*args, **kwargs)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        outcome = ("ok", result)
    except Skip as exc:
        outcome = ("skip", str(exc))
    except Exception as exc:
        traceback.print_exc()
        types = tuple(f"{t.__module__}.{t.__qualname__}" for t in type(exc).__mro__)
        outcome = ("error", (f"{type(exc).__name__}: {exc}", types, traceback.format_exc()))
    with open(dst, "wb") as f:
        pickle.dump(outcome, f)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
