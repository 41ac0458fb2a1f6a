"""What every task type module provides: a config model and an execute function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from baton.errors import BatonError
from baton.model.context import TaskContext
from baton.model.spec import Spec
from baton.model.states import ErrorKind


class TaskConfig(Spec, frozen=True):
    """Base of the type-specific fields of a task (the `config` of its TaskSpec)."""


class TaskFailed(BatonError):
    """A task type's own failure (a non-zero exit code, an error in a child process).

    `error_types` are the qualified class names of the original error, for `retry_on`;
    `retryable=False` fails the task at once whatever its retry policy (e.g. HTTP 4xx);
    `error_kind` LOST says the infrastructure failed it (a remote cluster went away).
    """

    def __init__(
        self,
        message: str,
        *,
        error_types: tuple[str, ...] = (),
        traceback: str | None = None,
        retryable: bool = True,
        error_kind: ErrorKind = ErrorKind.USER,
    ) -> None:
        super().__init__(message)
        self.error_types = error_types
        self.traceback = traceback
        self.retryable = retryable
        self.error_kind = error_kind


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


def _branch_field(config: dict[str, Any]) -> bool:
    return bool(config.get("branch"))


def always_user_code(config: dict[str, Any]) -> bool:
    return True


# What a task's code is, for the default key of its cached results (`execution.cache_keys`):
# ("python", a function), ("script", a file whose bytes are the code) or ("sql", a text);
# None when the task's definition says it all (a shell command) or its config is templated.
Code = tuple[Literal["python", "script", "sql"], Any] | None


def _code_in_definition(ctx: TaskContext, config: dict[str, Any]) -> Code:
    return None


class TaskType(NamedTuple):
    """A task type: what every type declares, built-in or plugin (entry point group
    `baton.task_types`, see `baton.tasks.plugins`).

    - `name`: what a task's `type:` says.
    - `config`: a `TaskConfig` subclass (a frozen msgspec Struct) naming and validating the
      type's fields; an unknown or invalid field is a DefinitionError naming it, when the
      flow is loaded (or, for a field holding a template or a reference, at run time).
    - `execute(ctx, config)`: runs one attempt in a worker thread and returns the task's
      result (JSON-able). It raises `TaskFailed` for a failure of its own, `baton.Skip` to
      end the task skipped, `Defer` to wait without holding a worker slot.
    - Timeout and cancel: the worker calls `ctx.interrupt(kind)`; the type stops its work
      in a hook registered with `ctx.on_interrupt(hook)` (kill a process group, stop a
      container) and then raises `ctx.interrupted(...)`, or polls `ctx.interrupted` /
      `ctx.wait_interrupt(seconds)` between steps. Child processes go through
      `baton.tasks.process`, which does all of this for them.
    - `icon`: the UI's icon (`#t-<icon>`; one it does not draw shows as `plugin`).
    - `user_code(config)`: whether the task imports the flow's Python code.
    - `branches(config)`: whether the task is a branch: its result is the downstream key
      (or keys) to follow, the others are skipped (default: its `branch` field says so).
    - `code(ctx, config)`: what a cached result's default key hashes as the task's code.
    - `requires` / `extra`: modules the type imports when it runs, checked when a flow is
      loaded, and the extra that installs them (`pip install 'baton[notebook]'`; for a
      plugin, the extra of its own distribution).
    """

    name: str
    config: type[TaskConfig]
    execute: Callable[[TaskContext, Any], Any]
    icon: str
    user_code: Callable[[dict[str, Any]], bool] = _no_user_code
    branches: Callable[[dict[str, Any]], bool] = _branch_field
    code: Callable[[TaskContext, dict[str, Any]], Code] = _code_in_definition
    requires: tuple[str, ...] = ()
    extra: str | None = None
