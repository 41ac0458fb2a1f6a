"""Runs of partitioned flows: the key checked and defaulted, the data interval, one active
run per (flow, partition), repairs and materializations keeping the key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from baton.engine import partitions as engine_partitions
from baton.engine.service import Engine
from baton.errors import ConflictError, InputError
from baton.model.partitions import PartitionsSpec, daily, dynamic, hourly, static
from baton.model.spec import FlowSpec, TaskSpec
from baton.model.states import AttemptState
from baton.store.store import Store
from engine_kit import Clock, outcome_of

# 2024-03-10 12:00 UTC: the last closed Paris day is 2024-03-09.
NOON = datetime(2024, 3, 10, 12, tzinfo=UTC).timestamp()


def task(key: str = "load", *depends_on: str) -> TaskSpec:
    return TaskSpec(
        key=key,
        type="python",
        config={"function": f"mod:{key}"},
        depends_on=depends_on,
        outputs=(f"wh.{key}",),
    )


def register(engine: Engine, parts: PartitionsSpec | None, *tasks: TaskSpec) -> str:
    return engine.register(FlowSpec(name="f", tasks=tasks or (task(),), partitions=parts))


def run_all(engine: Engine, clock: Clock, state: AttemptState = AttemptState.SUCCEEDED) -> None:
    while claimed := engine.claim(worker_id="w", queues=("default",), limit=10, lease=30):
        engine.complete([outcome_of(c, state, at=clock()) for c in claimed])


def test_a_time_partition_gives_the_run_its_key_and_data_interval(
    engine: Engine, store: Store, clock: Clock
) -> None:
    clock.now = NOON
    version = register(engine, daily("2024-01-01", timezone="Europe/Paris"))
    run = store.read().run(engine.create_run(version, {}, partition="2024-03-01"))
    assert run.partition == "2024-03-01"
    # A Paris day: from 23:00 UTC the evening before.
    assert run.data_interval_start == datetime(2024, 2, 29, 23, tzinfo=UTC).timestamp()
    assert run.data_interval_end == datetime(2024, 3, 1, 23, tzinfo=UTC).timestamp()
    meta = engine.run_meta(run.id)
    assert (meta.partition, meta.data_interval_start) == ("2024-03-01", run.data_interval_start)


def test_without_a_key_a_time_flow_runs_the_partition_that_closed_last(
    engine: Engine, store: Store, clock: Clock
) -> None:
    clock.now = NOON
    version = register(engine, daily("2024-01-01", timezone="Europe/Paris"))
    assert store.read().run(engine.create_run(version, {})).partition == "2024-03-09"
    # A scheduled run: the partition closed at the end of its data interval, not now.
    end = datetime(2024, 3, 5, 23, tzinfo=UTC).timestamp()
    run_id = engine.create_run(
        version, {}, trigger="schedule", logical_date=end - 86400, data_interval=(end - 86400, end)
    )
    assert store.read().run(run_id).partition == "2024-03-05"


def test_a_key_that_is_not_one_of_the_flows_is_refused_by_name(
    engine: Engine, store: Store, clock: Clock
) -> None:
    clock.now = NOON
    version = register(engine, daily("2024-01-01"))
    cases = {
        "2024-13-01": "'2024-13-01' is not a daily partition key (YYYY-MM-DD)",
        "2024-03-11": "partition '2024-03-11' does not exist yet",
        "2023-12-31": "before",
    }
    for key, says in cases.items():
        with pytest.raises(InputError, match="flow 'f'") as err:
            engine.create_run(version, {}, partition=key)
        assert says in str(err.value), str(err.value)
    regions = engine.register(FlowSpec(name="r", tasks=(task(),), partitions=static(["eu", "us"])))
    with pytest.raises(InputError, match=r"'apac' is not one of the partitions \(eu, us\)"):
        engine.create_run(regions, {}, partition="apac")
    with pytest.raises(InputError, match=r"static partitions .*--partition KEY"):
        engine.create_run(regions, {})
    plain = engine.register(FlowSpec(name="plain", tasks=(task(),)))
    with pytest.raises(InputError, match="flow 'plain' has no partitions"):
        engine.create_run(plain, {}, partition="eu")
    assert store.read().runs(limit=10) == []  # nothing half-written


def test_before_the_first_partition_closes_there_is_no_default(
    engine: Engine, clock: Clock
) -> None:
    clock.now = datetime(2024, 1, 1, 5, tzinfo=UTC).timestamp()
    version = register(engine, hourly("2024-01-01T05:00"))
    with pytest.raises(InputError, match="none has ended yet"):
        engine.create_run(version, {})


def test_a_dynamic_key_must_have_been_added(engine: Engine, store: Store, clock: Clock) -> None:
    version = register(engine, dynamic("customers"))
    with pytest.raises(InputError, match=r"baton partitions add customers acme"):
        engine.create_run(version, {}, partition="acme")
    assert engine_partitions.add(store, "customers", ["acme", "acme", "zeta"], clock()) == [
        "acme",
        "zeta",
    ]
    clock.now += 1
    assert engine_partitions.add(store, "customers", ["zeta", "beta"], clock()) == ["beta"]
    assert store.read().dynamic_partition_keys("customers") == ["acme", "zeta", "beta"]
    assert store.read().run(engine.create_run(version, {}, partition="acme")).partition == "acme"
    assert engine_partitions.remove(store, "customers", ["zeta", "nope"]) == ["zeta"]
    with pytest.raises(InputError, match="not a key of the dynamic partitions"):
        engine.create_run(version, {}, partition="zeta")


@pytest.mark.parametrize(
    ("name", "keys", "says"),
    [
        ("bad name!", ["a"], "is not a name of dynamic partitions"),
        ("customers", "acme", "must be a list of strings, not str"),
        ("customers", [], "no partition keys given"),
        ("customers", ["a/b"], "is not a partition key"),
        ("customers", ["..a"], "is not a partition key"),
        ("customers", [7], "is not a partition key"),
        ("customers", ["k"] * (engine_partitions.MAX_ADD + 1), "at most 10000 a call"),
    ],
)
def test_adding_bad_dynamic_keys_is_refused_and_adds_nothing(
    store: Store, clock: Clock, name: object, keys: object, says: str
) -> None:
    with pytest.raises(InputError, match=says):
        engine_partitions.add(store, name, keys, clock())
    assert store.read().dynamic_partition_keys("customers") == []


def test_one_active_run_per_flow_and_partition(engine: Engine, store: Store, clock: Clock) -> None:
    version = register(engine, static(["eu", "us"]))
    first = engine.create_run(version, {}, partition="eu")
    with pytest.raises(ConflictError, match=f"active run for partition 'eu': run {first}"):
        engine.create_run(version, {}, partition="eu")
    other = engine.create_run(version, {}, partition="us")  # another key is free
    run_all(engine, clock)
    assert {store.read().run(r).state for r in (first, other)} == {"succeeded"}
    again = engine.create_run(version, {}, partition="eu")  # the first one ended
    assert store.read().run(again).partition == "eu"


def test_the_store_refuses_a_second_active_run_of_a_partition(engine: Engine, store: Store) -> None:
    """The backstop of the engine's check, for writers racing past it."""
    version = register(engine, static(["eu"]))
    first = store.read().run(engine.create_run(version, {}, partition="eu"))
    row = {f: getattr(first, f) for f in first.__struct_fields__}
    refused = pytest.raises(ConflictError, match="already has an active run for partition 'eu'")
    with refused, store.transaction() as tx:
        tx.insert_run({**row, "id": "another"})


