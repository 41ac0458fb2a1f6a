"""Event triggers: one typed value per kind, its checks and its id. Pure.

A flow's triggers are written as mappings with one kind key each (YAML `triggers:` or
`@flow(triggers=[...])`):

    {file: "data/in/*.csv"}                  a new or changed file matching a glob
    {asset: raw.events}                      an asset was updated
    {assets: [raw.events, raw.users]}        all of these were updated
    {flow: ingest, states: [succeeded]}      another flow ended in one of these states
    {webhook: true}                          an API call

A flow version stores them as those mappings (so its content hash, and so its version, does
not depend on this module); `validate_triggers` turns them into the typed values below where
they are used. `KINDS` is the one list of kinds: a new kind is one class here and one entry
in the scheduler's table (`scheduling.scheduler.FIRINGS`). That named flows and assets exist
is checked at deploy time (`scheduling.checks`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from baton.errors import DefinitionError
from baton.model import names
from baton.model.states import RUN_TERMINAL

FILE, ASSET, ASSETS, FLOW, WEBHOOK = "file", "asset", "assets", "flow", "webhook"
FLOW_TRIGGER_STATES = tuple(sorted(RUN_TERMINAL))
DEFAULT_FLOW_STATES = ("succeeded",)


@dataclass(frozen=True, slots=True)
class Trigger:
    """What every kind of trigger has: its kind, the label of the runs it fires, its id."""

    kind: ClassVar[str]
    # The `trigger` of the runs the scheduler fires for it (model.run_trigger); None: the
    # scheduler fires none (a webhook's runs are created by the API).
    label: ClassVar[str | None]
    fields: ClassVar[tuple[str, ...]]  # the keys its mapping may have, the kind's first

    @classmethod
    def parse(cls, where: str, data: Mapping[str, Any]) -> Trigger:
        """The trigger a mapping (with this kind's key) describes, checked."""
        raise NotImplementedError

    def to_builtins(self) -> dict[str, Any]:
        """The mapping the trigger was written as (what a flow version stores)."""
        raise NotImplementedError

    @property
    def id(self) -> str:
        """Its id in `trigger_state`: its kind and a hash of what it says, so the same
        trigger in a new flow version keeps its cursor, and a changed one starts afresh."""
        text = json.dumps(self.to_builtins(), sort_keys=True)
        return f"{self.kind}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"

    def assets_named(self) -> tuple[str, ...]:
        """The assets it waits for (checked at deploy time to be some task's outputs)."""
        return ()


@dataclass(frozen=True, slots=True)
class FileTrigger(Trigger):
    """A new or changed file matching a glob, relative to the flow file's folder."""

    kind: ClassVar[str] = FILE
    label: ClassVar[str | None] = FILE
    fields: ClassVar[tuple[str, ...]] = (FILE,)
    glob: str

    @classmethod
    def parse(cls, where: str, data: Mapping[str, Any]) -> FileTrigger:
        return cls(_name(where, data, FILE, "a glob such as 'data/*.csv'"))

    def to_builtins(self) -> dict[str, Any]:
        return {FILE: self.glob}


@dataclass(frozen=True, slots=True)
class AssetTrigger(Trigger):
    """An update of one asset: one run each."""

    kind: ClassVar[str] = ASSET
    label: ClassVar[str | None] = ASSET
    fields: ClassVar[tuple[str, ...]] = (ASSET,)
    asset: str

    @classmethod
    def parse(cls, where: str, data: Mapping[str, Any]) -> AssetTrigger:
        return cls(_name(where, data, ASSET, "an asset name"))

    def to_builtins(self) -> dict[str, Any]:
        return {ASSET: self.asset}

    def assets_named(self) -> tuple[str, ...]:
        return (self.asset,)


@dataclass(frozen=True, slots=True)
class AllAssetsTrigger(Trigger):
    """Every one of several assets updated: one run each time all of them have been."""

    kind: ClassVar[str] = ASSETS
    label: ClassVar[str | None] = ASSET
    fields: ClassVar[tuple[str, ...]] = (ASSETS,)
    assets: tuple[str, ...]

    @classmethod
    def parse(cls, where: str, data: Mapping[str, Any]) -> AllAssetsTrigger:
        value = data[ASSETS]
        if not isinstance(value, list | tuple) or not value or not all(map(_is_name, value)):
            raise DefinitionError(
                f"{where}: 'assets' must be a non-empty list of asset names, got {value!r}"
            )
        if len(set(value)) != len(value):
            raise DefinitionError(f"{where}: 'assets' names an asset twice: {list(value)!r}")
        return cls(tuple(value))

    def to_builtins(self) -> dict[str, Any]:
        return {ASSETS: list(self.assets)}

    def assets_named(self) -> tuple[str, ...]:
        return self.assets


@dataclass(frozen=True, slots=True)
class FlowTrigger(Trigger):
    """A run of another flow ended in one of `states` (not given: succeeded)."""

    kind: ClassVar[str] = FLOW
    label: ClassVar[str | None] = FLOW
    fields: ClassVar[tuple[str, ...]] = (FLOW, "states")
    flow: str
    states: tuple[str, ...] | None = None  # None: not written (it is part of the id)

    @classmethod
    def parse(cls, where: str, data: Mapping[str, Any]) -> FlowTrigger:
        flow = _name(where, data, FLOW, "a flow name")
        if "states" not in data:
            return cls(flow)
        states = data["states"]
        allowed = ", ".join(FLOW_TRIGGER_STATES)
        if not isinstance(states, list | tuple) or not states:
            raise DefinitionError(
                f"{where}: 'states' must be a non-empty list of run states ({allowed}),"
                f" got {states!r}"
            )
        for state in states:
            if state not in FLOW_TRIGGER_STATES:
                raise DefinitionError(
                    f"{where}: unknown run state {state!r} in 'states' (allowed: {allowed})"
                )
        return cls(flow, tuple(states))

    def to_builtins(self) -> dict[str, Any]:
        if self.states is None:
            return {FLOW: self.flow}
        return {FLOW: self.flow, "states": list(self.states)}

    @property
    def ends(self) -> tuple[str, ...]:
        """The upstream run states that fire it."""
        return self.states or DEFAULT_FLOW_STATES


@dataclass(frozen=True, slots=True)
class WebhookTrigger(Trigger):
    """An API call (`POST /flows/{name}/runs`), with params of its own."""

    kind: ClassVar[str] = WEBHOOK
    label: ClassVar[str | None] = None
    fields: ClassVar[tuple[str, ...]] = (WEBHOOK,)

    @classmethod
    def parse(cls, where: str, data: Mapping[str, Any]) -> WebhookTrigger:
        if data[WEBHOOK] is not True:
            raise DefinitionError(f"{where}: 'webhook' must be true, got {data[WEBHOOK]!r}")
        return cls()

    def to_builtins(self) -> dict[str, Any]:
        return {WEBHOOK: True}


# The one table of kinds; its order is the order messages list them in.
KINDS: dict[str, type[Trigger]] = {
    t.kind: t for t in (FileTrigger, AssetTrigger, AllAssetsTrigger, FlowTrigger, WebhookTrigger)
}


def validate_triggers(triggers: Sequence[Mapping[str, Any]]) -> tuple[Trigger, ...]:
    """Check the shape of a flow's event triggers (one kind each) and return them typed.

    Raises:
        DefinitionError: naming the trigger (1-based) and the bad kind or field.
    """
    return tuple(parse_trigger(n, t) for n, t in enumerate(triggers, 1))


def kind_of(trigger: Mapping[str, Any]) -> str:
    """The kind of a stored (valid) trigger mapping: its kind key, wherever it stands
    among the keys (`{states: [...], flow: x}` is a flow trigger)."""
    return next((kind for kind in KINDS if kind in trigger), "?")


def parse_trigger(number: int, trigger: object) -> Trigger:
    """The flow's trigger `number` (1-based, as messages name it), checked and typed."""
    where = f"trigger {number}"
    if not isinstance(trigger, Mapping):
        raise DefinitionError(
            f"{where} must be a mapping such as {{file: 'data/*.csv'}},"
            f" got {type(trigger).__name__}"
        )
    kinds = [kind for kind in KINDS if kind in trigger]
    if not kinds:
        keys = ", ".join(repr(k) for k in trigger) or "none"
        raise DefinitionError(
            f"{where} has no known kind (keys: {keys}); expected one of "
            + ", ".join(KINDS)
            + names.did_you_mean(list(trigger), KINDS)
        )
    if len(kinds) > 1:
        raise DefinitionError(
            f"{where} declares {' and '.join(kinds)}: one kind per trigger"
            " (to wait for several assets, write assets: [a, b])"
        )
    cls = KINDS[kinds[0]]
    unknown = [key for key in trigger if key not in cls.fields]
    if unknown:
        raise DefinitionError(
            f"{where} ({cls.kind}) has unknown field(s) {', '.join(repr(k) for k in unknown)}"
            f" (allowed: {', '.join(cls.fields)}){names.did_you_mean(unknown, cls.fields)}"
        )
    return cls.parse(where, trigger)


def _name(where: str, data: Mapping[str, Any], kind: str, what: str) -> str:
    """The kind's value, which must be a non-blank string (`what` says which)."""
    value = data[kind]
    if not _is_name(value):
        raise DefinitionError(f"{where}: '{kind}' must be {what}, got {value!r}")
    return str(value)


def _is_name(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())
