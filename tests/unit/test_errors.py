"""The one exception tree: every baton exception in it, and drawn in its docstring."""

from __future__ import annotations

from baton import errors
from baton.cli.remote import RemoteError
from baton.notify.webhook import WebhookError
from baton.tasks.base import Defer, TaskFailed


def subclasses(cls: type[BaseException]) -> set[type[BaseException]]:
    found = set(cls.__subclasses__())
    return found.union(*(subclasses(c) for c in found))


def test_errors_that_live_beside_their_code_are_in_the_tree() -> None:
    for cls in (TaskFailed, Defer, WebhookError, RemoteError):
        assert issubclass(cls, errors.BatonError), cls


def test_the_docstring_draws_every_class_of_the_tree() -> None:
    assert errors.__doc__ is not None
    lines = errors.__doc__.splitlines()
    drawn = {line.split("── ")[1].split()[0] for line in lines if "── " in line}
    named = {c.__name__ for c in subclasses(errors.BatonError) | subclasses(errors.TaskInterrupt)}
    assert named <= drawn, named - drawn


def test_control_signals_pass_a_users_except_exception() -> None:
    for signal in (errors.Skip, errors.TaskTimeout, errors.TaskCancelled):
        assert not issubclass(signal, Exception)
        try:
            try:
                raise signal()
            except Exception:  # what a task's own code may write
                raise AssertionError(f"{signal.__name__} was swallowed") from None
        except BaseException as exc:
            assert type(exc) is signal
