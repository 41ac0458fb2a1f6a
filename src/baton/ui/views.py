"""How the pages say things: state labels and icons, times, durations, names.

Templates get these as filters and globals (`web.UI`); the JavaScript gets the state tables
in each page's data, so both say a state the same way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from baton import tasks as task_types
from baton.model import names, run_trigger
from baton.model.spec import FlowSpec
from baton.model.states import RUN_TERMINAL, TaskState
from baton.model.times import iso
from baton.scheduling import overview
from baton.store.records import FlowOverviewRow, FlowRow, RunRow

# Every state of a run, task run or attempt: its label and its icon (static/icons.svg).
STATES: dict[str, tuple[str, str]] = {
    "scheduled": ("Scheduled", "scheduled"),
    "pending": ("Pending", "pending"),
    "queued": ("Queued", "queued"),
    "running": ("Running", "running"),
    "retry_wait": ("Retry wait", "retry_wait"),
    "waiting": ("Waiting", "waiting"),
    "succeeded": ("Succeeded", "succeeded"),
    "failed": ("Failed", "failed"),
    "skipped": ("Skipped", "skipped"),
    "upstream_failed": ("Upstream failed", "upstream_failed"),
    "cancelling": ("Cancelling", "cancelled"),
    "cancelled": ("Cancelled", "cancelled"),
    "none": ("No run", "pending"),
}

# Which state a task with several task runs (a mapped task) shows: the first one found in
# this order, so a failure or live work is never hidden behind a success.
ROLLUP = (
    TaskState.FAILED,
    TaskState.UPSTREAM_FAILED,
    TaskState.RUNNING,
    TaskState.RETRY_WAIT,
    TaskState.WAITING,
    TaskState.QUEUED,
    TaskState.PENDING,
    TaskState.CANCELLED,
    TaskState.SUCCEEDED,
    TaskState.SKIPPED,
)

# The task states a run's page offers as filters of its task list, in this order.
TASK_FILTERS = (
    TaskState.FAILED,
    TaskState.UPSTREAM_FAILED,
    TaskState.RUNNING,
    TaskState.RETRY_WAIT,
    TaskState.QUEUED,
    TaskState.SUCCEEDED,
)
RESULT_PREVIEW = 20_000  # characters of a result shown on its page


def whole(text: str | None, default: int = 0) -> int:
    """A number from a page's query string; anything else (a hand-edited URL) the default."""
    return int(text) if text and text.isdigit() and len(text) < 10 else default


def rollup(states: Iterable[str]) -> str:
    found = set(states)
    return next((s for s in ROLLUP if s in found), "none")


def task_name(key: str, map_index: int | None) -> str:
    """A task run's name in URLs and the API: its key, `key.N` for a mapped one."""
    return names.task_run_name(key, map_index)


def label(state: str | None) -> str:
    return STATES.get(state or "none", (str(state), "pending"))[0]


def icon(state: str | None) -> str:
    return STATES.get(state or "none", ("", "pending"))[1]


def type_icon(task_type: str) -> str:
    return task_types.icon(task_type)


def terminal(run_state: str) -> bool:
    return run_state in RUN_TERMINAL


def when(ts: float | None, zone: str | None = None) -> str:
    """A time as the pages show it, to the second: in UTC, or in `zone` (a schedule's)."""
    if ts is None:
        return ""
    if zone is None:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))
    return datetime.fromtimestamp(ts, _zone(zone)).strftime("%Y-%m-%d %H:%M:%S")


def zone_name(ts: float | None, zone: str | None = None) -> str:
    """The abbreviation of `zone` at that time ("CET", "CEST"), "UTC" without a zone."""
    if ts is None or zone is None:
        return "UTC"
    return datetime.fromtimestamp(ts, _zone(zone)).tzname() or zone


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)  # a schedule's zone: checked when its flow was registered


def schedule_zone(schedule: str | Mapping[str, Any] | None) -> str | None:
    """The time zone a schedule fires in (UTC unless it names one): its times are shown
    there, whatever zone the user picked, so "0 2 * * *" reads next to a 02:00."""
    if schedule is None:
        return None
    zone = schedule.get("timezone") if isinstance(schedule, Mapping) else None
    return str(zone) if zone else "UTC"


def duration(start: float | None, end: float | None = None) -> str:
    """How long from start to end (or to now): '420 ms', '4.2 s', '3 min 05 s', '2 h 07 min'."""
    if start is None:
        return ""
    seconds = max(0.0, (time.time() if end is None else end) - start)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def ago(ts: float | None) -> str:
    if ts is None:
        return ""
    seconds = time.time() - ts
    if seconds < 0:
        return "in " + duration(time.time(), ts)
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{round(seconds / 60)} min ago"
    if seconds < 86400:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} d ago"


def short_id(run_id: str) -> str:
    return run_id[:8]


def pretty(value: Any, limit: int = RESULT_PREVIEW) -> str:
    """A JSON value indented for reading, cut at `limit` characters."""
    text = json.dumps(value, indent=2, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit:,} more)"


def schedule_text(schedule: str | Mapping[str, Any] | None) -> str:
    if schedule is None or isinstance(schedule, str):
        return schedule or ""
    what = schedule.get("cron") or f"every {schedule.get('every')}"
    tz = schedule.get("timezone")
    return f"{what} ({tz})" if tz else str(what)


def next_run_at(spec: FlowSpec, flow: FlowRow | FlowOverviewRow) -> float | None:
    """When the schedule next fires a run (`overview.next_run_at`, as seconds)."""
    text = overview.next_run_at(spec, flow, time.time())
    return None if text is None else datetime.fromisoformat(text).timestamp()


def trigger_text(trigger: str, info: Mapping[str, Any] | None) -> str:
    """Why a run exists, in words: its trigger kind, and what fired it."""
    shown, detail = run_trigger.kind(trigger, info), run_trigger.detail(info)
    return f"{shown}: {detail}" if detail else shown


def trigger_of(run: RunRow) -> tuple[str, str | None]:
    """A run's trigger kind and its detail (what fired it), for a list of runs."""
    info = json.loads(run.trigger_info) if run.trigger_info else None
    return run_trigger.kind(run.trigger, info), run_trigger.detail(info)


FILTERS = {
    "label": label,
    "icon": icon,
    "type_icon": type_icon,
    "when": when,
    "zone_name": zone_name,
    "iso": iso,
    "ago": ago,
    "short_id": short_id,
    "pretty": pretty,
    "schedule_text": schedule_text,
    "trigger_of": trigger_of,
}
GLOBALS: dict[str, Any] = {
    "duration": duration,
    "task_name": task_name,
    "terminal": terminal,
    "TASK_FILTERS": TASK_FILTERS,
    "META": {"states": STATES, "rollup": ROLLUP},
}
