"""`baton materialize`'s selection: which tasks a run holds, what it reuses, and how the
engine runs (and repairs) a run of some of a flow's tasks. Against a real SQLite store."""

from __future__ import annotations

from typing import Any

import pytest

from baton.engine import selection
from baton.engine.planner import Outcome
from baton.engine.service import Engine
from baton.errors import InputError
from baton.execution.loader import LoadedFlow
from baton.execution.materialize import start_materialize
from baton.model import run_trigger
from baton.model.graph import Graph, validate
from baton.model.spec import FlowSpec, TaskSpec
from baton.model.states import AttemptState
from baton.store.store import Claimed, Store
from engine_kit import Clock, outcome_of


def py(key: str, *depends_on: str, outputs: tuple[str, ...] = (), **fields: Any) -> TaskSpec:
    return TaskSpec(
        key=key,
        type="python",
        config={"function": f"mod:{key}"},
        depends_on=depends_on,
        outputs=outputs,
        **fields,
    )


# raw -> clean -> report, and a side task `audit` after raw that makes no asset.
CHAIN = FlowSpec(
    name="chain",
    tasks=(
        py("load", outputs=("w.raw",)),
        py("clean", "load", outputs=("w.clean",)),
        py("report", "clean", outputs=("w.report", "w.report_csv")),
        py("audit", "load"),
    ),
)


def graph_of(spec: FlowSpec) -> Graph:
    return validate(spec, {"python"})


def claimed(engine: Engine) -> list[Claimed]:
    return engine.claim(worker_id="w1", queues=("default",), limit=10, lease=30)


def finish(engine: Engine, clock: Clock, fail: frozenset[str] = frozenset()) -> None:
    """Claim and complete what is ready until nothing is; tasks in `fail` fail."""
    while batch := claimed(engine):
        outcomes: list[Outcome] = []
        for c in batch:
            bad = c.task_key in fail
            state = AttemptState.FAILED if bad else AttemptState.SUCCEEDED
            result = None if bad else f'"{c.task_key}@{c.run_id}"'
            outcomes.append(outcome_of(c, state, at=clock.now, result=result))
        engine.complete(outcomes)
    clock.now += 1  # runs made next are newer


def full_run(engine: Engine, clock: Clock, fail: frozenset[str] = frozenset()) -> str:
    run_id = engine.create_run(engine.register(CHAIN), {})
    finish(engine, clock, fail)
    return run_id


def materialize(engine: Engine, *assets: str, upstream: bool = False) -> str:
    return start_materialize(engine, LoadedFlow(CHAIN), {}, assets, upstream=upstream)


def task_rows(store: Store, run_id: str) -> dict[str, Any]:
    return {r.task_key: r for r in store.read().task_runs(run_id)}


# -- selecting (pure) ------------------------------------------------------------------


def test_select_runs_the_producers_and_needs_their_direct_upstream() -> None:
    s = selection.select(CHAIN, graph_of(CHAIN), ["w.report"], upstream=False)
    assert s == selection.Selection(selected=("report",), needed=("clean",))
    # Either output of a task selects it, once.
    s = selection.select(CHAIN, graph_of(CHAIN), ["w.report_csv", "w.report"], upstream=False)
    assert s.selected == ("report",)


def test_select_with_upstream_takes_every_ancestor_and_needs_nothing() -> None:
    s = selection.select(CHAIN, graph_of(CHAIN), ["w.report"], upstream=True)
    assert s == selection.Selection(selected=("load", "clean", "report"), needed=())
    # A root asset needs nothing either way; `audit` (no asset, not upstream) never runs.
    s = selection.select(CHAIN, graph_of(CHAIN), ["w.raw"], upstream=False)
    assert s == selection.Selection(selected=("load",), needed=())


