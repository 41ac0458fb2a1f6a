"""What the engine records of assets: the lineage links of a flow, the materializations of
its tasks' succeeded attempts, and the results of their quality checks.

A check's result names the materialization it checked. An attempt that failed a blocking
(`error`) check failed, so it recorded no materialization: its results name none. Each
failed check (blocking or `warn`) queues the asset's `check_failed` notifications, in the
same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import msgspec

from baton.engine import notifications
from baton.engine.planner import Completion
from baton.model.assets import AssetSpec
from baton.model.notifications import excerpt
from baton.model.spec import FlowSpec
from baton.model.states import TaskState
from baton.model.times import iso
from baton.store.assets import INPUT, OUTPUT, CheckRecord
from baton.store.records import AssetLinkRow, AssetRow, CheckResultRow
from baton.store.store import Tx


def links(spec: FlowSpec) -> list[AssetLinkRow]:
    """The assets each task of `spec` reads and writes, as lineage links."""
    return [
        AssetLinkRow(spec.name, t.key, asset, kind)
        for t in spec.tasks
        for kind, assets in ((INPUT, t.inputs), (OUTPUT, t.outputs))
        for asset in dict.fromkeys(assets)
    ]


def record(tx: Tx, spec: FlowSpec, ended: Sequence[Completion], now: float) -> None:
    """Record what attempts of flow `spec` that ended wrote (`planner.completion`): the
    materializations of those that succeeded, then the results of the checks they ran."""
    rows = [m for d in ended for m in d.assets]
    if rows:
        tx.record_materializations(rows)
    checked = [d for d in ended if d.checks]
    if not checked:  # the usual case: no check, no extra read
        return
    records: list[CheckRecord] = []
    for d in checked:
        ids: dict[str, int] = {}
        if d.move.to is TaskState.SUCCEEDED and d.assets:
            ids = tx.materialization_ids(d.assets[0].attempt_id, [r.asset for r in d.checks])
        records += [
            msgspec.structs.replace(r, materialization_id=ids.get(r.asset)) for r in d.checks
        ]
    record_checks(tx, records, [spec], now)


def record_checks(
    tx: Tx, records: Sequence[CheckRecord], flows: Sequence[FlowSpec], now: float
) -> list[CheckResultRow]:
    """Record check results and queue the `check_failed` notifications of the checks that
    went from passing (or never run) to failing: the asset's own entries and those of
    `flows` (the first is the flow that ran them). A check failing run after run is told
    once, as a stale asset is, until it passes again."""
    failed = [(r.asset, r.check_name) for r in records if not r.passed]
    before = tx.last_check_results(failed) if failed else {}
    passing = {pair: row.passed for pair, row in before.items()}
    results = tx.record_check_results(records)
    rows: dict[str, AssetRow] = {}
    for r in results:
        pair = (r.asset, r.check_name)
        was_passing = passing.get(pair, True)
        passing[pair] = bool(r.passed)
        if r.passed or not was_passing:
            continue
        if r.asset not in rows:
            rows[r.asset] = asset_row(tx, r.asset, flows, now)
        fields = {
            "run_id": r.run_id,
            "flow": flows[0].name if flows else None,
            "task": r.task_key,
            "check": r.check_name,
            "severity": r.severity,
            "error": excerpt(r.error),
            "metadata": json.loads(r.metadata) if r.metadata else None,
            "failing_rows": len(json.loads(r.failing_rows)) if r.failing_rows else 0,
            "at": iso(r.at),
        }
        notifications.asset_event(tx, rows[r.asset], flows, "check_failed", str(r.id), fields, now)
    return results


def asset_row(tx: Tx, name: str, flows: Sequence[FlowSpec], now: float) -> AssetRow:
    """The asset's catalog entry as deployed; for an asset no deployed flow declares (a
    `baton run` of a flow never deployed), the entry one of `flows` declares, unsaved, so
    that its own notification entries are told too."""
    row = tx.asset(name)
    if row is not None and row.declared_by is not None:
        return row
    spec = next((a for f in flows for a in f.assets if a.name == name), None)
    if spec is None:
        spec = AssetSpec(name=name)
    if row is None:
        return spec_row(spec, now)
    return msgspec.structs.replace(
        spec_row(spec, now), created_at=row.created_at, updated_at=row.updated_at
    )


def spec_row(spec: AssetSpec, now: float) -> AssetRow:
    """A catalog entry as `spec` declares it (not saved: `declared_by` None)."""

    def encode(value: object) -> str:
        return msgspec.json.encode(value).decode()

    return AssetRow(
        name=spec.name,
        description=spec.description,
        owner=spec.owner,
        tags=encode(spec.tags),
        freshness=None if spec.freshness is None else encode(spec.freshness),
        checks=encode(spec.checks),
        notifications=encode(spec.notifications),
        declared_by=None,
        created_at=now,
        updated_at=now,
    )
