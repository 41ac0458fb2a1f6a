"""A job's email and webhook notifications and duration health rule -> baton notifications.

Databricks lists recipients per event (`on_failure: [a@x]`); baton lists events per
recipient (`{on: [failure], email: [a@x]}`), so recipients with the same events share one
entry. A run-duration health rule is the `sla` of the entries that want
`on_duration_warning_threshold_exceeded`. A webhook destination is known to Databricks by
id only: its URL is read from the secret `DATABRICKS_DESTINATION_<ID>`.
"""

from __future__ import annotations

import re
from typing import Any

from baton.model.databricks.report import Report, fail, items, mapping, optional_mapping

EVENTS = {
    "on_failure": "failure",
    "on_success": "success",
    "on_duration_warning_threshold_exceeded": "sla",
}
_YEAR = 366 * 24 * 3600
UNSUPPORTED = {
    "on_start": "baton notifies when runs end, not when they start",
    "on_streaming_backlog_exceeded": "baton has no streaming backlog",
}


def notifications(settings: dict[str, Any], path: str, report: Report) -> list[dict[str, Any]]:
    sla = _sla(settings, path, report)
    emails = _recipients(settings, "email_notifications", path, report, _address)
    hooks = _recipients(settings, "webhook_notifications", path, report, _destination)
    if "notification_settings" in settings:
        report.note(
            f"{path}notification_settings", "baton does not notify skipped or cancelled runs"
        )
    out: list[dict[str, Any]] = []
    for channel, found in (("email", emails), ("webhook", hooks)):
        for wanted, who in _grouped(found).items():
            events = wanted
            if "sla" in events and sla is None:
                report.unsupported_field(
                    f"{path}{channel}_notifications.on_duration_warning_threshold_exceeded",
                    "there is no health rule on RUN_DURATION_SECONDS to say after how long",
                )
                events = tuple(e for e in events if e != "sla")
                if not events:
                    continue
            entry: dict[str, Any] = {"on": list(events)}
            entry[channel] = who if channel == "email" else who[0]
            if "sla" in events:
                entry["sla"] = sla
            # A webhook entry holds one URL: one entry per destination.
            out += [entry] if channel == "email" else [{**entry, "webhook": w} for w in who]
    if sla is not None and not any("sla" in e["on"] for e in out):
        report.note(f"{path}health", "no one is notified when a run takes longer")
    return out


def _recipients(
    settings: dict[str, Any], field: str, path: str, report: Report, read: Any
) -> dict[str, set[str]]:
    """recipient -> the baton events they want."""
    data = optional_mapping(settings, field, path.rstrip("."))
    found: dict[str, set[str]] = {}
    for name, value in data.items():
        where = f"{path}{field}.{name}"
        if name in ("no_alert_for_skipped_runs",):
            report.note(where, "baton does not notify skipped runs")
        elif name in UNSUPPORTED:
            if value:
                report.unsupported_field(where, UNSUPPORTED[name])
        elif name in EVENTS:
            for i, item in enumerate(items(data, name, f"{path}{field}")):
                found.setdefault(read(item, f"{where}[{i}]"), set()).add(EVENTS[name])
        else:
            report.unsupported_field(where, "has no baton equivalent")
    return found


def _grouped(found: dict[str, set[str]]) -> dict[tuple[str, ...], list[str]]:
    order = ("failure", "success", "sla")
    groups: dict[tuple[str, ...], list[str]] = {}
    for who, events in found.items():
        groups.setdefault(tuple(e for e in order if e in events), []).append(who)
    return groups


def _address(value: Any, where: str) -> str:
    if not isinstance(value, str) or "@" not in value:
        fail(where, f"must be an email address, got {value!r}")
    return value


def _destination(value: Any, where: str) -> str:
    data = mapping(value, where)
    dest = data.get("id")
    if not isinstance(dest, str) or not dest:
        fail(f"{where}.id", f"must be a notification destination id, got {dest!r}")
    return "${secret:DATABRICKS_DESTINATION_" + re.sub(r"\W", "_", dest).upper() + "}"


def _sla(settings: dict[str, Any], path: str, report: Report) -> float | None:
    health = optional_mapping(settings, "health", path.rstrip("."))
    sla = None
    for i, item in enumerate(items(health, "rules", f"{path}health")):
        where = f"{path}health.rules[{i}]"
        rule = mapping(item, where)
        value = rule.get("value")
        if rule.get("metric") != "RUN_DURATION_SECONDS":
            report.unsupported_field(where, f"metric {rule.get('metric')!r} has no equivalent")
        elif rule.get("op") != "GREATER_THAN":
            fail(f"{where}.op", f"must be GREATER_THAN, got {rule.get('op')!r}")
        elif isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < _YEAR:
            fail(f"{where}.value", f"must be a number of seconds > 0 (under a year), got {value!r}")
        else:
            sla = value
    return sla
