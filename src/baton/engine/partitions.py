"""Which partition a new run processes: the key checked against its flow's partitions (a
dynamic key must have been added), defaulted for a time-partitioned flow, and never a key
with an active run of the flow already (checked under the flow's lock; the store's unique
index backs it up against a racing writer)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from baton.errors import ConflictError, InputError
from baton.model import assets, partitions
from baton.model.partitions import KEY_RULE, TIME_TYPES, PartitionsSpec
from baton.model.spec import FlowSpec
from baton.model.yaml_fields import show
from baton.store.store import Store, Tx

MAX_ADD = 10_000  # keys added in one call: a set grows by discovery, not by a paste of millions


def resolve(
    tx: Tx,
    spec: FlowSpec,
    key: str | None,
    data_interval: tuple[float, float] | None,
    logical_date: float | None,
    now: float,
) -> tuple[str, tuple[float, float] | None]:
    """The run's partition key and data interval (a time partition's own).

    Without a key, a time-partitioned flow runs the partition that closed last: at the end
    of the run's data interval (a scheduled run: the one that just closed) or at `now`.

    Raises:
        InputError: a flow without partitions given a key; a bad or unknown key; no key
            for a static or dynamic flow, or none closed yet.
        ConflictError: the flow has an active run for that key.
    """
    at = data_interval[1] if data_interval else logical_date if logical_date else now
    key, parts = checked(tx, spec, key, at, now)
    tx.lock_flow(spec.name)
    active = tx.active_partition_run(spec.name, key)
    if active is not None:
        raise ConflictError(
            f"flow '{spec.name}' already has an active run for partition {key!r}: run {active}"
        )
    window = partitions.interval(parts, key)
    if window is not None:
        data_interval = (window.start.timestamp(), window.end.timestamp())
    return key, data_interval


def checked(
    tx: Tx, spec: FlowSpec, key: str | None, at: float, now: float
) -> tuple[str, PartitionsSpec]:
    """The key a run of `spec` processes (`key`, or the default at `at`), checked, and the
    flow's partitions: callers
    check first, so that a refused key writes nothing (not even the flow's version).

    Raises:
        InputError: as `resolve`.
    """
    parts = spec.partitions
    if parts is None:
        raise InputError(
            f"flow '{spec.name}' has no partitions, so a run of it takes no partition key"
            f" (given {key!r})"
        )
    if key is None:
        return default(spec, at), parts
    _check(tx, spec.name, parts, key, now)
    return key, parts


def default(spec: FlowSpec, at: float) -> str:
    """The key a run of `spec` given none processes: a time partition's that closed last at
    `at`. InputError for static and dynamic partitions, which have no default."""
    flow, parts = spec.name, spec.partitions
    if parts is None:
        raise InputError(f"flow '{flow}' has no partitions")
    if parts.type not in TIME_TYPES:
        shown = f" ({', '.join(parts.values[:5])}{', ...' if len(parts.values) > 5 else ''})"
        raise InputError(
            f"flow '{flow}' has {parts.type} partitions{shown if parts.values else ''}: give"
            " the key a run processes (`--partition KEY`)"
        )
    when = datetime.fromtimestamp(at, UTC)
    if parts.end_offset < 0:  # the last closed one is held back: the newest that exists
        existing = partitions.keys(parts, when)
        key = existing[-1] if existing else None
    else:
        key = partitions.last_closed(parts, when)
    if key is None:
        raise InputError(
            f"flow '{flow}' has {parts.type} partitions from {parts.start}: none has ended yet"
            " to run; give a partition key (`--partition KEY`)"
        )
    return key


def _check(tx: Tx, flow: str, parts: PartitionsSpec, key: str, now: float) -> None:
    try:
        if parts.type == "dynamic":
            partitions.parse_key(parts, key)
            if not tx.has_dynamic_partition(str(parts.name), key):
                raise InputError(
                    f"{key!r} is not a key of the dynamic partitions {parts.name!r}: add it"
                    f" first (`baton partitions add {parts.name} {key}`)"
                )
        else:
            partitions.existing(parts, key, datetime.fromtimestamp(now, UTC))
    except InputError as exc:
        raise InputError(f"flow '{flow}': {exc}") from None


def checked_keys(name: object, keys: object) -> list[str]:
    """A dynamic set's name and keys to add to or remove from it, checked, repeats dropped
    (what the CLI, the API and a task's `context.add_partitions` are given).

    Raises:
        InputError: naming the bad name or key, or too many keys.
    """
    if not assets.is_name(name):
        raise InputError(
            f"{show(name)} is not a name of dynamic partitions: letters, digits, '_' or '-' in"
            " segments joined by '.' (e.g. customers)"
        )
    if isinstance(keys, str | bytes) or not isinstance(keys, Sequence):
        raise InputError(f"partition keys must be a list of strings, not {type(keys).__name__}")
    if not keys:
        raise InputError("no partition keys given")
    if len(keys) > MAX_ADD:
        raise InputError(f"{len(keys)} partition keys at once: at most {MAX_ADD} a call")
    for key in keys:
        if not partitions.is_key_text(key):
            raise InputError(f"{show(key)} is not a partition key: use {KEY_RULE}")
    return list(dict.fromkeys(keys))


def add(store: Store, name: object, keys: object, now: float) -> list[str]:
    """Add keys to a dynamic set (`checked_keys`); returns those that were new."""
    chosen = checked_keys(name, keys)
    with store.transaction() as tx:
        return tx.add_dynamic_partitions(str(name), chosen, now)


def remove(store: Store, name: object, keys: object) -> list[str]:
    """Remove keys from a dynamic set; returns those it had. Their runs and
    materializations stay, as history."""
    chosen = checked_keys(name, keys)
    with store.transaction() as tx:
        return tx.remove_dynamic_partitions(str(name), chosen)
