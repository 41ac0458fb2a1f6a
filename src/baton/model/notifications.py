"""A flow's notifications: who is told, how, and on which events. Pure: checks and lookups.

Each entry names one channel, email or webhook, and the events it wants:

    {on: [failure, sla], email: [oncall@example.com], sla: 3600}
    {on: [failure, success], webhook: "https://hooks.slack.com/...", format: slack}

- `on`: failure, success (a run ended so), retry (a task attempt failed and will be
  retried), sla (a run has not ended `sla` seconds after it was created: time waiting for a
  worker counts, it delays the result just the same), stale (an asset the flow declares or
  writes became stale: `model.freshness`), check_failed (a check of such an asset failed),
  approval_required (an `approval` task started waiting for a decision; the link goes to
  the task's page, where its approvers decide).
  A string or a list; default [failure]. An asset's own entries (`model.assets`) take only
  stale and check_failed.
- `email`: an address or a list of them. `webhook`: an http(s) URL, or a `${secret:NAME}`
  reference to one (a Slack webhook URL is a credential); `format`: json (default: the
  payload as it is) or slack (`{text, blocks}`, what Slack's incoming webhooks take).
- `sla`: seconds, with `on` including sla (and only then). It lives on the entry rather than
  the flow so that one flow can page on-call after an hour and email the team after ten
  minutes.
- `escalate`: steps told when nobody has reacted to a failure or an approval_required
  (an approval task waiting) after a while: `[{after: 15m, unless: acknowledged, email:
  [lead@example.com]}, {after: 1h, slack: https://hooks.slack.com/...}]`. Each step has
  `after` (a duration since the event, `model.durations`), one channel (`email`,
  `webhook`, or `slack`: an incoming-webhook URL sent Slack's format), and optionally
  `unless: acknowledged` (the step is not sent once the run is acknowledged: `baton runs
  ack`). Steps are kept in the order of `after`; the timers send each once
  (`scheduling.escalation`).

A task's own `notifications:` (TASK_EVENTS only) are told of that task: its failure, its
approval waiting.

Entries are stored in a canonical form (every field present, events in EVENTS order), so
equal definitions are equal versions. The engine writes what happened to the outbox
(`engine.notifications`); `baton.notify` formats and sends it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from baton.errors import DefinitionError
from baton.model import durations, names
from baton.model.yaml_fields import is_number

EVENTS = ("failure", "success", "retry", "sla", "stale", "check_failed", "approval_required")
TASK_EVENTS = ("failure", "approval_required")
ESCALATED = ("failure", "approval_required")  # the events an entry may escalate
UNLESS = ("acknowledged",)
FORMATS = ("json", "slack")
CHANNELS = ("email", "webhook")
DEFAULT_EVENTS = ("failure",)
ERROR_EXCERPT = 500  # characters of a task's error a notification quotes
_FIELDS = ("on", "email", "webhook", "format", "sla", "escalate")
_STEP_FIELDS = ("after", "unless", "email", "webhook", "slack")
_STEP_CHANNELS = ("email", "webhook", "slack")
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")
_SECRET_REF = "${secret:"


def validate(entries: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The flow's notification entries, checked, in their canonical form.

    Raises:
        DefinitionError: naming the entry (1-based) and the bad field.
    """
    if isinstance(entries, Mapping | str):
        raise DefinitionError(
            "notifications must be a list, e.g. [{on: [failure], email: [oncall@example.com]}]"
        )
    return tuple(entry(number, e) for number, e in enumerate(entries, 1))


def entry(number: int, data: Mapping[str, Any]) -> dict[str, Any]:
    """One entry (the `number`-th, 1-based), checked, in its canonical form."""
    where = f"notification {number}"
    if not isinstance(data, Mapping):
        raise DefinitionError(
            f"{where} must be a mapping such as {{on: [failure], email: oncall@example.com}},"
            f" got {type(data).__name__}"
        )
    unknown = [k for k in data if k not in _FIELDS]
    if unknown:
        hint = names.did_you_mean(unknown, _FIELDS)
        raise DefinitionError(
            f"{where} has unknown field(s) {', '.join(repr(k) for k in unknown)}"
            f" (allowed: {', '.join(_FIELDS)}){hint}"
        )
    channels = [c for c in CHANNELS if c in data]
    if len(channels) != 1:
        said = " and ".join(channels) if channels else "neither"
        raise DefinitionError(
            f"{where} names {said}: give exactly one of 'email' (addresses) or 'webhook' (a URL)"
        )
    out: dict[str, Any] = {"on": list(_events(where, data.get("on", DEFAULT_EVENTS)))}
    if channels[0] == "email":
        if "format" in data:
            raise DefinitionError(f"{where}: 'format' is for webhooks; an email has its own")
        out["email"] = _addresses(where, data["email"])
    else:
        out["webhook"] = _url(where, data["webhook"])
        out["format"] = data.get("format", "json")
        if out["format"] not in FORMATS:
            raise DefinitionError(
                f"{where}: 'format' must be one of {', '.join(FORMATS)}, got {data['format']!r}"
            )
    wants_sla = "sla" in out["on"]
    if wants_sla and "sla" not in data:
        raise DefinitionError(
            f"{where}: 'on' includes sla, so give 'sla': the seconds a run may take"
        )
    if "sla" in data:
        if not wants_sla:
            raise DefinitionError(f"{where}: 'sla' is set but 'on' does not include sla")
        out["sla"] = _seconds(where, data["sla"])
    if "escalate" in data:
        if not any(e in ESCALATED for e in out["on"]):
            raise DefinitionError(
                f"{where}: 'escalate' needs 'on' to include {' or '.join(ESCALATED)}"
            )
        out["escalate"] = _steps(where, data["escalate"])
    return out


