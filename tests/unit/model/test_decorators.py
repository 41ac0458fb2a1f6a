from __future__ import annotations

from typing import Any

import pytest

from baton.errors import DefinitionError
from baton.model.decorators import Flow, Task, TaskRef, flow, task
from baton.model.spec import PARAM_KEY, REF_KEY, FlowSpec, ParamSpec, RetryPolicy
from baton.model.trigger_rules import TriggerRule


@task
def extract() -> list[int]:
    return [1, 2, 3]


@task
def double(x: int) -> int:
    return 2 * x


@task
def combine(*parts: object, **named: object) -> list[object]:
    return [*parts, *named.values()]


@task(
    retries=3,
    retry_delay=1.5,
    retry_backoff=True,
    max_retry_delay=30,
    retry_jitter=0.2,
    retry_on=(ValueError, "mymod.Boom"),
    timeout=60,
    trigger_rule="all_done",
    queue="io",
    pool="db",
    priority=7,
    inputs=["raw"],
    outputs=["clean"],
    isolation="process",
    branch=True,
)
def configured() -> str:
    return "clean"


def ref(key: str) -> dict[str, str]:
    return {REF_KEY: key}


def test_a_task_outside_a_flow_is_a_plain_call() -> None:
    assert double(21) == 42
    assert double.map([1, 2]) == [2, 4]
    assert isinstance(double, Task)
    assert double.name == "double"
    assert double.reference.endswith(":double")


def test_tracing_builds_the_dag_from_arguments() -> None:
    @flow
    def pipeline() -> None:
        rows = extract()
        a = double(rows)
        b = double(x=rows)
        combine([a, {"nested": b}], label="done")

    assert isinstance(pipeline, Flow)
    spec = pipeline.spec
    assert spec.name == "pipeline"
    assert [t.key for t in spec.tasks] == ["extract", "double", "double__1", "combine"]
    assert spec.task("extract").depends_on == ()
    assert spec.task("double").depends_on == ("extract",)
    assert spec.task("double").config["args"] == [ref("extract")]
    assert spec.task("double__1").config["kwargs"] == {"x": ref("extract")}
    combined = spec.task("combine")
    assert combined.depends_on == ("double", "double__1")
    assert combined.config["args"] == [[ref("double"), {"nested": ref("double__1")}]]
    assert combined.config["kwargs"] == {"label": "done"}
    assert set(pipeline.tasks) == {"extract", "double", "double__1", "combine"}
    assert pipeline.tasks["double__1"] is double


def test_a_task_called_outside_a_flow_after_tracing_still_runs() -> None:
    @flow
    def f() -> None:
        double(1)

    assert double(3) == 6  # tracing left no state behind


def test_wait_for_adds_dependencies_without_arguments() -> None:
    @flow
    def f() -> None:
        first = extract()
        second = double(2, wait_for=[first])
        combine(wait_for=second)

    spec = f.spec
    assert spec.task("double").depends_on == ("extract",)
    assert spec.task("double").config["args"] == [2]
    assert "kwargs" not in spec.task("double").config
    assert spec.task("combine").depends_on == ("double",)


def test_wait_for_takes_only_task_results() -> None:
    with pytest.raises(DefinitionError, match="wait_for") as err:

        @flow
        def f() -> None:
            double(1, wait_for=["extract"])

    assert err.value.flow == "f"
    assert err.value.task == "double"


def test_params_come_from_the_flow_signature() -> None:
    @flow(name="with-params", description="Params flow.", max_active_runs=2)
    def f(day: str, n: int = 3, ratio: float | None = None, flags: list[str] | None = None, x=1):  # type: ignore[no-untyped-def]
        double(n)
        combine(day, ratio, flags, x)

    spec = f.spec
    assert spec.name == "with-params"
    assert spec.description == "Params flow."
    assert spec.max_active_runs == 2
    assert spec.params == {
        "day": ParamSpec(type="string", required=True),
        "n": ParamSpec(type="integer", default=3),
        "ratio": ParamSpec(type="number"),
        "flags": ParamSpec(type="array"),
        "x": ParamSpec(type="any", default=1),
    }
    assert spec.task("double").config["args"] == [{PARAM_KEY: "n"}]
    assert spec.task("double").depends_on == ()
    assert spec.task("combine").config["args"] == [
        {PARAM_KEY: "day"},
        {PARAM_KEY: "ratio"},
        {PARAM_KEY: "flags"},
        {PARAM_KEY: "x"},
    ]


