"""What an import could not carry over, and typed access to the job's fields.

Every problem is recorded with the path of the field in the Databricks job
(`tasks[load].new_cluster`), so the user can find it in the file they gave.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

from baton.errors import DefinitionError
from baton.model.yaml_fields import kind, show


@dataclass
class Report:
    """What was dropped. `unsupported`: what changes how the flow runs (an error with
    --strict); `notes`: what a baton flow does not need (compute, libraries, metadata)."""

    strict: bool
    unsupported: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def unsupported_field(self, path: str, why: str) -> None:
        self.unsupported.append(f"{path}: {why}")

    def note(self, path: str, why: str) -> None:
        self.notes.append(f"{path}: {why}")

    def check(self) -> None:
        """With --strict, every unsupported field at once, so one pass fixes them all."""
        if self.strict and self.unsupported:
            listed = "\n  ".join(self.unsupported)
            raise DefinitionError(
                f"{len(self.unsupported)} field(s) cannot be imported (--strict):\n  {listed}"
            )


def fail(path: str, problem: str) -> NoReturn:
    raise DefinitionError(f"{path} {problem}")


def mapping(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail(path, f"must be an object, got {kind(value)}")
    for key in value:
        if not isinstance(key, str):
            fail(path, f"has a key that is not a string: {key!r}")
    return value


def optional_mapping(data: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = data.get(key)
    return {} if value is None else mapping(value, f"{path}.{key}" if path else key)


def items(data: dict[str, Any], key: str, path: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        fail(f"{path}.{key}" if path else key, f"must be a list, got {kind(value)}")
    return value


def text(data: dict[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    where = f"{path}.{key}" if path else key
    if value is None:
        if required:
            fail(where, "is missing")
        return None
    if not isinstance(value, str) or not value.strip():
        fail(where, f"must be a non-empty string, got {show(value)}")
    return value


def integer(data: dict[str, Any], key: str, path: str, *, minimum: int = 0) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value < 2**31:
        where = f"{path}.{key}" if path else key
        fail(where, f"must be an integer from {minimum} to 2**31 - 1, got {show(value)}")
    return value


def strings(data: dict[str, Any], key: str, path: str) -> list[str]:
    values = items(data, key, path)
    for i, value in enumerate(values):
        if not isinstance(value, str):
            fail(f"{path}.{key}[{i}]", f"must be a string, got {show(value)}")
    return values
