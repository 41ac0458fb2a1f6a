"""The one read model of assets: the catalog, an asset's history and checks, and lineage,
as the CLI (`baton assets`), the API (`/api/v1/assets`, `/api/v1/lineage`) and the UI show
them, built from the store's records (`store/assets.py`).

Times are ISO-8601 text (`model.times.iso`), metadata decoded JSON. A view's `to_json` is the
JSON the CLI prints and the API answers.

Freshness shown is the scheduler's last evaluation when it is at least as recent as the
asset's last materialization (so the CLI, the API, `--stale` and the metrics agree with the
notifications the scheduler sent), else the policy evaluated at `now` (no scheduler running
yet, or a write it has not seen; `now` defaults to the wall clock).

Lineage node ids: an asset's id is its name; a task's is `task:FLOW/TASK` (flow name and task
key: neither may hold `/`, and no asset name holds `:`, so ids never collide).
"""

from __future__ import annotations

import json
import time
from typing import Any

import msgspec

from baton.model import freshness as freshness_model
from baton.model.assets import CheckSpec, FreshnessSpec
from baton.model.times import iso
from baton.store.assets import INPUT, OUTPUT
from baton.store.records import (
    AssetLinkRow,
    AssetRow,
    AssetStateRow,
    CheckResultRow,
    MaterializationRow,
)
from baton.store.store import Tx

MAX_DEPTH = 10  # asset hops a lineage query may ask for, each way
MAX_NODES = 5000  # a lineage graph stops growing here (`truncated`)

_freshness_spec = msgspec.json.Decoder(FreshnessSpec)
_check_specs = msgspec.json.Decoder(list[CheckSpec])
_tags = msgspec.json.Decoder(list[str])


class _View(msgspec.Struct, frozen=True):
    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data


class AssetSummary(_View, frozen=True):
    """An asset in a list: `freshness` is fresh, stale or unknown (None: no policy);
    `checks_failing` counts the declared checks whose latest result failed, `checks_run`
    those that have a result at all."""

    name: str
    description: str | None
    owner: str | None
    tags: list[str]
    freshness: str | None
    last_materialization_at: str | None
    checks: int
    checks_failing: int
    declared_by: str | None = None  # the deployed flow declaring it; None: only written
    checks_run: int = 0


class TaskRef(_View, frozen=True):
    flow: str
    task: str


class LastMaterialization(_View, frozen=True):
    run_id: str | None  # None for a write reported from outside baton
    task: str | None
    at: str | None
    metadata: dict[str, Any]  # {} when its task reported none
    data_version: str | None


class FreshnessView(_View, frozen=True):
    state: str  # fresh | stale | unknown
    last_update: str | None
    due: str | None  # when it is (or was) late; None while unknown


class CheckLast(_View, frozen=True):
    passed: bool
    at: str | None
    run_id: str | None


class AssetCheckView(_View, frozen=True):
    name: str
    severity: str
    last: CheckLast | None
    description: str | None = None
    kind: str = "sql"  # sql | python


class AssetDetail(_View, frozen=True):
    """An asset as `baton assets show NAME --json` and `GET /api/v1/assets/{name}` show it:
    the issue's fields, then `declared_by` and the freshness policy (`freshness_policy`:
    `{max_lag}` in seconds, or `{cron, timezone, max_lag}`)."""

    name: str
    description: str | None
    owner: str | None
    tags: list[str]
    producers: list[TaskRef]
    consumers: list[TaskRef]
    last_materialization: LastMaterialization | None
    freshness: FreshnessView | None
    checks: list[AssetCheckView]
    declared_by: str | None = None
    freshness_policy: dict[str, Any] | None = None


