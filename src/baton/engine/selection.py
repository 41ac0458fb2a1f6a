"""Materializing some assets of a flow: which of its tasks a run holds (`baton materialize`).

A materialize run holds only the tasks producing the assets asked for (with `upstream`, and
every task they transitively need), plus, without `upstream`, the upstream tasks those
depend on, reused as a repair reuses them: their task runs are copied, result and all, from
the latest run of the flow where they succeeded. Tasks neither selected nor needed are not
in the run at all (no row), so no view shows a task that was never meant to run as skipped
or pending; the views and the engine's row-keyed writes already tolerate a missing row.

What a run holds is written once, in its `trigger_info` (`{"type": "materialize", "assets",
"upstream", "selected", "reused": {task: run}}`), and `run_graph` reads it back: the engine
creates the rows and decides when the run is over (its leaves) from that same graph. A
repair of such a run carries its `trigger_info` over, so it stays inside the selection.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from baton.errors import InputError
from baton.model import run_trigger
from baton.model.graph import Graph
from baton.model.spec import FlowSpec
from baton.model.states import TaskState
from baton.store.records import TaskRunRow
from baton.store.store import Tx

MATERIALIZE = run_trigger.MATERIALIZE
RUNS_PAGE = 200  # runs read at a time while looking for an upstream task's last success
LISTED = 20  # at most this many of a flow's assets are named in an error


class Selection(NamedTuple):
    """What a materialize run runs, and what it needs from earlier runs."""

    selected: tuple[str, ...]  # task keys that run, in graph order
    needed: tuple[str, ...]  # upstream task keys whose earlier success is reused


def producers(spec: FlowSpec) -> dict[str, list[str]]:
    """Asset name -> the keys of the flow's tasks that output it, in definition order."""
    out: dict[str, list[str]] = {}
    for t in spec.tasks:
        for asset in dict.fromkeys(t.outputs):
            out.setdefault(asset, []).append(t.key)
    return out


def select(spec: FlowSpec, graph: Graph, assets: Sequence[str], *, upstream: bool) -> Selection:
    """The tasks producing `assets` (and, with `upstream`, all their ancestors), and the
    upstream tasks outside the selection that they depend on.

    Raises:
        InputError: an asset no task of the flow produces.
    """
    made = producers(spec)
    unknown = [a for a in dict.fromkeys(assets) if a not in made]
    if unknown:
        raise InputError(_unknown_text(spec.name, unknown, made))
    chosen = {k for a in assets for k in made[a]}
    if upstream:
        for key in reversed(graph.order):  # downstream first: ancestors found in one pass
            if key in chosen:
                chosen.update(graph.upstream[key])
    needed = {u for k in chosen for u in graph.upstream[k]} - chosen
    return Selection(
        tuple(k for k in graph.order if k in chosen),
        tuple(k for k in graph.order if k in needed),
    )


def _unknown_text(flow: str, unknown: Sequence[str], made: Mapping[str, object]) -> str:
    names = sorted(made)
    parts = []
    for a in unknown:
        close = difflib.get_close_matches(a, names, n=3, cutoff=0.6)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        parts.append(f"'{a}'{hint}")
    listed = ", ".join(names[:LISTED])
    if len(names) > LISTED:
        listed += f" and {len(names) - LISTED} more"
    which = "asset" if len(unknown) == 1 else "assets"
    return (
        f"no task of flow '{flow}' produces the {which} {', '.join(parts)}; "
        f"its assets are: {listed or 'none (no task lists outputs)'}"
    )


def last_successes(
    read: Tx, flow: str, keys: Iterable[str], partition: str | None = None
) -> dict[str, list[TaskRunRow]]:
    """For each task key, its task runs in the latest run of `flow` (for `partition`) where
    it succeeded (a mapped task: where every item did); keys that never did are left out."""
    missing = set(keys)
    found: dict[str, str] = {}  # key -> run id
    after: tuple[float, str] | None = None
    while missing:
        page = read.runs(flow=flow, limit=RUNS_PAGE, after=after)
        if not page:
            break
        states: dict[tuple[str, str], list[str]] = {}
        for r in read.task_states([r.id for r in page], sorted(missing)):
            states.setdefault((r["task_key"], r["run_id"]), []).append(r["state"])
        for run in page:  # newest first
            if run.partition != partition:
                continue
            for key in sorted(missing):
                got = states.get((key, run.id))
                if got and all(s == TaskState.SUCCEEDED for s in got):
                    found[key] = run.id
                    missing.discard(key)
        last = page[-1]
        after = (last.created_at, last.id)
    return {key: read.task_runs(run_id, [key]) for key, run_id in found.items()}


class Plan(NamedTuple):
    """A materialize run to create: what it reuses, and the `trigger_info` recording it."""

    reuse: dict[str, list[TaskRunRow]]
    trigger_info: dict[str, Any]


def plan(
    read: Tx,
    spec: FlowSpec,
    graph: Graph,
    assets: Sequence[str],
    *,
    upstream: bool,
    partition: str | None = None,
) -> Plan:
    """The run that materializes `assets` of the flow `spec` (for `partition`: what it
    reuses comes from runs of that partition).

    Raises:
        InputError: an unknown asset, or (without `upstream`) an upstream task that never
            succeeded in a run of the flow, so there is no result to reuse.
    """
    s = select(spec, graph, assets, upstream=upstream)
    reuse = last_successes(read, spec.name, s.needed, partition) if s.needed else {}
    never = [k for k in s.needed if k not in reuse]
    if never:
        where = f" for partition {partition!r}" if partition is not None else ""
        raise InputError(
            f"upstream task{'s' if len(never) > 1 else ''} {', '.join(never)} of flow "
            f"'{spec.name}' never succeeded{where}, so there is no result to reuse: run it first, "
            "or materialize with --upstream to run everything the assets need"
        )
    info = {
        "type": MATERIALIZE,
        "assets": list(dict.fromkeys(assets)),
        "upstream": upstream,
        "selected": list(s.selected),
        # Where each ran: a run that reused it (an earlier materialize) is looked through.
        "reused": {k: reuse[k][0].reused_from or reuse[k][0].run_id for k in s.needed},
    }
    return Plan(reuse, info)


def scope(info: Mapping[str, Any] | None) -> frozenset[str] | None:
    """The task keys a run holds, from its `trigger_info`; None: every task of its flow."""
    if not info or info.get("type") != MATERIALIZE:
        return None
    return frozenset(info.get("selected") or ()) | frozenset(info.get("reused") or ())


def run_graph(graph: Graph, info: Mapping[str, Any] | None) -> Graph:
    """The part of a flow's graph a run holds (the whole of it, for most runs)."""
    keys = scope(info)
    if keys is None:
        return graph
    return Graph(
        {k: tuple(u for u in graph.upstream[k] if u in keys) for k in graph.order if k in keys},
        {k: tuple(d for d in graph.downstream[k] if d in keys) for k in graph.order if k in keys},
        tuple(k for k in graph.order if k in keys),
    )


def carried(info: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What a repair of a run keeps of its `trigger_info`: a materialize run's selection."""
    return dict(info) if info is not None and scope(info) is not None else None
