"""Why a run exists: its trigger kind, and the detail shown with it. Pure.

A run that an event trigger fires is labelled with the trigger's kind: `file` (detail: the
file's path), `asset` (the asset updated, or the assets, for an all-of trigger) or `flow`
(the upstream flow's run that ended). Runs stored before baton labelled them so read
`event`; `kind` tells them apart by what their `trigger_info` says fired them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OLD_EVENT = "event"  # what runs of every event trigger were labelled before
EVENT_KINDS = ("file", "asset", "flow")
# A firing's `type` (see scheduling.scheduler) -> the run's trigger.
_KINDS = {"file": "file", "asset": "asset", "assets": "asset", "flow": "flow"}


def event_kind(info: Mapping[str, Any]) -> str:
    """The trigger of a run an event trigger fired, from its `trigger_info`."""
    return _KINDS.get(str(info.get("type")), OLD_EVENT)


def kind(trigger: str, info: Mapping[str, Any] | None) -> str:
    """A run's trigger as shown: an old `event` run by the kind of event that fired it."""
    if trigger == OLD_EVENT and info:
        return event_kind(info)
    return trigger


def detail(info: Mapping[str, Any] | None) -> str | None:
    """What fired a run, in a few words: a path, an asset (or assets), an upstream run."""
    if not info:
        return None
    match info.get("type"):
        case "file":
            return str(info.get("path"))
        case "asset":
            return str(info.get("asset"))
        case "assets":
            return ", ".join(sorted(info.get("assets") or ()))
        case "flow":
            return f"{info.get('flow')} run {info.get('run_id')}"
    return None
