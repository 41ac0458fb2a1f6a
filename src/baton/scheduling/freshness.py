"""Freshness evaluation: the scheduler's pass over every asset with a freshness policy.

Each asset's state (`model.freshness.evaluate` of its latest write, any source) is kept in
`asset_state`, and becoming stale queues the asset's `stale` notifications, in the same
transaction. The state changes in only two ways: a new write (of any asset), or the clock
passing a fresh asset's `due`. So an `Evaluator` keeps the catalog, the last writes and
the stored states in memory, and a tick costs one query: the writes with an id above the
last one seen (the primary key's range, empty most of the time). Every CATALOG_POLL seconds
a second one asks whether a deploy changed the policies (then everything is read again),
and every SCAN seconds the recent writes are read by time (see `_recent`). Only the assets
written, or whose `due` came, are evaluated again. With 10,000 assets a tick with nothing
new takes microseconds; the first takes ~150 ms on SQLite (tests/contract/test_freshness.py
measures it).

What is written: a row whose state, last update or due changed, with `evaluated_at` the
instant it was evaluated. Nothing is rewritten while nothing changes: a row holds until its
`due`, or until a new write, which is seen at the next tick (one committed out of id order
on PostgreSQL, within SCAN seconds: see `_recent`). So `evaluated_at` says when the row's
values were last computed, not when the evaluator last looked (whether one runs is the
`scheduler` lock's business). Touching 10,000 rows per tick to move a timestamp would be
the scheduler's largest cost, and a dead-row churn for PostgreSQL's vacuum, for nothing a
reader can use.

Exactly one notification per stale episode, even with two evaluators racing (a new
scheduler taking over, two processes during a failover): every field of a transition is
computed from the data, not from the evaluator's clock. `since` is the missed deadline for
`stale`, the write that made it `fresh`, the catalog entry's creation for `unknown`; the
notification's event id is the missed deadline, and its key (`engine.notifications`) is
unique in the outbox, so a second evaluator's insert does nothing. Becoming fresh again is
recorded, not notified: Dagster tells of the failure only, and a recovery is visible on
the asset's page; a stale asset that stays stale (it misses more deadlines) is told once.
An asset first evaluated stale (a new policy, or a scheduler started late) is notified:
nobody has been told yet.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from baton.engine import notifications
from baton.errors import BatonError
from baton.model import freshness as model
from baton.model.assets import FreshnessSpec
from baton.model.spec import FlowSpec
from baton.model.times import iso
from baton.store.assets import OUTPUT
from baton.store.records import AssetRow, AssetStateRow
from baton.store.store import Store, Tx

SETTLE = 300.0  # seconds a write may take to be committed after its time (see scheduler)
SCAN = 10.0  # seconds between reads of the recent writes by time (see `_recent`)
CATALOG_POLL = 2.0  # seconds between looks for a deploy changing the policies

_policy = msgspec.json.Decoder(FreshnessSpec)


@dataclass(slots=True)
class _Asset:
    row: AssetRow
    policy: FreshnessSpec
    last: float | None  # its latest write's time
    state: AssetStateRow | None  # as stored


class Evaluator:
    """Keeps `asset_state` up to date and queues `stale` notifications; `tick` each round.

    Args:
        store: where the catalog, writes and states are.
        report: told of an asset whose policy cannot be evaluated (once per problem).
    """

    def __init__(self, store: Store, report: Callable[[str], object] | None = None) -> None:
        self.store = store
        self.report = report or (lambda line: None)
        self._mark: tuple[int, float] | None = None
        self._marked = -math.inf  # when the catalog's mark was last read
        self._assets: dict[str, _Asset] = {}
        self._seen = -math.inf  # the latest write time seen
        self._max_id = 0  # the highest write id seen
        self._scanned = -math.inf  # when writes were last read by time
        self._next = math.inf  # the earliest due of a fresh asset
        self._last_now = -math.inf
        self._problems: dict[str, str] = {}

    def tick(self, now: float) -> float | None:
        """Evaluate what may have changed by `now`; when a fresh asset is next due."""
        read = self.store.read()
        # The clock went back, or this evaluator has not looked for a while (its scheduler
        # lost the lock to another one, then got it back): what it keeps may be out of date.
        reset = now < self._last_now or now > self._last_now + SETTLE
        mark = self._mark
        if reset or now >= self._marked + CATALOG_POLL:
            mark = read.freshness_catalog_mark()
            self._marked = now
        if mark != self._mark or reset:
            # A deploy changed the policies, or what is kept is out of date: read it all.
            assert mark is not None
            names = self._load(read, mark)
        else:
            names = self._recent(read, now)
            if now >= self._next:
                names |= {n for n, a in self._assets.items() if _due_by(a.state, now)}
        self._last_now = now
        if names:
            self._evaluate(sorted(names), now)
        return self._next if self._next < math.inf else None

    def _load(self, read: Tx, mark: tuple[int, float]) -> set[str]:
        # Read first: a write committed while the rest is read is read again, not missed.
        max_id = read.last_materialization_id()
        rows = read.assets_with_freshness()
        names = [r.name for r in rows]
        last = read.last_materializations(names)
        states = read.asset_states(names)
        self._assets = {}
        for r in rows:
            try:
                policy = _policy.decode(r.freshness or "")
            except msgspec.DecodeError as exc:  # written by another baton version
                self._problem(r.name, f"its freshness policy cannot be read: {exc}")
                continue
            m = last.get(r.name)
            self._assets[r.name] = _Asset(r, policy, m.at if m else None, states.get(r.name))
        self._seen = max((m.at for m in last.values()), default=-math.inf)
        self._max_id = max_id
        self._scanned = -math.inf  # writes committed late are looked for at the next tick
        with self.store.transaction() as tx:  # a deploy may have dropped policies
            tx.prune_asset_states()
        self._mark = mark
        return set(self._assets)

    def _recent(self, read: Tx, now: float) -> set[str]:
        """The assets with a write newer than the one known. Each tick reads the writes
        with an id above the last one seen. On PostgreSQL a write may be committed after
        one with a higher id (ids are taken before commit), so every SCAN seconds (and at
        the first look) the writes of the last SETTLE seconds are read by time as well; the
        window ends at the latest write seen when the clock is ahead of the writes (an
        injected clock), so none is missed either way."""
        found: dict[str, float] = {}
        if now >= self._scanned + SCAN or now < self._scanned:
            since = min(now, self._seen if self._seen > -math.inf else now) - SETTLE
            found = read.materialized_since(since)
            self._scanned = now
        for id_, name, at in read.materialized_after(self._max_id):
            self._max_id = id_
            found[name] = max(at, found.get(name, at))
        out = set()
        for name, at in found.items():
            self._seen = max(self._seen, at)
            a = self._assets.get(name)
            if a is not None and (a.last is None or at > a.last):
                a.last = at
                out.add(name)
        return out

    def _evaluate(self, names: Sequence[str], now: float) -> None:
        writes: list[AssetStateRow] = []
        stale: list[tuple[_Asset, AssetStateRow]] = []
        for name in names:
            a = self._assets[name]
            try:
                f = model.evaluate(a.policy, a.last, now)
            except (BatonError, ValueError) as exc:  # a cron this version cannot read
                self._problem(name, f"its freshness cannot be evaluated: {exc}")
                continue
            self._problems.pop(name, None)
            old = a.state
            if old is not None and (old.state, old.last_update, old.due) == (
                f.state,
                a.last,
                f.due,
            ):
                continue
            new = AssetStateRow(name, f.state, _since(a, old, f, now), a.last, f.due, now)
            writes.append(new)
            if f.state == "stale" and (old is None or old.state != "stale"):
                stale.append((a, new))
        if writes:
            with self.store.transaction() as tx:
                tx.set_asset_states(writes)
                if stale:
                    self._notify(tx, stale, now)
            for w in writes:
                self._assets[w.asset].state = w
        self._next = min((_pending(a.state) for a in self._assets.values()), default=math.inf)

    def _notify(self, tx: Tx, stale: Sequence[tuple[_Asset, AssetStateRow]], now: float) -> None:
        names = [a.row.name for a, _ in stale]
        writers: dict[str, set[str]] = {}
        for li in tx.asset_links(names, OUTPUT):
            writers.setdefault(li.asset, set()).add(li.flow_name)
        specs: dict[str, FlowSpec] | None = None
        for a, s in stale:
            wanted = set(writers.get(a.row.name, ()))
            if a.row.declared_by is not None:
                wanted.add(a.row.declared_by)
            if wanted and specs is None:  # read only when some flow may want to be told
                specs = {f.name: f for f in tx.deployed_specs()}
            flows = [specs[n] for n in sorted(wanted) if specs is not None and n in specs]
            assert s.due is not None  # stale implies a deadline was missed
            fields = {
                "state": "stale",
                "last_update": iso(s.last_update),
                "due": iso(s.due),
                "since": iso(s.since),
                "freshness": msgspec.to_builtins(a.policy),
            }
            notifications.asset_event(tx, a.row, flows, "stale", str(int(s.due)), fields, now)

    def _problem(self, name: str, message: str) -> None:
        if self._problems.get(name) != message:
            self._problems[name] = message
            self.report(f"asset {name}: {message}")


def evaluate_all(store: Store, now: float) -> float | None:
    """One full pass over every asset with a freshness policy (what a new scheduler's
    first tick does); when a fresh asset is next due."""
    return Evaluator(store).tick(now)


def _since(a: _Asset, old: AssetStateRow | None, f: model.Freshness, now: float) -> float:
    """When the new state began, from the data (two evaluators agree on it)."""
    if old is not None and old.state == f.state:
        return old.since
    if f.state == "stale":
        assert f.due is not None
        return f.due
    if f.state == "fresh":
        assert a.last is not None
        # The write that made it fresh; else (a policy loosened) the evaluation.
        if old is None or old.state == "unknown" or a.last >= old.since:
            return a.last
        return now
    return a.row.created_at


def _pending(state: AssetStateRow | None) -> float:
    """When the clock alone changes this state (a fresh asset turns stale at its due);
    infinity: only a write does."""
    if state is None or state.state != "fresh" or state.due is None:
        return math.inf
    return state.due


def _due_by(state: AssetStateRow | None, now: float) -> bool:
    return now >= _pending(state)