class MaterializationView(_View, frozen=True):
    """One write of an asset: by a task (`source` task) or reported (`external`, with
    `reported_by` and no run)."""

    id: int
    asset: str
    run_id: str | None
    flow: str | None
    task: str | None
    attempt: int | None
    at: str | None
    partition: str | None
    metadata: dict[str, Any]  # {} when its task reported none
    data_version: str | None
    source: str
    reported_by: str | None

    @classmethod
    def of(cls, r: MaterializationRow) -> MaterializationView:
        return cls(
            id=r.id,
            asset=r.asset,
            run_id=r.run_id,
            flow=r.flow_name,
            task=r.task_key,
            attempt=r.attempt,
            at=iso(r.at),
            partition=r.partition,
            metadata=_obj(r.metadata) or {},
            data_version=r.data_version,
            source=r.source,
            reported_by=r.reported_by,
        )


class CheckResultView(_View, frozen=True):
    """One result of an asset's check; `error` says why the check could not run."""

    id: int
    asset: str
    check: str
    severity: str
    passed: bool
    at: str | None
    run_id: str | None
    task: str | None
    attempt: int | None
    metadata: dict[str, Any] | None
    failing_rows: list[Any] | None
    error: str | None
    duration: float | None
    materialization_id: int | None = None

    @classmethod
    def of(cls, r: CheckResultRow) -> CheckResultView:
        rows = json.loads(r.failing_rows) if r.failing_rows else None
        return cls(
            id=r.id,
            asset=r.asset,
            check=r.check_name,
            severity=r.severity,
            passed=bool(r.passed),
            at=iso(r.at),
            run_id=r.run_id,
            task=r.task_key,
            attempt=r.attempt,
            metadata=_obj(r.metadata),
            failing_rows=rows if isinstance(rows, list) else None,
            error=r.error,
            duration=r.duration,
            materialization_id=r.materialization_id,
        )


class LineageNode(_View, frozen=True):
    """An asset (`name`, `freshness`: its last evaluated state, None when never evaluated)
    or a task (`flow`, `task`); the other kind's fields are None."""

    id: str
    kind: str  # asset | task
    name: str | None = None
    freshness: str | None = None
    flow: str | None = None
    task: str | None = None


class LineageEdge(_View, frozen=True, rename={"from_": "from"}):
    from_: str
    to: str


class Lineage(_View, frozen=True):
    """Assets and the tasks between them, `upstream`/`downstream` asset hops from `root`,
    across all deployed flows; `truncated` when it reached `MAX_NODES`."""

    root: str
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    truncated: bool = False


def task_id(flow: str, task: str) -> str:
    """A task's lineage node id."""
    return f"task:{flow}/{task}"


def asset_list(
    tx: Tx,
    *,
    tag: str | None = None,
    stale: bool | None = None,
    q: str | None = None,
    after: str | None = None,
    limit: int = 50,
    owner: str | None = None,
    now: float | None = None,
) -> list[AssetSummary]:
    """A page of the catalog by name, after name `after` (the cursor)."""
    rows = tx.asset_page(tag=tag, stale=stale, q=q, owner=owner, after=after, limit=limit)
    names = [r.name for r in rows]
    last = tx.last_materializations(names)
    states = tx.asset_states(names)
    checks = {r.name: _check_specs.decode(r.checks) for r in rows}
    results = tx.last_check_results([(a, c.name) for a, specs in checks.items() for c in specs])
    now = time.time() if now is None else now
    out = []
    for r in rows:
        m = last.get(r.name)
        f = _freshness(r, m, states.get(r.name), now)
        lasts = [x for c in checks[r.name] if (x := results.get((r.name, c.name)))]
        failing = sum(1 for x in lasts if not x.passed)
        out.append(
            AssetSummary(
                name=r.name,
                description=r.description,
                owner=r.owner,
                tags=_tags.decode(r.tags),
                freshness=None if f is None else f.state,
                last_materialization_at=None if m is None else iso(m.at),
                checks=len(checks[r.name]),
                checks_failing=failing,
                declared_by=r.declared_by,
                checks_run=len(lasts),
            )
        )
    return out


