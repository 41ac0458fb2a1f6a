"""The one exception tree of baton. Every message says what is wrong and what to do.

    BatonError
    ├── DefinitionError        a flow definition is invalid (file, flow, task named)
    ├── InputError             a user's input is invalid (CLI argument, param, payload)
    │   └── ParamError         an unknown, missing or ill-typed flow param
    ├── NotFoundError          a flow, run, task or attempt that does not exist
    ├── ConflictError          it exists already (a run for this flow and logical date)
    ├── TransitionError        a forbidden or stale state transition (lost a race)
    ├── StoreError             the store cannot be used as it is (e.g. old schema)
    │   ├── StoreUnavailable   its database cannot be reached (CLI exit 3)
    │   └── StoreCannotWrite   its disk is full, read-only or corrupt (CLI exit 3)
    ├── TaskFailed             a task type's own failure (baton.tasks.base)
    ├── Defer                  a task type waits without a slot (baton.tasks.base)
    ├── WebhookError           a webhook answered with an error (baton.notify.webhook)
    ├── LineageError           an OpenLineage sink refused an event (baton.notify.lineage)
    ├── CacheKeyError          a task's cache key cannot be computed (baton.execution.cache_keys)
    ├── ResultGone             a stored result cannot be read back (baton.execution.results)
    ├── NotAnApprover          the caller may not decide an approval (baton.execution.approvals)
    └── RemoteError            the server refused or could not answer (baton.cli.remote)

The last eight live beside what raises them, as only that code and its callers use them.
Defer is no error but the runner's signal from a task type; it stays an Exception, as only
baton's own code raises it, after the user's code has returned.

Control signals derive from BaseException, so a user's `except Exception` cannot swallow them:

    Skip                       raised by a task to end itself skipped
    TaskInterrupt              injected into a running task
    ├── TaskTimeout            it ran past its timeout
    └── TaskCancelled          its run was cancelled
"""

from __future__ import annotations


class BatonError(Exception):
    """Base of every exception baton raises on purpose, but the control signals below."""


class DefinitionError(BatonError):
    """A flow definition is invalid; the message names the file, flow and task."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        flow: str | None = None,
        task: str | None = None,
        line: int | None = None,
    ) -> None:
        self.file, self.flow, self.task, self.line = file, flow, task, line
        where = []
        if file:
            where.append(f"{file}:{line}" if line else file)
        if flow:
            where.append(f"flow '{flow}'")
        if task:
            where.append(f"task '{task}'")
        self.message = message
        super().__init__(f"{', '.join(where)}: {message}" if where else message)

    def located(self, *, file: str | None = None, flow: str | None = None) -> DefinitionError:
        """The same error with the file and flow filled in where they were unknown."""
        return DefinitionError(
            self.message,
            file=self.file or file,
            flow=self.flow or flow,
            task=self.task,
            line=self.line,
        )


class InputError(BatonError):
    """A user's input is invalid; nothing was changed."""


class ParamError(InputError):
    """A flow param is unknown, missing or of the wrong type."""

    def __init__(self, message: str, problems: tuple[tuple[str, str, str], ...] = ()) -> None:
        super().__init__(message)
        # (param, kind: unknown | missing | invalid, message) each: the API names the field.
        self.problems = problems


class NotFoundError(BatonError):
    """The named object does not exist; check the id or name."""


class ConflictError(BatonError):
    """What was to be created exists already; nothing was changed."""


class TransitionError(BatonError):
    """A state change was refused: it is not allowed, or another process changed it first."""


class StoreError(BatonError):
    """The store cannot be used as it is; the message says how to fix it."""


class StoreUnavailable(StoreError):
    """The database cannot be reached (for longer than the caller would wait): it is down,
    restarting, or out of the network's reach. Waiting and trying again may work."""

    exit_code = 3  # what `baton` exits with: not a failed run (1), not bad input (2)


class StoreCannotWrite(StoreError):
    """The store refuses to record anything, for a fault of this machine that waiting will
    not mend: its disk is full, its file read-only or corrupt. Free space (or repair the
    file), then `baton runs resume RUN` carries the run on."""

    exit_code = 3


class Skip(BaseException):
    """Raise inside a task to end it `skipped`; downstream tasks follow their trigger rules."""


class TaskInterrupt(BaseException):
    """Injected into a running task to stop it. Do not catch it."""


class TaskTimeout(TaskInterrupt):
    """The task ran past its timeout."""


class TaskCancelled(TaskInterrupt):
    """The task's run was cancelled."""