def test_the_docstring_is_the_default_description() -> None:
    @flow
    def f() -> None:
        """Does things."""
        extract()

    assert f.spec.description == "Does things."


def test_flow_params_must_be_named() -> None:
    with pytest.raises(DefinitionError, match=r"\*args") as err:

        @flow
        def f(*args: int) -> None:
            extract()

    assert err.value.flow == "f"


def test_the_same_task_three_times_gets_numbered_keys() -> None:
    @flow
    def f() -> None:
        for i in range(3):
            double(i)

    assert [t.key for t in f.spec.tasks] == ["double", "double__1", "double__2"]
    assert [t.config["args"] for t in f.spec.tasks] == [[0], [1], [2]]


def test_a_named_task_uses_its_name_as_key() -> None:
    renamed = task(name="load")(lambda: None)

    @flow
    def f() -> None:
        renamed()

    assert [t.key for t in f.spec.tasks] == ["load"]


def test_map_over_a_task_result() -> None:
    @flow
    def f() -> None:
        rows = extract()
        double.map(rows)

    mapped = f.spec.task("double")
    assert mapped.map_over == "extract"
    assert mapped.depends_on == ("extract",)
    assert "map_items" not in mapped.config


def test_map_over_literal_items_and_params() -> None:
    @flow
    def f(items: list[int]) -> None:
        double.map([1, 2, 3])
        double.map(items)

    first, second = f.spec.tasks
    assert first.map_over is None
    assert first.config["map_items"] == [1, 2, 3]
    assert second.config["map_items"] == {PARAM_KEY: "items"}
    assert first.depends_on == second.depends_on == ()


def test_a_non_json_argument_names_flow_and_task() -> None:
    with pytest.raises(DefinitionError) as err:

        @flow
        def sets() -> None:
            extract()
            double({1, 2})

    assert err.value.flow == "sets"
    assert err.value.task == "double"
    assert "not JSON-serialisable" in str(err.value)
    assert "flow 'sets'" in str(err.value)
    assert "task 'double'" in str(err.value)


def test_computing_on_a_reference_explains_tracing() -> None:
    with pytest.raises(DefinitionError) as err:

        @flow
        def adds() -> None:
            rows = extract()
            double(rows + 1)  # type: ignore[operator]

    message = str(err.value)
    assert err.value.flow == "adds"
    assert "TypeError" in message
    assert "reference" in message
    assert "inside tasks" in message


def test_computing_on_a_param_explains_tracing() -> None:
    with pytest.raises(DefinitionError, match="inside tasks") as err:

        @flow
        def f(n: int = 1) -> None:
            double(n * 2)

    assert err.value.flow == "f"


def test_task_options_land_in_the_task_spec() -> None:
    @flow
    def f() -> None:
        configured()

    spec = f.spec.task("configured")
    assert spec.retry == RetryPolicy(
        retries=3,
        delay=1.5,
        backoff=2.0,
        max_delay=30,
        jitter=0.2,
        retry_on=("builtins.ValueError", "mymod.Boom"),
    )
    assert spec.timeout == 60
    assert spec.trigger_rule is TriggerRule.ALL_DONE
    assert spec.queue == "io"
    assert spec.pool == "db"
    assert spec.priority == 7
    assert spec.inputs == ("raw",)
    assert spec.outputs == ("clean",)
    assert spec.config["isolation"] == "process"
    assert spec.config["branch"] is True
    assert spec.config["function"] == configured.reference


