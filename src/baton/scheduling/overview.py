"""What `baton flows list` and the API show of a stored flow: its schedule and next run, its
params and its latest run. One place, so the CLI and the API say the same thing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from baton.model.schedules import parse_schedule
from baton.model.spec import FlowSpec
from baton.model.times import iso
from baton.store.records import FlowOverviewRow, FlowRow


def flow_summary(r: FlowOverviewRow, now: float) -> dict[str, Any]:
    """A row of `Tx.flows_overview` (or `Tx.flow_rows`) as JSON."""
    spec = FlowSpec.from_json(r.spec)
    last = None
    if r.last_run_id is not None:
        last = {
            "id": r.last_run_id,
            "state": r.last_run_state,
            "created_at": iso(r.last_run_at),
        }
    return {
        "name": r.name,
        "description": spec.description,
        "tags": list(spec.tags),
        "owner": spec.owner,
        "deployed": bool(r.deployed),
        "paused": bool(r.paused),
        "schedule": spec.schedule,
        "triggers": list(spec.triggers),
        "next_run_at": next_run_at(spec, r, now),
        "latest_version": r.latest_version,
        "params": params_json(spec),
        "last_run": last,
    }


def next_run_at(spec: FlowSpec, flow: FlowRow | FlowOverviewRow, now: float) -> str | None:
    """When the scheduler next fires the flow: None unless it is deployed, unpaused and
    has a schedule."""
    if spec.schedule is None or not flow.deployed or flow.paused:
        return None
    fire = parse_schedule(spec.schedule).next_after(datetime.fromtimestamp(now, UTC))
    return None if fire is None else iso(fire.timestamp())


def params_json(spec: FlowSpec) -> dict[str, dict[str, Any]]:
    """The flow's params, every field spelled out (the spec leaves defaults out)."""
    return {
        name: {
            "type": p.type,
            "default": p.default,
            "required": p.required,
            "description": p.description,
            "items": p.items,
        }
        for name, p in spec.params.items()
    }
