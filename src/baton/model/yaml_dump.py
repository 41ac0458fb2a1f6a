"""A flow definition written back as YAML, for the UI's editor when the text it was deployed
from is not at hand: `load_yaml_flow(to_yaml(spec))` defines the same flow (the same version
hash; tests/unit/model/test_yaml_dump.py checks it on every YAML flow of the repository).
Comments and layout are not kept: they are not in the stored definition."""

from __future__ import annotations

from typing import Any

import msgspec

from baton.model.spec import DEFAULT_QUEUE, FlowSpec, ParamSpec, RetryPolicy, TaskSpec
from baton.model.trigger_rules import TriggerRule


def to_yaml(spec: FlowSpec) -> str:
    import yaml  # PyYAML: only the editor pays for it

    return yaml.safe_dump(flow_fields(spec), sort_keys=False, allow_unicode=True, width=100)


def flow_fields(spec: FlowSpec) -> dict[str, Any]:
    """The flow as its YAML file's mapping, fields in the order people write them."""
    out: dict[str, Any] = {"name": spec.name}
    if spec.description:
        out["description"] = spec.description
    if spec.tags:
        out["tags"] = list(spec.tags)
    if spec.owner is not None:
        out["owner"] = spec.owner
    if spec.params:
        out["params"] = {name: _param(p) for name, p in spec.ordered_params()}
    if spec.schedule is not None:
        out["schedule"] = spec.schedule
    for field in ("max_active_runs",):
        if getattr(spec, field) is not None:
            out[field] = getattr(spec, field)
    for field in ("triggers", "notifications"):
        if getattr(spec, field):
            out[field] = [dict(e) for e in getattr(spec, field)]
    if spec.assets:
        out["assets"] = [msgspec.to_builtins(a) for a in spec.assets]
    if spec.partitions is not None:
        out["partitions"] = msgspec.to_builtins(spec.partitions)
    out["tasks"] = [_task(t) for t in spec.tasks]
    return out


def _param(p: ParamSpec) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(p)
    return data


def _task(t: TaskSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"key": t.key, "type": t.type, **t.config}
    if t.depends_on:
        out["depends_on"] = list(t.depends_on)
    if t.trigger_rule != TriggerRule.ALL_SUCCESS:
        out["trigger_rule"] = str(t.trigger_rule)
    out.update(_retry(t.retry))
    if t.timeout is not None:
        out["timeout"] = t.timeout
    if t.queue != DEFAULT_QUEUE:
        out["queue"] = t.queue
    for field in ("pool", "map_over", "group"):
        if getattr(t, field) is not None:
            out[field] = getattr(t, field)
    if t.priority:
        out["priority"] = t.priority
    for field in ("inputs", "outputs"):
        if getattr(t, field):
            out[field] = list(getattr(t, field))
    if t.cache is not None:
        out["cache"] = msgspec.to_builtins(t.cache) or True
    if t.resources is not None:
        out["resources"] = msgspec.to_builtins(t.resources)
    if t.notifications:
        out["notifications"] = [dict(e) for e in t.notifications]
    return out


def _retry(r: RetryPolicy) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if r.retries:
        out["retries"] = r.retries
    if r.delay:
        out["retry_delay"] = r.delay
    if r.backoff != 1.0:
        out["retry_backoff"] = r.backoff
    if r.max_delay is not None:
        out["max_retry_delay"] = r.max_delay
    if r.jitter:
        out["retry_jitter"] = r.jitter
    if r.retry_on:
        out["retry_on"] = list(r.retry_on)
    return out
