"""FlowSpec: the one JSON-serialisable form every flow definition compiles to.

Python decorators and YAML files both produce a FlowSpec; the store keeps it as a FlowVersion
keyed by its content hash; the engine and workers read only this, never user objects.

The spec types are msgspec Structs rather than pydantic models: the same typed, validated,
JSON-round-tripping values, but importing and building them costs ~15 ms instead of ~160 ms,
which matters when a whole one-task `baton run` has a 300 ms budget. Structs are not
validated by their constructor: untrusted input goes through `validated()` (or
`FlowSpec.from_json`), which checks every field and names the bad one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from baton.model.assets import AssetSpec
from baton.model.cache import CacheSpec
from baton.model.partitions import PartitionsSpec
from baton.model.resources import Resources
from baton.model.trigger_rules import TriggerRule

ParamType = Literal["string", "integer", "number", "boolean", "array", "object", "any"]

# Task results and params referenced inside python task arguments are encoded as these
# one-key objects, so the arguments stay plain JSON.
REF_KEY = "__baton_ref__"
PARAM_KEY = "__baton_param__"
DEFAULT_QUEUE = "default"

NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Positive = Annotated[float, msgspec.Meta(gt=0)]


class Spec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Base of every spec value: immutable, strict about unknown fields.

    Subclasses repeat `frozen=True` so type checkers see them frozen too.
    """


class ParamSpec(Spec, frozen=True):
    type: ParamType = "any"
    items: ParamType | None = None  # the type of an array's elements, when it has one
    default: Any = None
    required: bool = False
    description: str | None = None


class RetryPolicy(Spec, frozen=True):
    """How a failed attempt is retried.

    The n-th retry waits `delay * backoff ** (n - 1)` seconds, capped at `max_delay`, then
    spread by up to `jitter` (a fraction) either way. `retry_on` limits retries to exceptions
    of those type names (simple or dotted); empty means any error.
    """

    retries: Annotated[int, msgspec.Meta(ge=0)] = 0
    delay: NonNegative = 0.0
    backoff: Annotated[float, msgspec.Meta(ge=1)] = 1.0
    max_delay: NonNegative | None = None
    jitter: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0
    retry_on: tuple[str, ...] = ()


class TaskSpec(Spec, frozen=True):
    key: str
    type: str
    config: dict[str, Any] = {}
    depends_on: tuple[str, ...] = ()
    trigger_rule: TriggerRule = TriggerRule.ALL_SUCCESS
    retry: RetryPolicy = RetryPolicy()
    timeout: Positive | None = None
    queue: str = DEFAULT_QUEUE
    pool: str | None = None
    priority: int = 0
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    map_over: str | None = None
    cache: CacheSpec | None = None  # None (omitted): the task does not cache
    resources: Resources | None = None  # None (omitted): nothing in particular
    # Where the UI draws the task: tasks of one group fold into one box (omitted when None,
    # so flows without groups keep their content hash).
    group: str | None = None
    # The task's own entries (`model.notifications.task_entries`); empty is omitted.
    notifications: tuple[dict[str, Any], ...] = ()


class SourceRef(Spec, frozen=True):
    """Where the flow was defined, so workers can import its code."""

    path: str
    code_hash: str


class FlowSpec(Spec, frozen=True):
    name: str
    description: str | None = None
    params: dict[str, ParamSpec] = {}
    # The params in the order they were declared (stored JSON sorts a dict's keys), for
    # forms; empty when that is their sorted order. Not part of the version's hash.
    param_order: tuple[str, ...] = ()
    tasks: tuple[TaskSpec, ...] = ()
    max_active_runs: Annotated[int, msgspec.Meta(ge=1)] | None = None
    schedule: str | dict[str, Any] | None = None  # parse_schedule(...).to_builtins()
    triggers: tuple[dict[str, Any], ...] = ()
    notifications: tuple[dict[str, Any], ...] = ()
    # Declared catalog entries; empty is omitted, so older flows keep their content hash.
    assets: tuple[AssetSpec, ...] = ()
    partitions: PartitionsSpec | None = None  # every run then processes one partition key
    source: SourceRef | None = None
    # How people find the flow (model.labels); empty is omitted, so older flows keep their hash.
    tags: tuple[str, ...] = ()
    owner: str | None = None

    def task(self, key: str) -> TaskSpec:
        for t in self.tasks:
            if t.key == key:
                return t
        raise KeyError(key)

    def to_json(self) -> str:
        return msgspec.json.encode(self, order="sorted").decode()

    def to_builtins(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self, order="sorted")
        return data

    @classmethod
    def from_json(cls, text: str | bytes) -> FlowSpec:
        return msgspec.json.decode(text, type=cls)

    def content_hash(self) -> str:
        """The version id: a hash of the definition and its code, not of where its file was
        found (`baton run` records an absolute path, `baton deploy` one relative to the
        project), so one definition registered both ways is one version."""
        spec = msgspec.structs.replace(self, param_order=())  # how a form shows them
        if self.source is not None:
            spec = spec.with_source(SourceRef(path="", code_hash=self.source.code_hash))
        return hashlib.sha256(spec.to_json().encode()).hexdigest()[:16]

    def ordered_params(self) -> list[tuple[str, ParamSpec]]:
        """The params in the order they were declared."""
        order = [n for n in self.param_order if n in self.params] or list(self.params)
        return [(n, self.params[n]) for n in order] + [
            (n, p) for n, p in self.params.items() if n not in order
        ]

    def with_source(self, source: SourceRef) -> FlowSpec:
        return msgspec.structs.replace(self, source=source)


def declared_order(params: Mapping[str, Any]) -> tuple[str, ...]:
    """`param_order` for params declared in this order: empty when it is the sorted one."""
    names = tuple(params)
    return () if list(names) == sorted(names) else names


S = TypeVar("S")


def validated(cls: type[S], fields: dict[str, Any]) -> S:
    """Build a spec value from untrusted fields; ValueError names the bad field."""
    try:
        return msgspec.convert(fields, type=cls)
    except msgspec.ValidationError as exc:
        raise ValueError(_plain(str(exc))) from None


def _plain(message: str) -> str:
    """msgspec's wording, said the way the rest of baton says it."""
    text, _, where = message.partition(" - at `$")
    where = where.rstrip("`").lstrip(".")
    for before, after in (
        ("Object missing required field `", "missing required field '"),
        ("Object contains unknown field `", "unknown field '"),
    ):
        if text.startswith(before):
            name = text[len(before) :].rstrip("`")
            return f"{after}{where + '.' if where else ''}{name}'"
    return f"'{where}': {text[0].lower()}{text[1:]}" if where else text


def ref(key: str) -> dict[str, str]:
    return {REF_KEY: key}


def param_ref(name: str) -> dict[str, str]:
    return {PARAM_KEY: name}


def has_refs(value: Any) -> bool:
    """Whether encoded config holds task results or params, known only at run time."""
    if isinstance(value, dict):
        if len(value) == 1 and (REF_KEY in value or PARAM_KEY in value):
            return True
        return any(has_refs(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_refs(v) for v in value)
    return False


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