def test_repair_keeps_the_partition_and_materializations_record_it(
    engine: Engine, store: Store, clock: Clock
) -> None:
    version = register(engine, static(["eu", "us"]), task("a"), task("b", "a"))
    run_id = engine.create_run(version, {}, partition="us")
    claimed = engine.claim(worker_id="w", queues=("default",), limit=10, lease=30)
    engine.complete([outcome_of(claimed[0], at=clock())])
    run_all(engine, clock, AttemptState.FAILED)
    assert store.read().run(run_id).state == "failed"
    assert [m.partition for m in store.read().materializations("wh.a")] == ["us"]
    repair = engine.repair(run_id)
    assert store.read().run(repair).partition == "us"
    run_all(engine, clock)
    assert [m.partition for m in store.read().materializations("wh.b")] == ["us"]


def test_a_run_without_partitions_records_none(engine: Engine, store: Store, clock: Clock) -> None:
    version = register(engine, None)
    run_id = engine.create_run(version, {})
    run_all(engine, clock)
    assert store.read().run(run_id).partition is None
    assert [m.partition for m in store.read().materializations("wh.load")] == [None]


def test_with_end_offset_minus_one_the_default_is_the_newest_key_that_exists(
    engine: Engine, store: Store, clock: Clock
) -> None:
    clock.now = NOON  # 2024-03-09 closed last; held back by end_offset -1
    version = register(engine, daily("2024-01-01", end_offset=-1))
    assert store.read().run(engine.create_run(version, {})).partition == "2024-03-08"
    with pytest.raises(InputError, match="does not exist yet"):
        engine.create_run(version, {}, partition="2024-03-09")
