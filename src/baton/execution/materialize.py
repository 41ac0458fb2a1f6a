"""Starting a run of some of a flow's assets (`baton materialize`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baton.engine import partitions, selection
from baton.engine.service import Engine
from baton.execution.loader import LoadedFlow
from baton.model.graph import validate
from baton.model.params import coerce_params


def start_materialize(
    engine: Engine,
    flow: LoadedFlow,
    params: Mapping[str, Any],
    assets: Sequence[str],
    *,
    upstream: bool = False,
    partition: str | None = None,
) -> str:
    """Create a run of the tasks producing `assets` (`engine.selection.plan`): its id.

    Raises:
        InputError: an unknown asset, an upstream task with no success to reuse, a bad param.
    """
    spec = flow.spec
    values = coerce_params(spec.params, params, flow=spec.name)
    # Planned before anything is written: bad input leaves no trace in the store.
    graph = validate(spec, {t.type for t in spec.tasks})
    if spec.partitions is not None and partition is None:  # reuse what ran for the same key
        partition = partitions.default(spec, engine.clock())
    read = engine.store.read()
    p = selection.plan(read, spec, graph, assets, upstream=upstream, partition=partition)
    version = engine.register(spec)
    return engine.create_run(
        version,
        values,
        trigger=selection.MATERIALIZE,
        reuse=p.reuse,
        trigger_info=p.trigger_info,
        partition=partition,
    )