def test_an_unknown_asset_is_named_with_a_did_you_mean_and_the_flows_assets() -> None:
    with pytest.raises(InputError) as err:
        selection.select(CHAIN, graph_of(CHAIN), ["w.claen", "w.report"], upstream=False)
    text = str(err.value)
    assert "no task of flow 'chain' produces the asset 'w.claen'" in text
    assert "did you mean 'w.clean'?" in text
    assert "its assets are: w.clean, w.raw, w.report, w.report_csv" in text
    # A task key is not an asset: `audit` outputs nothing.
    with pytest.raises(InputError, match="'audit'; its assets are"):
        selection.select(CHAIN, graph_of(CHAIN), ["audit"], upstream=False)


def test_a_flow_with_many_assets_lists_only_some() -> None:
    spec = FlowSpec(
        name="wide", tasks=tuple(py(f"t{i:02}", outputs=(f"a{i:02}",)) for i in range(30))
    )
    with pytest.raises(InputError) as err:
        selection.select(spec, graph_of(spec), ["zzz"], upstream=False)
    assert str(err.value).endswith("a19 and 10 more")
    assert "did you mean" not in str(err.value)


def test_run_graph_is_the_whole_graph_unless_the_run_selects() -> None:
    graph = graph_of(CHAIN)
    assert selection.run_graph(graph, None) is graph
    assert selection.run_graph(graph, {"type": "file", "path": "x"}) is graph
    info = {"type": "materialize", "selected": ["report"], "reused": {"clean": "r1"}}
    part = selection.run_graph(graph, info)
    assert part.order == ("clean", "report")
    assert part.upstream == {"clean": (), "report": ("clean",)}
    assert part.leaves == frozenset({"report"})
    assert selection.carried(info) == info
    assert selection.carried({"type": "asset", "asset": "x"}) is None


def test_the_trigger_detail_names_the_assets() -> None:
    info = {"type": "materialize", "assets": ["a", "b"], "upstream": False}
    assert run_trigger.detail(info) == "a, b"
    assert run_trigger.detail({**info, "upstream": True}) == "a, b and upstream"


# -- planning against the store --------------------------------------------------------


def test_an_upstream_that_never_succeeded_is_an_input_error(
    engine: Engine, store: Store, clock: Clock
) -> None:
    with pytest.raises(InputError, match="upstream task clean of flow 'chain' never succeeded"):
        materialize(engine, "w.report")
    full_run(engine, clock, fail=frozenset({"clean"}))
    with pytest.raises(InputError, match="--upstream"):
        materialize(engine, "w.report")
    assert len(store.read().runs(flow="chain")) == 1  # the refusals created no run


def test_the_latest_success_is_reused_and_a_later_failure_ignored(
    engine: Engine, store: Store, clock: Clock
) -> None:
    old = full_run(engine, clock)
    good = full_run(engine, clock)
    full_run(engine, clock, fail=frozenset({"clean"}))  # newest, but clean failed
    found = selection.last_successes(store.read(), "chain", ["clean", "load"])
    assert {k: [r.run_id for r in rows] for k, rows in found.items()} == {
        "clean": [good],
        "load": [store.read().runs(flow="chain", limit=1)[0].id],
    }
    assert old != good
    assert selection.last_successes(store.read(), "nope", ["clean"]) == {}


def test_the_search_pages_through_older_runs(
    engine: Engine, store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selection, "RUNS_PAGE", 2)
    good = full_run(engine, clock)
    for _ in range(4):
        full_run(engine, clock, fail=frozenset({"clean"}))
    found = selection.last_successes(store.read(), "chain", ["clean"])
    assert [r.run_id for r in found["clean"]] == [good]


# -- the engine running a materialize run ----------------------------------------------


def test_a_materialize_run_holds_the_selected_tasks_and_reuses_upstream(
    engine: Engine, store: Store, clock: Clock
) -> None:
    first = full_run(engine, clock)
    run_id = materialize(engine, "w.report")
    run = store.read().run(run_id)
    assert run.trigger == "materialize"
    assert run.parent_run_id is None
    rows = task_rows(store, run_id)
    assert set(rows) == {"clean", "report"}  # load and audit are not in the run at all
    assert rows["clean"].state == "succeeded"
    assert rows["clean"].reused_from == first
    assert rows["clean"].result == f'"clean@{first}"'
    assert rows["clean"].attempts == 0
    assert rows["report"].state == "queued"
    assert run.unfinished == 1

    finish(engine, clock)
    assert store.read().run(run_id).state == "succeeded"
    written = {a: store.read().materializations(a) for a in ("w.raw", "w.clean", "w.report")}
    assert [m.run_id for m in written["w.report"]] == [run_id, first]
    assert [m.run_id for m in written["w.clean"]] == [first]  # reused: not written again
    assert [m.run_id for m in written["w.raw"]] == [first]


