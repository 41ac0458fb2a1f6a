"""The runs list's query on both stores: several values of one filter, a part of a flow's
name (its LIKE characters taken literally), trigger kinds, created and logical date ranges,
the total, and paging from either end."""

from __future__ import annotations

from baton.engine.service import Engine
from baton.model.spec import FlowSpec, TaskSpec
from baton.store.runs import RunQuery
from baton.store.store import Store

DAY = 86400.0
T0 = 1_700_000_000.0


def _spec(name: str) -> FlowSpec:
    return FlowSpec(name=name, tasks=(TaskSpec(key="a", type="shell", config={"command": "true"}),))


def _fill(store: Store) -> dict[str, list[str]]:
    """30 runs: 3 flows x 10, one a day, every third scheduled (with a logical date)."""
    clock = [T0]
    engine = Engine(store, clock=lambda: clock[0])
    made: dict[str, list[str]] = {}
    for name in ("orders_daily", "orders.hourly", "billing"):
        version = engine.register(_spec(name))
        for i in range(10):
            clock[0] = T0 + i * DAY + len(made)
            scheduled = i % 3 == 0
            run_id = engine.create_run(
                version,
                {},
                trigger="schedule" if scheduled else "manual",
                logical_date=T0 + i * DAY - DAY if scheduled else None,
            )
            made.setdefault(name, []).append(run_id)
    return made


def test_filters_combine_and_count(store: Store):
    made = _fill(store)
    read = store.read()
    orders = RunQuery(flow_like="ORDERS")
    assert read.count_runs(orders) == 20
    assert {r.flow_name for r in read.runs(query=orders, limit=100)} == {
        "orders_daily",
        "orders.hourly",
    }
    assert read.count_runs(RunQuery(flow_like="%")) == 0  # literal: no name holds a %
    assert read.count_runs(RunQuery(flow_like="s.h")) == 10
    assert read.count_runs(RunQuery(flow_like="s_d")) == 1 * 10  # orders_daily, not 'sXd'
    both = RunQuery(flows=("billing", "orders_daily"), triggers=("schedule",))
    assert read.count_runs(both) == 8  # i = 0, 3, 6, 9 of each
    Engine(store).cancel(made["billing"][0])
    assert read.count_runs(RunQuery(states=("cancelled", "cancelling"))) == 1
    days = RunQuery(created_after=T0 + 2 * DAY, created_before=T0 + 5 * DAY)
    assert read.count_runs(days) == 9  # days 2, 3 and 4 of 3 flows
    logical = RunQuery(logical_after=T0 + 2 * DAY, logical_before=T0 + 9 * DAY)
    assert read.count_runs(logical) == 9  # i = 3, 6, 9 (days 2, 5, 8) of 3 flows


def test_paging_from_either_end_meets_in_the_middle(store: Store):
    _fill(store)
    read = store.read()
    q = RunQuery()
    newest = read.runs(query=q, limit=12)
    older = read.runs(query=q, limit=12, after=(newest[-1].created_at, newest[-1].id))
    oldest = read.runs(query=q, limit=12, oldest_first=True)
    seen = [r.id for r in newest + older] + [r.id for r in reversed(oldest)][-6:]
    assert len(seen) == len(set(seen)) == 30
    # A step back towards the newest from the oldest page: the runs just newer than it.
    back = read.runs(
        query=q, limit=12, after=(oldest[-1].created_at, oldest[-1].id), oldest_first=True
    )
    assert [r.id for r in back] == [r.id for r in reversed(newest + older)][6:18]


def test_recent_runs_are_each_flows_newest_for_more_flows_than_one_query_holds(store: Store):
    clock = [T0]
    engine = Engine(store, clock=lambda: clock[0])
    made: dict[str, list[str]] = {}
    for f in range(130):  # more than the 100 flows of one statement
        version = engine.register(_spec(f"f{f:03d}"))
        for i in range(f % 4):  # none, one, two or three runs
            clock[0] = T0 + f * 10 + i
            made.setdefault(f"f{f:03d}", []).append(engine.create_run(version, {}))
    names = [f"f{f:03d}" for f in range(130)] + ["no_such_flow"]
    got: dict[str, list[str]] = {}
    for r in store.read().recent_runs(names, 2):
        got.setdefault(r["flow_name"], []).append(r["id"])
    assert got == {name: list(reversed(ids))[:2] for name, ids in made.items()}
    assert store.read().recent_runs([], 2) == []
