"""`store_rows`: the rows a test inserts into a store directly (no engine), each field
given unless a test overrides it.

Importable because pytest's `pythonpath` names tests/ (test modules cannot import each
other).
"""

from __future__ import annotations

from typing import Any

from baton.store.records import AttemptRow, TaskRunRow


def run_row(run_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": run_id,
        "flow_name": "f",
        "version_id": "v1",
        "state": "queued",
        "params": "{}",
        "trigger": "manual",
        "logical_date": None,
        "parent_run_id": None,
        "unfinished": 1,
        "created_at": 1000.0,
        **fields,
    }


def task_row(run_id: str, key: str, **fields: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "task_key": key,
        "map_index": -1,
        "state": "queued",
        "queue": "default",
        "pool": None,
        "priority": 0,
        "up_total": 0,
        "ready_at": 1000.0,
        "result": None,
        "result_ref": None,
        "result_len": None,
        "reused_from": None,
        "started_at": None,
        "ended_at": None,
        "attempts": 0,
        **fields,
    }


def task_run_record(key: str, state: str, map_index: int = -1, **fields: Any) -> TaskRunRow:
    """A task run as the store returns it (`TaskRunRow`), for the planner's pure functions."""
    return TaskRunRow(
        **{
            **task_row("r", key, map_index=map_index, state=state),
            "id": 1,
            "up_success": 0,
            "up_failed": 0,
            "up_upstream_failed": 0,
            "up_skipped": 0,
            "attempts": 0,
            "started_at": None,
            "ended_at": None,
            "result_ref": None,
            "result_len": None,
            "error": None,
            "error_kind": None,
            "reused_from": None,
            "defer_state": None,
            "resume_attempt": None,
            **fields,
        }
    )


def attempt_record(state: str, **fields: Any) -> AttemptRow:
    """An attempt as the store returns it (`AttemptRow`): attempt 1 of task run 1, `a1`."""
    base: dict[str, Any] = {
        "id": "a1",
        "task_run_id": 1,
        "run_id": "r1",
        "number": 1,
        "worker_id": "w1",
        "state": state,
        "started_at": 1000.0,
        "ended_at": None,
        "lease_expires_at": 1030.0,
        "error": None,
        "error_kind": None,
        "traceback": None,
    }
    return AttemptRow(**(base | fields))
