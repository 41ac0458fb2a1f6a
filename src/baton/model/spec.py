"""FlowSpec: the one JSON-serialisable form every flow definition compiles to.

Python decorators and YAML files both produce a FlowSpec; the store keeps it as a FlowVersion
keyed by its content hash; the engine and workers read only this, never user objects.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from baton.model.trigger_rules import TriggerRule

ParamType = Literal["string", "integer", "number", "boolean", "array", "object", "any"]

# Task results and params referenced inside python task arguments are encoded as these
# one-key objects, so the arguments stay plain JSON.
REF_KEY = "__baton_ref__"
PARAM_KEY = "__baton_param__"
DEFAULT_QUEUE = "default"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ParamSpec(_Frozen):
    type: ParamType = "any"
    default: Any = None
    required: bool = False
    description: str | None = None


class RetryPolicy(_Frozen):
    """How a failed attempt is retried.

    The n-th retry waits `delay * backoff ** (n - 1)` seconds, capped at `max_delay`, then
    spread by up to `jitter` (a fraction) either way. `retry_on` limits retries to exceptions
    of those type names (simple or dotted); empty means any error.
    """

    retries: int = Field(default=0, ge=0)
    delay: float = Field(default=0.0, ge=0)
    backoff: float = Field(default=1.0, ge=1.0)
    max_delay: float | None = Field(default=None, ge=0)
    jitter: float = Field(default=0.0, ge=0, le=1)
    retry_on: tuple[str, ...] = ()


class TaskSpec(_Frozen):
    key: str
    type: str
    config: dict[str, Any] = Field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    trigger_rule: TriggerRule = TriggerRule.ALL_SUCCESS
    retry: RetryPolicy = RetryPolicy()
    timeout: float | None = Field(default=None, gt=0)
    queue: str = DEFAULT_QUEUE
    pool: str | None = None
    priority: int = 0
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    map_over: str | None = None


class SourceRef(_Frozen):
    """Where the flow was defined, so workers can import its code."""

    path: str
    code_hash: str


class FlowSpec(_Frozen):
    name: str
    description: str | None = None
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    tasks: tuple[TaskSpec, ...] = ()
    max_active_runs: int | None = Field(default=None, ge=1)
    schedule: str | None = None
    triggers: tuple[dict[str, Any], ...] = ()
    notifications: tuple[dict[str, Any], ...] = ()
    source: SourceRef | None = None

    def task(self, key: str) -> TaskSpec:
        for t in self.tasks:
            if t.key == key:
                return t
        raise KeyError(key)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def content_hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


def ref(key: str) -> dict[str, str]:
    return {REF_KEY: key}


def param_ref(name: str) -> dict[str, str]:
    return {PARAM_KEY: name}


def referenced_keys(value: Any) -> list[str]:
    """Task keys referenced anywhere inside encoded arguments, in order of appearance."""
    found: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            if REF_KEY in v and len(v) == 1:
                found.append(v[REF_KEY])
                return
            for item in v.values():
                walk(item)
        elif isinstance(v, list | tuple):
            for item in v:
                walk(item)

    walk(value)
    return found