def asset_show(tx: Tx, name: str, now: float | None) -> AssetDetail | None:
    """An asset's catalog entry, who writes and reads it, its last write, freshness and
    checks; None when no catalog entry or deployed task names it."""
    row = tx.asset(name)
    links = tx.asset_links([name])
    if row is None:
        if not links:
            return None
        row = AssetRow(name, None, None, "[]", None, "[]", "[]", None, 0.0, 0.0)
    m = tx.last_materializations([name]).get(name)
    specs = _check_specs.decode(row.checks)
    results = tx.last_check_results([(name, c.name) for c in specs])
    f = _freshness(row, m, tx.asset_states([name]).get(name), time.time() if now is None else now)
    return AssetDetail(
        name=row.name,
        description=row.description,
        owner=row.owner,
        tags=_tags.decode(row.tags),
        producers=[TaskRef(li.flow_name, li.task_key) for li in links if li.kind == OUTPUT],
        consumers=[TaskRef(li.flow_name, li.task_key) for li in links if li.kind == INPUT],
        last_materialization=None
        if m is None
        else LastMaterialization(
            run_id=m.run_id,
            task=m.task_key,
            at=iso(m.at),
            metadata=_obj(m.metadata) or {},
            data_version=m.data_version,
        ),
        freshness=f,
        checks=[_check(c, results.get((name, c.name))) for c in specs],
        declared_by=row.declared_by,
        freshness_policy=None if row.freshness is None else json.loads(row.freshness),
    )


def asset_history(
    tx: Tx, name: str, *, before_id: int | None = None, limit: int = 50
) -> list[MaterializationView]:
    """An asset's writes, newest first, older than id `before_id` (the cursor)."""
    return [
        MaterializationView.of(r)
        for r in tx.materializations(name, before_id=before_id, limit=limit)
    ]


def check_history(
    tx: Tx, name: str, *, before_id: int | None = None, limit: int = 50
) -> list[CheckResultView]:
    """An asset's check results, newest first, older than id `before_id` (the cursor)."""
    return [CheckResultView.of(r) for r in tx.check_results(name, before_id=before_id, limit=limit)]


def lineage(
    tx: Tx, name: str, *, upstream: int = 3, downstream: int = 3, max_nodes: int = MAX_NODES
) -> Lineage | None:
    """The assets `upstream` asset hops above `name` and `downstream` below it, with the
    deployed tasks between them: an output is an edge task -> asset, an input asset -> task.
    One query per hop (`Tx.lineage_hop`), not per node. None when nothing knows `name`."""
    if tx.asset(name) is None and not tx.asset_links([name]):
        return None
    g = _Graph(name, max_nodes)
    for hops, here, there in ((upstream, OUTPUT, INPUT), (downstream, INPUT, OUTPUT)):
        frontier, seen = [name], {name}
        for _ in range(hops):
            if not frontier or g.truncated:
                break
            frontier_list, level = frontier, set(frontier)
            frontier = []
            for li in tx.lineage_hop(frontier_list, here):
                task = g.task(li.flow_name, li.task_key)
                if task is None:
                    break
                if li.kind == here and li.asset in level:
                    g.link(li, task)
                elif li.kind == there:
                    if not g.asset(li.asset):
                        break
                    g.link(li, task)
                    if li.asset not in seen:
                        seen.add(li.asset)
                        frontier.append(li.asset)
    states = tx.asset_states([n.name for n in g.nodes.values() if n.name is not None])
    nodes = [
        msgspec.structs.replace(n, freshness=s.state)
        if n.name is not None and (s := states.get(n.name)) is not None
        else n
        for n in g.nodes.values()
    ]
    edges = [LineageEdge(a, b) for a, b in g.edges]
    return Lineage(root=name, nodes=nodes, edges=edges, truncated=g.truncated)