def test_a_failed_selected_task_fails_the_run(engine: Engine, store: Store, clock: Clock) -> None:
    full_run(engine, clock)
    run_id = materialize(engine, "w.clean")
    assert set(task_rows(store, run_id)) == {"load", "clean"}
    finish(engine, clock, fail=frozenset({"clean"}))
    # `clean` is the run's leaf although `report` and `audit` follow it in the flow.
    assert store.read().run(run_id).state == "failed"


def test_with_upstream_the_chain_runs_and_nothing_else(
    engine: Engine, store: Store, clock: Clock
) -> None:
    run_id = materialize(engine, "w.clean", upstream=True)
    assert {k: r.state for k, r in task_rows(store, run_id).items()} == {
        "load": "queued",
        "clean": "pending",
    }
    finish(engine, clock)
    assert {k: r.state for k, r in task_rows(store, run_id).items()} == {
        "load": "succeeded",
        "clean": "succeeded",
    }
    assert store.read().run(run_id).state == "succeeded"


def test_a_repair_stays_inside_the_selection(engine: Engine, store: Store, clock: Clock) -> None:
    first = full_run(engine, clock)
    failed = materialize(engine, "w.clean")
    finish(engine, clock, fail=frozenset({"clean"}))
    repair = engine.repair(failed)
    run = store.read().run(repair)
    assert run.trigger == "repair"
    assert selection.scope(engine.run_meta(repair).trigger_info) == {"load", "clean"}
    rows = task_rows(store, repair)
    assert set(rows) == {"load", "clean"}
    assert rows["load"].reused_from == failed  # a repair reuses from the run it repairs
    assert rows["load"].result == f'"load@{first}"'
    finish(engine, clock)
    assert store.read().run(repair).state == "succeeded"
    assert {k: r.state for k, r in task_rows(store, repair).items()} == {
        "load": "succeeded",
        "clean": "succeeded",
    }


def test_a_mapped_upstream_is_reused_with_all_its_items(
    engine: Engine, store: Store, clock: Clock
) -> None:
    spec = FlowSpec(
        name="fan",
        tasks=(
            py("src"),
            py("each", "src", map_over="src"),
            py("total", "each", outputs=("w.total",)),
        ),
    )
    engine.create_run(engine.register(spec), {})
    src = claimed(engine)
    engine.complete([outcome_of(src[0], at=clock.now, result="[1, 2]", result_len=2)])
    finish(engine, clock)
    run_id = start_materialize(engine, LoadedFlow(spec), {}, ["w.total"])
    rows = store.read().task_runs(run_id)
    assert sorted((r.task_key, r.map_index, r.state) for r in rows) == [
        ("each", 0, "succeeded"),
        ("each", 1, "succeeded"),
        ("total", -1, "queued"),  # waits for both items, both reused
    ]
    finish(engine, clock)
    assert store.read().run(run_id).state == "succeeded"


def test_a_result_reused_twice_names_the_run_it_ran_in(
    engine: Engine, store: Store, clock: Clock
) -> None:
    first = full_run(engine, clock)
    failed = materialize(engine, "w.clean")
    finish(engine, clock, fail=frozenset({"clean"}))
    # `load` succeeded last in `failed`, as a row reused from `first`.
    again = materialize(engine, "w.clean")
    assert engine.run_meta(again).trigger_info == {
        "type": "materialize",
        "assets": ["w.clean"],
        "upstream": False,
        "selected": ["clean"],
        "reused": {"load": first},
    }
    load = task_rows(store, again)["load"]
    assert load.reused_from == first
    assert load.result == f'"load@{first}"'
    assert failed != first
