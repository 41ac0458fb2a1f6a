"""What every task type module provides: a config model and an execute function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from baton.errors import BatonError
from baton.model.context import TaskContext
from baton.model.spec import Spec


class TaskConfig(Spec, frozen=True):
    """Base of the type-specific fields of a task (the `config` of its TaskSpec)."""


class TaskFailed(BatonError):
    """A task type's own failure (a non-zero exit code, an error in a child process).

    `error_types` are the qualified class names of the original error, for `retry_on`;
    `retryable=False` fails the task at once whatever its retry policy (e.g. HTTP 4xx).
    """

    def __init__(
        self,
        message: str,
        *,
        error_types: tuple[str, ...] = (),
        traceback: str | None = None,
        retryable: bool = True,
    ) -> None:
        super().__init__(message)
        self.error_types = error_types
        self.traceback = traceback
        self.retryable = retryable


class Defer(BatonError):
    """Raised by a task type to wait without holding a worker slot (state `waiting`).

    The attempt goes on when the task runs again: at `wake_at` (UNIX time), or earlier when
    something wakes it (a sub-flow run ending); `state` is handed back as ctx.resume_state.
    """

    def __init__(self, *, wake_at: float | None, state: dict[str, Any]) -> None:
        super().__init__("waiting")
        self.wake_at = wake_at
        self.state = state


def _no_user_code(config: dict[str, Any]) -> bool:
    return False


def always_user_code(config: dict[str, Any]) -> bool:
    return True


# What a task's code is, for the default key of its cached results (`execution.cache_keys`):
# ("python", a function), ("script", a file whose bytes are the code) or ("sql", a text);
# None when the task's definition says it all (a shell command) or its config is templated.
Code = tuple[Literal["python", "script", "sql"], Any] | None


def _code_in_definition(ctx: TaskContext, config: dict[str, Any]) -> Code:
    return None


class TaskType(NamedTuple):
    """A task type: its name, config model and execute function, and the facts the API and
    UI need about it (said here once, not in lists of type names there)."""

    name: str
    config: type[TaskConfig]
    execute: Callable[[TaskContext, Any], Any]
    # The icon the UI shows (`#t-<icon>` in the page's sprite).
    icon: str
    # Whether a task with this (raw) config imports the flow's Python code: the API server
    # never imports user code, so such a flow is deployed with `baton deploy` instead.
    user_code: Callable[[dict[str, Any]], bool] = _no_user_code
    # The task's code (a raw config: its references are not resolved), which a cached
    # result's default key hashes so that an edit recomputes it.
    code: Callable[[TaskContext, dict[str, Any]], Code] = _code_in_definition
