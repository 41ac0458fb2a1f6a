"""OpenLineage events: each dict is rebuilt with openlineage-python's models, whose validators
run (UUID run ids, ISO times with a time), and must serialise back to exactly the same dict."""

from __future__ import annotations

import ast
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openlineage.client.uuid import generate_static_uuid

import baton
from baton.notify import openlineage
from openlineage_kit import validated

PRODUCER = "https://github.com/baton-dev/baton/tree/0.1.0"
STARTED = 1796416200.123456  # 2026-12-04T20:30:00.123456Z
CREATED = 1796416190.5


def event(event_type: openlineage.EventType, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "namespace": "baton",
        "flow": "orders",
        "task_key": "load",
        "attempt_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "started_at": STARTED,
        "event_time": STARTED + 2.5,
        "run_id": "0123456789abcdef0123456789abcdef",
        "run_created_at": CREATED,
        "inputs": ["raw.orders", "raw.customers"],
        "outputs": ["warehouse.orders"],
        "producer": PRODUCER,
    }
    return openlineage.task_event(event_type, **(fields | overrides))


@pytest.mark.parametrize("event_type", openlineage.EVENT_TYPES)
def test_every_event_type_round_trips_through_the_library_models(event_type):
    d = event(event_type, error="boom" if event_type == "FAIL" else None)
    validated(d)  # rebuilt with the library's models, round-tripped unchanged


def test_the_shape_the_contract_names():
    d = event("START")
    assert d["eventType"] == "START"
    assert d["eventTime"] == "2026-12-04T20:30:02.623456+00:00"
    assert d["schemaURL"] == "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    assert d["job"] == {"namespace": "baton", "name": "orders.load"}
    assert d["inputs"] == [
        {"namespace": "baton", "name": "raw.orders"},
        {"namespace": "baton", "name": "raw.customers"},
    ]
    assert d["outputs"] == [{"namespace": "baton", "name": "warehouse.orders"}]
    parent = d["run"]["facets"]["parent"]
    assert parent["job"] == {"namespace": "baton", "name": "orders"}
    assert parent["run"]["runId"] == openlineage.run_uuid(
        "0123456789abcdef0123456789abcdef", CREATED
    )
    assert "errorMessage" not in d["run"]["facets"]


def test_a_failure_carries_its_error_message():
    d = event("FAIL", error="ValueError: bad row 3")
    assert d["run"]["facets"]["errorMessage"] == {
        "_producer": PRODUCER,
        "_schemaURL": openlineage.ERROR_SCHEMA_URL,
        "message": "ValueError: bad row 3",
        "programmingLanguage": "python",
    }
    validated(d)  # rebuilt with the library's models, round-tripped unchanged


def test_a_task_without_assets_has_empty_dataset_lists():
    d = event("COMPLETE", inputs=[], outputs=[])
    assert d["inputs"] == d["outputs"] == []
    validated(d)  # rebuilt with the library's models, round-tripped unchanged


def test_the_namespace_names_jobs_and_datasets():
    d = event("START", namespace="prod")
    assert d["job"]["namespace"] == d["inputs"][0]["namespace"] == "prod"
    assert d["run"]["facets"]["parent"]["job"]["namespace"] == "prod"


def test_an_unknown_event_type_is_refused():
    with pytest.raises(ValueError, match="START, COMPLETE, FAIL, ABORT"):
        event("RUNNING")  # type: ignore[arg-type]


def test_the_events_of_one_attempt_share_its_run_id_and_retries_do_not():
    start, done = event("START"), event("COMPLETE", event_time=STARTED + 60)
    assert start["run"]["runId"] == done["run"]["runId"]
    retry = event("START", attempt_id="ffff", started_at=STARTED + 30)
    assert retry["run"]["runId"] != start["run"]["runId"]
    assert retry["run"]["facets"]["parent"] == start["run"]["facets"]["parent"]


@pytest.mark.parametrize(
    ("key", "started_at"),
    [("a1b2c3", STARTED), ("run-1", 0.0), ("x" * 32, 1700000000.0), ("é", 1.000999)],
)
def test_run_uuid_is_the_library_static_uuid(key, started_at):
    instant = datetime.fromtimestamp(started_at, UTC)
    expected = generate_static_uuid(instant, key.encode())
    got = uuid.UUID(openlineage.run_uuid(key, started_at))
    assert got == expected
    assert got.version == 7 and got.variant == uuid.RFC_4122
    assert abs(int(got.hex[:12], 16) - int(started_at * 1000)) <= 1


def test_run_uuids_sort_by_start_time():
    ids = [openlineage.run_uuid("k", t) for t in (1.0, 2.0, 1000.0, 1e9)]
    assert ids == sorted(ids)


def test_endpoint_joins_the_base_url():
    assert openlineage.endpoint("http://marquez:5000/") == "http://marquez:5000/api/v1/lineage"
    assert openlineage.endpoint("http://m/x") == "http://m/x/api/v1/lineage"


def test_baton_does_not_import_openlineage():
    """A runtime dependency is what the module exists to avoid."""
    src = Path(baton.__file__).parent
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "openlineage" for n in names), path