def test_default_options() -> None:
    @flow
    def f() -> None:
        extract()

    spec = f.spec.task("extract")
    assert spec.retry == RetryPolicy()
    assert spec.timeout is None
    assert spec.trigger_rule is TriggerRule.ALL_SUCCESS
    assert spec.queue == "default"
    assert spec.priority == 0
    assert spec.config == {"function": extract.reference}


def test_numeric_backoff_is_kept() -> None:
    t = task(retry_backoff=3)(lambda: None)
    assert t.spec_fields["retry"].backoff == 3


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"retries": -1}, "retries"),
        ({"timeout": 0}, "timeout"),
        ({"trigger_rule": "sometimes"}, "sometimes"),
        ({"isolation": "container"}, "isolation"),
        ({"retry_jitter": 2}, "jitter"),
    ],
)
def test_invalid_task_options_are_definition_errors(
    options: dict[str, object], fragment: str
) -> None:
    def work() -> None:
        pass

    with pytest.raises(DefinitionError, match=fragment) as err:
        task(**options)(work)  # type: ignore[call-overload]
    assert err.value.task == "work"


def test_calling_a_task_in_a_flow_returns_a_reference() -> None:
    seen: list[object] = []

    @flow
    def f() -> None:
        seen.append(extract())

    assert seen == [TaskRef("extract")]


def test_a_flow_is_validated_when_defined() -> None:
    with pytest.raises(DefinitionError, match="no tasks"):

        @flow
        def empty() -> None:
            pass


def test_calling_a_task_with_the_wrong_arguments_is_a_definition_error() -> None:
    @task
    def one(x: int) -> int:
        return x

    with pytest.raises(DefinitionError, match=r"task 'one'.*wrong arguments.*too many"):

        @flow
        def wrong() -> None:
            one(1, 2)

    with pytest.raises(DefinitionError, match=r"missing a required argument: 'x'"):

        @flow
        def missing() -> None:
            one()

    @flow
    def mapped() -> None:
        one.map([1, 2])  # the item fills x

    assert mapped.spec.tasks[0].key == "one"


# -- schedules and triggers ----------------------------------------------------------------


def test_a_flow_declares_its_schedule_and_triggers() -> None:
    @flow(
        schedule={"cron": "0 3 * * *", "timezone": "Europe/Paris", "catchup": True},
        triggers=[{"assets": ("raw.a", "raw.b")}, {"flow": "ingest", "states": ["failed"]}],
    )
    def nightly() -> None:
        extract()

    assert nightly.spec.schedule == {
        "cron": "0 3 * * *",
        "timezone": "Europe/Paris",
        "catchup": True,
    }
    # JSON values, as a stored spec reads back: the same version whether defined or loaded.
    assert nightly.spec.triggers == (
        {"assets": ["raw.a", "raw.b"]},
        {"flow": "ingest", "states": ["failed"]},
    )
    assert FlowSpec.from_json(nightly.spec.to_json()) == nightly.spec


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"schedule": "0 25 * * *"}, "bad cron expression '0 25 * * *'"),
        ({"schedule": {"cron": "@daily", "timezone": "Nowhere/City"}}, "unknown time zone"),
        ({"triggers": [{"asset": "x", "flow": "y"}]}, "trigger 1 declares asset and flow"),
        ({"triggers": {"asset": "x"}}, "triggers must be a list"),
    ],
)
def test_bad_schedules_and_triggers_fail_at_definition(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError) as info:

        @flow(**options)
        def scheduled() -> None:
            extract()

    assert info.value.flow == "scheduled"
    assert message in str(info.value)


def test_a_task_may_take_the_runs_logical_date_without_the_flow_passing_it() -> None:
    @task
    def load(day: str, logical_date: str | None = None, trigger: Any = None) -> None:
        del day, logical_date, trigger

    @task
    def strict(logical_date: str) -> None:
        del logical_date

    @flow
    def daily() -> None:
        load("x")
        strict()

    assert [t.key for t in daily.spec.tasks] == ["load", "strict"]
