"""`store_rows`: the rows a test inserts into a store directly (no engine), each field
given unless a test overrides it.

Importable because pytest's `pythonpath` names tests/ (test modules cannot import each
other).
"""

from __future__ import annotations

from typing import Any


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
