"""OpenLineage run events (spec 2-0-2) for task attempts, built as plain JSON dicts. Pure.

Each attempt of a task run is one OpenLineage run of the job `FLOW.TASK`: START when it
begins, then COMPLETE, FAIL or ABORT. Its input and output datasets are the task's `inputs`
and `outputs` assets; its parent run is the baton run (job `FLOW`). A mapped task's items
share the job name; each item's attempt is its own run.

Why no openlineage-python at run time: it pulls requests, attrs and dateutil, which `baton
run`'s start-up would pay for; the events are a few nested dicts. The tests rebuild every
dict with that package's models (their validators run) and compare, so the shape is the
spec's.

Run ids: the spec wants a UUID per run, the same on every event of that run, and recommends
UUIDv7. `run_uuid` derives one from baton's id and start time the way
`openlineage.client.uuid.generate_static_uuid` does, so it is deterministic (START and its
COMPLETE agree even when sent by different processes) and ordered by start time.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

EventType = Literal["START", "COMPLETE", "FAIL", "ABORT"]
EVENT_TYPES: tuple[EventType, ...] = ("START", "COMPLETE", "FAIL", "ABORT")

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PARENT_SCHEMA_URL = (
    "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet"
)
ERROR_SCHEMA_URL = (
    "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
)
ENDPOINT = "/api/v1/lineage"  # where a Marquez-compatible receiver takes events
DEFAULT_NAMESPACE = "baton"


def run_uuid(key: str, started_at: float) -> str:
    """A UUIDv7 for the run `key` (an attempt or run id) that started at `started_at`.

    48 bits of the start in milliseconds, then 76 bits of SHA-1 of the start's ISO form and
    the key, with the version (7) and RFC 4122 variant bits set: the same value for the same
    arguments, in any process.
    """
    instant = datetime.fromtimestamp(started_at, UTC)
    millis = int(instant.timestamp() * 1000)
    digest = hashlib.sha1(instant.isoformat().encode() + key.encode()).digest()
    node = int.from_bytes(digest) >> 84  # the top 76 of 160 bits
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | node
    value = value & ~(0xF000 << 64) | 7 << 76  # version 7
    value = value & ~(0xC000 << 48) | 0x8000 << 48  # variant: RFC 4122
    return str(uuid.UUID(int=value))


def task_event(
    event_type: EventType,
    *,
    namespace: str,
    flow: str,
    task_key: str,
    attempt_id: str,
    started_at: float,
    event_time: float,
    run_id: str,
    run_created_at: float,
    inputs: Sequence[str],
    outputs: Sequence[str],
    error: str | None = None,
    producer: str,
) -> dict[str, Any]:
    """The RunEvent of one task attempt.

    Args:
        event_type: START, COMPLETE, FAIL or ABORT.
        namespace: the job namespace, also the namespace of the datasets.
        flow: the flow's name; the job is `flow.task_key`, its parent job `flow`.
        task_key: the task's key (a mapped item's attempt names the task, not the item).
        attempt_id: the attempt's id; with `started_at`, it makes the event's runId.
        started_at: when the attempt started (UNIX seconds).
        event_time: when the event happened (UNIX seconds).
        run_id: baton's run id; with `run_created_at`, it makes the parent runId.
        run_created_at: when the baton run was created (UNIX seconds).
        inputs: the asset names the task reads.
        outputs: the asset names the task writes.
        error: the (masked) error of a FAIL or ABORT, sent as an errorMessage run facet.
        producer: the URI naming what produced the event (baton and its version).

    Raises:
        ValueError: an event type outside EVENT_TYPES.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"event type must be one of {', '.join(EVENT_TYPES)}, not {event_type!r}")
    facets: dict[str, Any] = {
        "parent": {
            "_producer": producer,
            "_schemaURL": PARENT_SCHEMA_URL,
            "run": {"runId": run_uuid(run_id, run_created_at)},
            "job": {"namespace": namespace, "name": flow},
        }
    }
    if error is not None:
        facets["errorMessage"] = {
            "_producer": producer,
            "_schemaURL": ERROR_SCHEMA_URL,
            "message": error,
            "programmingLanguage": "python",
        }
    return {
        "eventType": event_type,
        "eventTime": _iso(event_time),
        "producer": producer,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": run_uuid(attempt_id, started_at), "facets": facets},
        "job": {"namespace": namespace, "name": f"{flow}.{task_key}"},
        "inputs": [{"namespace": namespace, "name": name} for name in inputs],
        "outputs": [{"namespace": namespace, "name": name} for name in outputs],
    }


def endpoint(base_url: str) -> str:
    """Where to POST events for a receiver at `base_url` (BATON_OPENLINEAGE_URL)."""
    return base_url.rstrip("/") + ENDPOINT


def _iso(t: float) -> str:
    # Always with microseconds and an explicit UTC offset: one fixed width, and the spec's
    # date-time format (a receiver such as Marquez rejects a time without its offset).
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds")
