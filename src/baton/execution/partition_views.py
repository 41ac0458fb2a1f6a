"""The one read model of partitions: a flow's keys with the status of their newest run, and
an asset's keys with the status of their data, as the CLI (`baton partitions show`,
`baton assets show --partitions`), the API, backfills (`--missing`, `--failed`) and the UI
see them.

A flow key's status: `succeeded`, `failed` (its newest run failed or was cancelled),
`running` (a run of it is active) or `missing` (it never ran). An asset key's (the asset
shares the partitions of the deployed flow writing it): `materialized`, `failed` (the newest
run of the key failed after its last write, or before any), `missing` (never written) or
`stale` (an upstream asset's partition that it reads was written after it: the same key,
or for a time partition the upstream keys overlapping it; an unpartitioned upstream's any
write). Keys come in partition order, oldest first (a time flow's that exist at `now`, a
static flow's as declared, a dynamic set's as added); keys that no longer exist (a removed
dynamic key) are left out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec

from baton.errors import InputError
from baton.model import partitions
from baton.model.partitions import PartitionsSpec
from baton.model.spec import FlowSpec
from baton.model.states import RUN_TERMINAL
from baton.model.times import iso
from baton.store.assets import OUTPUT
from baton.store.partitions import PartitionRun
from baton.store.store import Tx

STATUSES = ("succeeded", "failed", "running", "missing")
ASSET_STATUSES = ("materialized", "failed", "missing", "stale")


class PartitionView(msgspec.Struct, frozen=True, gc=False):
    key: str
    status: str
    run_id: str | None  # its newest run
    at: float | None  # when that run ended, or was created while it runs

    def to_json(self) -> dict[str, Any]:
        """As the API answers it (times are formatted only for what is shown: a strip of
        50,000 keys spent 200 ms formatting times nobody reads)."""
        return {
            "key": self.key,
            "status": self.status,
            "run_id": self.run_id,
            "updated_at": iso(self.at),
        }


def status_of(state: str) -> str:
    if state == "succeeded":
        return "succeeded"
    return "failed" if state in RUN_TERMINAL else "running"


def flow_partitions(read: Tx, spec: FlowSpec, now: float) -> list[PartitionView]:
    """Every partition key of `spec` with its status. InputError if it has no partitions."""
    keys, newest = _keys_and_runs(read, spec, now)
    views = []
    for key in keys:
        r = newest.get(key)
        if r is None:
            views.append(PartitionView(key, "missing", None, None))
        else:
            _, run_id, state, created_at, ended_at = r
            at = ended_at if ended_at is not None else created_at
            views.append(PartitionView(key, status_of(state), run_id, at))
    return views


def _keys_and_runs(
    read: Tx, spec: FlowSpec, now: float
) -> tuple[list[str], dict[str, PartitionRun]]:
    parts = spec.partitions
    if parts is None:
        raise InputError(f"flow '{spec.name}' has no partitions")
    dynamic = read.dynamic_partition_keys(str(parts.name)) if parts.type == "dynamic" else ()
    keys = partitions.keys(parts, datetime.fromtimestamp(now, UTC), dynamic)
    return keys, read.partition_runs(spec.name)


class AssetPartitionView(msgspec.Struct, frozen=True, gc=False):
    key: str
    status: str  # materialized, failed, missing, stale
    at: float | None  # its last write
    run_id: str | None  # the key's newest run of the producing flow

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "status": self.status,
            "materialized_at": iso(self.at),
            "run_id": self.run_id,
        }


def asset_partitions(read: Tx, asset: str, now: float) -> tuple[FlowSpec, list[AssetPartitionView]]:
    """The producing flow of `asset` and every partition key of the asset with its status.

    Raises:
        InputError: no deployed flow writes the asset, or the one that does has no
            partitions.
    """
    spec = _producer(read, asset)
    if spec is None:
        raise InputError(f"no deployed flow writes asset '{asset}', so it has no partitions")
    keys, newest = _keys_and_runs(read, spec, now)
    written = read.partition_materializations(asset)
    reads = _reads(_upstream(read, spec, asset), keys)
    views = []
    for key in keys:
        at, run = written.get(key), newest.get(key)
        if (
            run is not None
            and run[2] in RUN_TERMINAL
            and run[2] != "succeeded"
            and (at is None or at < run[3])
        ):
            status = "failed"
        elif at is None:
            status = "missing"
        elif reads.get(key, 0.0) > at:
            status = "stale"
        else:
            status = "materialized"
        views.append(AssetPartitionView(key, status, at, run[1] if run else None))
    return spec, views


class _Upstream:
    """An asset a partitioned asset reads: when it was last written where a key reads it
    (the same key; the overlapping keys of other time partitions; anywhere, when the two
    do not map or it has no partitions)."""

    def __init__(
        self, parts: PartitionsSpec, up: PartitionsSpec | None, written: dict[str | None, float]
    ) -> None:
        self.written = written
        self.same = up == parts
        self.mapped = up is not None and not self.same and not partitions.mapping_problem(parts, up)
        self.parts, self.up = parts, up
        self.anywhere = max(written.values(), default=0.0)

    def latest(self, key: str) -> float:
        if self.same:
            return self.written.get(key, 0.0)
        if self.mapped and self.up is not None:
            keys = partitions.covering(self.parts, self.up, key)
            return max((self.written.get(k, 0.0) for k in keys), default=0.0)
        return self.anywhere


def _reads(upstream: Sequence[_Upstream], keys: Sequence[str]) -> Mapping[str | None, float]:
    """When what each key reads upstream was last written (the latest of its upstreams)."""
    if len(upstream) == 1 and upstream[0].same:  # the usual case: one upstream, same keys
        return upstream[0].written
    return {key: max(up.latest(key) for up in upstream) for key in keys} if upstream else {}


def _producer(read: Tx, asset: str) -> FlowSpec | None:
    for link in read.asset_links([asset], OUTPUT):
        flow = read.flow(link.flow_name)
        if flow is not None:
            return read.load_version(flow.latest_version)
    return None


def _upstream(read: Tx, spec: FlowSpec, asset: str) -> list[_Upstream]:
    """What the tasks writing `asset` read, with how each is partitioned and written."""
    if spec.partitions is None:
        return []
    names = {a for t in spec.tasks if asset in t.outputs for a in t.inputs}
    found = []
    for name in sorted(names):
        writer = _producer(read, name)
        written = read.partition_materializations(name)
        if written:
            found.append(_Upstream(spec.partitions, writer.partitions if writer else None, written))
    return found


def counts(
    views: Sequence[PartitionView | AssetPartitionView], names: Sequence[str] = STATUSES
) -> dict[str, int]:
    """How many keys have each status (of `names`: STATUSES or ASSET_STATUSES)."""
    found = dict.fromkeys(names, 0)
    for v in views:
        found[v.status] += 1
    return found


V = TypeVar("V", PartitionView, AssetPartitionView)


def chosen(
    views: Sequence[V], statuses: Collection[str] | None, names: Sequence[str] = STATUSES
) -> list[V]:
    """The views whose status is one of `statuses` (all when None). InputError names one
    that is not of `names`."""
    if not statuses:
        return list(views)
    unknown = [s for s in statuses if s not in names]
    if unknown:
        raise InputError(f"unknown partition status {unknown[0]!r}: use {', '.join(names)}")
    return [v for v in views if v.status in statuses]


def asset_page(
    asset: str,
    spec: FlowSpec,
    views: Sequence[AssetPartitionView],
    page: Sequence[AssetPartitionView],
    next_cursor: str | None = None,
) -> dict[str, Any]:
    """An asset's partitions as the CLI prints and the API answers them: counts over all
    keys, `page` of them."""
    return {
        "asset": asset,
        "flow": spec.name,
        "type": spec.partitions.type if spec.partitions else None,
        "total": len(views),
        "counts": counts(views, ASSET_STATUSES),
        "items": [v.to_json() for v in page],
        "next_cursor": next_cursor,
    }


def flow_page(
    spec: FlowSpec,
    views: Sequence[PartitionView],
    page: Sequence[PartitionView],
    next_cursor: str | None = None,
) -> dict[str, Any]:
    """A flow's partitions as the CLI prints and the API answers them: counts over all
    keys, `page` of them."""
    return {
        "flow": spec.name,
        "type": spec.partitions.type if spec.partitions else None,
        "total": len(views),
        "counts": counts(views),
        "items": [v.to_json() for v in page],
        "next_cursor": next_cursor,
    }