def task_entries(entries: Sequence[Mapping[str, Any]], task: str) -> tuple[dict[str, Any], ...]:
    """A task's own notification entries, checked: those of a flow, on TASK_EVENTS only."""
    out = validate(entries)
    for number, e in enumerate(out, 1):
        other = [ev for ev in e["on"] if ev not in TASK_EVENTS]
        if other:
            raise DefinitionError(
                f"task {task}: notification {number} wants {', '.join(other)}, which is a"
                f" flow's event; a task's entries take {', '.join(TASK_EVENTS)}"
            )
    return out


def wanted(entries: Sequence[Mapping[str, Any]], event: str) -> list[tuple[int, dict[str, Any]]]:
    """The entries (index, entry) that want `event`."""
    return [(i, dict(e)) for i, e in enumerate(entries) if event in e.get("on", ())]


def excerpt(text: str | None, limit: int = ERROR_EXCERPT) -> str | None:
    """At most `limit` characters of `text`, marked when cut."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def _steps(where: str, value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list | tuple) or not value:
        raise DefinitionError(
            f"{where}: 'escalate' must be a non-empty list of steps such as"
            " [{after: 15m, unless: acknowledged, email: [lead@example.com]}]"
        )
    steps = [_step(f"{where}, escalate step {n}", s) for n, s in enumerate(value, 1)]
    return sorted(steps, key=lambda s: float(s["after"]))


def _step(where: str, data: object) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise DefinitionError(
            f"{where} must be a mapping such as {{after: 15m, email: [lead@example.com]}},"
            f" got {type(data).__name__}"
        )
    unknown = [k for k in data if k not in _STEP_FIELDS]
    if unknown:
        hint = names.did_you_mean([str(k) for k in unknown], _STEP_FIELDS)
        raise DefinitionError(
            f"{where} has unknown field(s) {', '.join(repr(k) for k in unknown)}"
            f" (allowed: {', '.join(_STEP_FIELDS)}){hint}"
        )
    if "after" not in data:
        raise DefinitionError(f"{where} has no 'after' (a duration such as 15m or 1h)")
    try:
        out: dict[str, Any] = {"after": durations.parse(data["after"], "after")}
    except DefinitionError as exc:
        raise DefinitionError(f"{where}: {exc.message}") from None
    if "unless" in data:
        if data["unless"] not in UNLESS:
            raise DefinitionError(
                f"{where}: 'unless' must be {' or '.join(UNLESS)}, got {data['unless']!r}"
            )
        out["unless"] = data["unless"]
    channels = [c for c in _STEP_CHANNELS if c in data]
    if len(channels) != 1:
        said = " and ".join(channels) if channels else "none"
        raise DefinitionError(
            f"{where} names {said}: give exactly one of 'email', 'webhook' or 'slack'"
        )
    if channels[0] == "email":
        out["email"] = _addresses(where, data["email"])
    else:
        try:
            out["webhook"] = _url(where, data[channels[0]])
        except DefinitionError as exc:  # named as the user wrote it
            raise DefinitionError(exc.message.replace("'webhook'", f"'{channels[0]}'")) from None
        out["format"] = "slack" if channels[0] == "slack" else "json"
    return out


def _events(where: str, value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise DefinitionError(
            f"{where}: 'on' must be an event or a non-empty list of them"
            f" ({', '.join(EVENTS)}), got {value!r}"
        )
    for item in items:
        if item not in EVENTS:
            hint = names.did_you_mean(str(item), EVENTS)
            raise DefinitionError(
                f"{where}: unknown event {item!r} in 'on' (events: {', '.join(EVENTS)}){hint}"
            )
    return tuple(e for e in EVENTS if e in items)


def _addresses(where: str, value: object) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise DefinitionError(
            f"{where}: 'email' must be an address or a non-empty list of them, got {value!r}"
        )
    for item in items:
        if not isinstance(item, str) or not _ADDRESS.fullmatch(item):
            raise DefinitionError(
                f"{where}: 'email' holds {item!r}, which is not an address like name@example.com"
            )
    return list(dict.fromkeys(items))


def _url(where: str, value: object) -> str:
    if isinstance(value, str) and (
        value.startswith(("http://", "https://")) or value.startswith(_SECRET_REF)
    ):
        return value
    raise DefinitionError(
        f"{where}: 'webhook' must be an http:// or https:// URL (or ${{secret:NAME}}),"
        f" got {value!r}"
    )


def _seconds(where: str, value: object) -> float | int:
    # is_number also refuses an int too large for a float (math.isfinite would overflow).
    if isinstance(value, int | float) and is_number(value) and value > 0:
        return value
    raise DefinitionError(f"{where}: 'sla' must be a number of seconds > 0, got {value!r}")