class _Graph:
    """Nodes and edges in the order found, each once, up to `limit` nodes."""

    def __init__(self, root: str, limit: int) -> None:
        self.limit, self.truncated = limit, False
        self.nodes: dict[str, LineageNode] = {root: LineageNode(root, "asset", name=root)}
        self.edges: dict[tuple[str, str], None] = {}

    def _room(self, node_id: str) -> bool:
        if node_id in self.nodes:
            return True
        if len(self.nodes) >= self.limit:
            self.truncated = True
            return False
        return True

    def task(self, flow: str, key: str) -> str | None:
        node_id = task_id(flow, key)
        if not self._room(node_id):
            return None
        self.nodes.setdefault(node_id, LineageNode(node_id, "task", flow=flow, task=key))
        return node_id

    def asset(self, name: str) -> bool:
        if not self._room(name):
            return False
        self.nodes.setdefault(name, LineageNode(name, "asset", name=name))
        return True

    def link(self, li: AssetLinkRow, task: str) -> None:
        edge = (task, li.asset) if li.kind == OUTPUT else (li.asset, task)
        self.edges[edge] = None


def _freshness(
    row: AssetRow, last: MaterializationRow | None, state: AssetStateRow | None, now: float
) -> FreshnessView | None:
    if row.freshness is None:
        return None
    last_at = None if last is None else last.at
    if state is not None and (last_at is None or state.evaluated_at >= last_at):
        return FreshnessView(state.state, iso(state.last_update), iso(state.due))
    judged = freshness_model.evaluate(_freshness_spec.decode(row.freshness), last_at, now)
    return FreshnessView(judged.state, iso(last_at), iso(judged.due))


def _check(spec: CheckSpec, last: CheckResultRow | None) -> AssetCheckView:
    return AssetCheckView(
        name=spec.name,
        severity=spec.severity,
        last=None
        if last is None
        else CheckLast(passed=bool(last.passed), at=iso(last.at), run_id=last.run_id),
        description=spec.description,
        kind="python" if spec.python else "sql",
    )


def _obj(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else None


MAX_METADATA = 64 * 1024  # bytes of a report's metadata as JSON (as a task's report)
MAX_TEXT = 300  # characters of a reported partition or data version


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def report(
    tx: Tx,
    name: str,
    metadata: dict[str, Any],
    *,
    partition: str | None,
    data_version: str | None,
    reported_by: str | None,
    mask: Any,
    now: float,
) -> MaterializationView:
    """Record a write of `name` made outside baton (`baton assets report`, `POST
    /api/v1/assets/{name}/materializations`): it fires asset triggers like any other.
    `mask`: the secrets' `mask_json`, applied to the metadata.

    Raises:
        InputError: a bad name, metadata, partition or data version (the message names it).
        NotFoundError: no catalog entry nor deployed task knows `name`.
    """
    from baton.errors import InputError, NotFoundError
    from baton.model.assets import NAME_RULE, is_name

    if not is_name(name):
        raise InputError(f"asset name '{name[:MAX_TEXT]}' is not valid: use {NAME_RULE}")
    if not isinstance(metadata, dict) or not all(isinstance(k, str) for k in metadata):
        raise InputError("metadata must be a JSON object with string keys")
    try:
        # NaN and Infinity, which Python's JSON parser lets in, and lone surrogates (valid
        # JSON escapes, no UTF-8): stored, either would break every later read of the asset.
        size = len(json.dumps(metadata, allow_nan=False, ensure_ascii=False).encode())
    except (TypeError, ValueError):
        raise InputError(
            "metadata must be JSON values (no NaN, Infinity or lone surrogate characters)"
        ) from None
    if size > MAX_METADATA:
        raise InputError(f"metadata is over {MAX_METADATA} bytes as JSON: keep it small")
    for field, value in (("partition", partition), ("data_version", data_version)):
        if value is None:
            continue
        if not isinstance(value, str) or not value or len(value) > MAX_TEXT or not _utf8(value):
            raise InputError(f"{field} must be text of 1 to {MAX_TEXT} characters")
    if tx.asset(name) is None and not tx.asset_links([name]):
        raise NotFoundError(
            f"no asset '{name}': declare it under a deployed flow's `assets:` first "
            "(`baton assets list` shows the catalog)"
        )
    row = tx.report_materialization(name, mask(metadata), partition, data_version, reported_by, now)
    return MaterializationView.of(row)
