"""Why a run exists: its trigger kind, and the detail shown with it. Pure.

A run that an event trigger fires is labelled with the trigger's kind: `file` (detail: the
file's path), `asset` (the asset updated, or the assets, for an all-of trigger) or `flow`
(the upstream flow's run that ended). Runs stored before baton labelled them so read
`event`; `kind` tells them apart by what their `trigger_info` says fired them.

`baton materialize` makes runs of its own kind, `materialize`, whose `trigger_info` says
which assets were asked for and which tasks the run holds (`engine.selection`): a repair
of one keeps that `trigger_info`, so its detail names the assets too.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

OLD_EVENT = "event"  # what runs of every event trigger were labelled before
MATERIALIZE = "materialize"  # `baton materialize`: a run of some of a flow's assets


@functools.cache
def _kinds() -> dict[str, str]:
    """A firing's `type` (its trigger's kind, see scheduling.scheduler) -> the run's trigger."""
    # model.triggers on first need only (~3 ms of dataclasses): `baton run` shows its run
    # without it, and a run an event fired is rare.
    from baton.model import triggers

    return {kind: t.label for kind, t in triggers.KINDS.items() if t.label is not None}


def __getattr__(name: str) -> Any:
    if name == "EVENT_KINDS":  # the labels, in order (computed on first use, as `_kinds`)
        return tuple(dict.fromkeys(_kinds().values()))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def event_kind(info: Mapping[str, Any]) -> str:
    """The trigger of a run an event trigger fired, from its `trigger_info`."""
    return _kinds().get(str(info.get("type")), OLD_EVENT)


def kind(trigger: str, info: Mapping[str, Any] | None) -> str:
    """A run's trigger as shown: an old `event` run by the kind of event that fired it."""
    if trigger == OLD_EVENT and info:
        return event_kind(info)
    return trigger


def detail(info: Mapping[str, Any] | None) -> str | None:
    """What fired a run, in a few words: a path, an asset (or assets), an upstream run."""
    if not info:
        return None
    if info.get("type") == MATERIALIZE:
        assets = ", ".join(str(a) for a in info.get("assets") or ())
        return f"{assets} and upstream" if info.get("upstream") else assets
    from baton.model import triggers

    match info.get("type"):
        case triggers.FILE:
            return str(info.get("path"))
        case triggers.ASSET:
            return str(info.get("asset"))
        case triggers.ASSETS:
            return ", ".join(sorted(info.get("assets") or ()))
        case triggers.FLOW:
            return f"{info.get('flow')} run {info.get('run_id')}"
    return None
