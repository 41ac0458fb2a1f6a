"""What the engine records of assets: the lineage links of a flow, the materializations of
its tasks' succeeded attempts."""

from __future__ import annotations

from collections.abc import Sequence

from baton.model.spec import FlowSpec
from baton.store.assets import INPUT, OUTPUT, Materialization
from baton.store.records import AssetLinkRow
from baton.store.store import Tx


def links(spec: FlowSpec) -> list[AssetLinkRow]:
    """The assets each task of `spec` reads and writes, as lineage links."""
    return [
        AssetLinkRow(spec.name, t.key, asset, kind)
        for t in spec.tasks
        for kind, assets in ((INPUT, t.inputs), (OUTPUT, t.outputs))
        for asset in dict.fromkeys(assets)
    ]


def record(tx: Tx, rows: Sequence[Materialization]) -> None:
    """Record the materializations of attempts that succeeded (`planner.completion`)."""
    if rows:
        tx.record_materializations(rows)
