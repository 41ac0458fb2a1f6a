from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import baton
from baton.errors import DefinitionError
from baton.model.asset_decorators import Asset, asset, asset_flow
from baton.model.assets import AssetSpec, CheckSpec, FreshnessSpec
from baton.model.decorators import Flow, Task, flow
from baton.model.spec import PARAM_KEY, REF_KEY, ParamSpec
from baton.model.yaml_spec import load_yaml_flow
from baton.settings import Settings

CHECK = {"name": "no_null_ids", "sql": "SELECT * FROM t WHERE id IS NULL", "conn": "wh"}


@asset(name="raw.orders", description="Orders as exported.", owner="ops", tags=["sales"])
def orders(day: str = "2024-01-01", logical_date: str | None = None) -> list[dict[str, Any]]:
    return [{"day": day, "amount": 5}, {"day": day, "amount": 7}]


@asset
def customers() -> list[str]:
    return ["ann", "bob"]


@asset(
    name="warehouse.daily_totals",
    freshness={"cron": "0 7 * * *", "timezone": "Europe/Paris", "max_lag": "1h"},
    checks=[CHECK, {"name": "enough", "python": "checks:enough", "severity": "warn"}],
    retries=2,
)
def daily_totals(orders: list[dict[str, Any]], customers: list[str], scale: int = 1) -> int:
    return scale * sum(o["amount"] for o in orders) + len(customers)


@asset(name="reports.summary")
def summary(daily_totals: int, scale: int = 1) -> str:
    return f"total={daily_totals} scale={scale}"


def pipeline() -> Flow:
    return asset_flow("sales", [summary, daily_totals, customers, orders])


# --- @asset ----------------------------------------------------------------------------------


def test_an_asset_is_a_task_named_and_producing_its_asset():
    assert isinstance(customers, Asset) and isinstance(customers, Task)
    assert customers.name == "customers"
    assert customers.spec == AssetSpec(name="customers")
    assert customers.spec_fields["outputs"] == ("customers",)
    assert orders.name == "raw.orders"
    assert orders.spec_fields["outputs"] == ("raw.orders",)
    assert repr(orders) == "<Asset raw.orders>"


def test_outside_a_flow_an_asset_is_a_plain_call():
    assert customers() == ["ann", "bob"]
    assert daily_totals([{"amount": 1}], ["x"], scale=10) == 11


def test_catalog_fields_are_parsed_as_yaml_parses_them():
    assert orders.spec == AssetSpec(
        name="raw.orders", description="Orders as exported.", owner="ops", tags=("sales",)
    )
    assert daily_totals.spec == AssetSpec(
        name="warehouse.daily_totals",
        freshness=FreshnessSpec(max_lag=3600.0, cron="0 7 * * *", timezone="Europe/Paris"),
        checks=(
            CheckSpec(name="no_null_ids", sql=CHECK["sql"], conn="wh"),
            CheckSpec(name="enough", python="checks:enough", severity="warn"),
        ),
    )
    assert daily_totals.spec_fields["retry"].retries == 2


def test_spec_objects_are_accepted_and_checked_too():
    @asset(
        name="a.b",
        freshness=FreshnessSpec(max_lag=60),
        checks=CheckSpec(name="c", python="m:f"),
        tags="one",
    )
    def b() -> None: ...

    assert b.spec.freshness == FreshnessSpec(max_lag=60.0)
    assert b.spec.checks == (CheckSpec(name="c", python="m:f"),)
    assert b.spec.tags == ("one",)
    with pytest.raises(DefinitionError, match="exactly one of 'sql'"):
        asset(name="x", checks=[CheckSpec(name="c", python="m:f", sql="select 1")])(lambda: None)


@pytest.mark.parametrize(
    ("options", "yaml_field"),
    [
        ({"freshness": {"max_lag": "soon"}}, "freshness: {max_lag: soon}"),
        ({"freshness": {"maxlag": "1h"}}, "freshness: {maxlag: 1h}"),
        (
            {"freshness": {"cron": "0 7 * * *", "timezone": "Mars/Olympus"}},
            "freshness: {cron: '0 7 * * *', timezone: Mars/Olympus}",
        ),
        ({"checks": [{"name": "c", "sql": "select 1"}]}, "checks: [{name: c, sql: select 1}]"),
        (
            {"checks": [{"name": "c", "python": "m:f", "severity": "fatal"}]},
            "checks: [{name: c, python: 'm:f', severity: fatal}]",
        ),
        ({"tags": ["x", "x"]}, "tags: [x, x]"),
        ({"owner": ""}, "owner: ''"),
    ],
)
def test_a_bad_catalog_field_fails_with_the_yaml_message(options, yaml_field):
    with pytest.raises(DefinitionError) as python:
        asset(name="a.b", **options)(lambda: None)
    tasks = "tasks: [{key: t, type: shell, command: 'true'}]"
    text = f"name: f\nassets:\n  - name: a.b\n    {yaml_field}\n{tasks}\n"
    with pytest.raises(DefinitionError) as yaml:
        load_yaml_flow(text, file="f.yaml")
    assert python.value.message == yaml.value.message


def test_a_bad_name_or_explicit_inputs_are_refused():
    with pytest.raises(DefinitionError, match=r"invalid asset name 'a..b' \(of .*<lambda>\)"):
        asset(name="a..b")(lambda: None)
    with pytest.raises(DefinitionError, match="outputs come from its parameters and its name"):
        asset(outputs=["x"])(lambda: None)  # type: ignore[call-overload]
    with pytest.raises(DefinitionError, match="inputs and outputs"):
        asset(inputs=["x"], outputs=["y"])(lambda: None)  # type: ignore[call-overload]


# --- asset_flow ------------------------------------------------------------------------------


def test_parameters_naming_listed_assets_become_dependencies_and_inputs():
    spec = pipeline().spec
    by_key = {t.key: t for t in spec.tasks}
    keys = list(by_key)  # each asset after its upstreams
    assert sorted(keys) == ["customers", "raw.orders", "reports.summary", "warehouse.daily_totals"]
    assert keys.index("warehouse.daily_totals") > max(
        keys.index("raw.orders"), keys.index("customers")
    )
    assert keys[-1] == "reports.summary"
    totals = by_key["warehouse.daily_totals"]
    # `orders` is raw.orders's function name; `daily_totals` the last part of its name.
    assert set(totals.depends_on) == {"raw.orders", "customers"}
    assert totals.inputs == ("raw.orders", "customers")
    assert totals.outputs == ("warehouse.daily_totals",)
    assert totals.config["kwargs"] == {
        "orders": {REF_KEY: "raw.orders"},
        "customers": {REF_KEY: "customers"},
        "scale": {PARAM_KEY: "scale"},
    }
    assert totals.retry.retries == 2
    assert by_key["reports.summary"].depends_on == ("warehouse.daily_totals",)
    assert by_key["reports.summary"].inputs == ("warehouse.daily_totals",)
    assert by_key["raw.orders"].inputs == () and by_key["raw.orders"].depends_on == ()
    # logical_date is the run's own, not a flow param
    assert by_key["raw.orders"].config["kwargs"] == {"day": {PARAM_KEY: "day"}}


def test_other_parameters_become_flow_params_shared_by_the_assets():
    assert pipeline().spec.params == {
        "day": ParamSpec(type="string", default="2024-01-01"),
        "scale": ParamSpec(type="integer", default=1),
    }

    @asset
    def needs(limit: int) -> int:
        return limit

    assert asset_flow("f", [needs]).spec.params == {
        "limit": ParamSpec(type="integer", required=True)
    }


def test_the_flow_carries_every_asset_catalog_entry():
    spec = pipeline().spec
    assert {a.name: a for a in spec.assets} == {
        a.name: a.spec for a in (orders, customers, daily_totals, summary)
    }
    assert spec.name == "sales"


def test_flow_options_pass_through():
    f = asset_flow(
        "nightly",
        [customers],
        description="Night job.",
        schedule="0 3 * * *",
        notifications=[{"on": ["failure"], "webhook": "https://example.com/h"}],
    )
    assert f.spec.description == "Night job."
    assert f.spec.schedule == "0 3 * * *"
    assert f.spec.notifications[0]["on"] == ["failure"]


def test_a_parameter_matching_two_assets_is_ambiguous():
    @asset(name="staging.orders")
    def staged() -> int:
        return 1

    with pytest.raises(
        DefinitionError,
        match=r"'orders' of asset 'warehouse.daily_totals'"
        r" matches several assets \(raw.orders, staging.orders\)",
    ) as exc:
        asset_flow("f", [orders, staged, customers, daily_totals])
    assert exc.value.flow == "f"


def test_a_parameter_naming_an_asset_left_out_of_the_list():
    with pytest.raises(
        DefinitionError,
        match=r"names asset 'raw\.orders', which is not in asset_flow 'f': add it to the list",
    ):
        asset_flow("f", [customers, daily_totals])


def test_an_asset_cannot_read_itself():
    @asset
    def loop(loop: int) -> int:
        return loop

    with pytest.raises(DefinitionError, match="named after the asset itself"):
        asset_flow("f", [loop])


def test_assets_in_a_cycle():
    @asset
    def a(b: int) -> int:
        return b

    @asset
    def b(a: int) -> int:
        return a

    with pytest.raises(
        DefinitionError, match=r"the assets form a cycle: (a -> b -> a|b -> a -> b)"
    ):
        asset_flow("f", [a, b])


def test_the_list_holds_assets_once_each():
    @baton.task
    def plain() -> None: ...

    with pytest.raises(DefinitionError, match=r"entry 2 .* is not an @asset \(a @task"):
        asset_flow("f", [customers, plain])  # type: ignore[list-item]
    with pytest.raises(DefinitionError, match="asset 'customers' is listed twice"):
        asset_flow("f", [customers, customers])
    with pytest.raises(DefinitionError, match="at least one asset"):
        asset_flow("f", [])
    with pytest.raises(DefinitionError, match="takes a list of @asset functions"):
        asset_flow("f", customers)  # type: ignore[arg-type]


def test_star_parameters_and_disagreeing_flow_params():
    @asset
    def star(*parts: int) -> int:
        return 0

    with pytest.raises(DefinitionError, match=r"must be named .* not \*parts"):
        asset_flow("f", [star])

    @asset
    def other(scale: int = 2) -> int:
        return scale

    with pytest.raises(DefinitionError, match="flow param 'scale' is declared differently"):
        asset_flow("f", [orders, customers, daily_totals, other])


def test_an_asset_called_in_a_flow_is_a_task_with_its_output():
    @flow
    def f() -> None:
        customers()

    (t,) = f.spec.tasks
    assert (t.key, t.outputs) == ("customers", ("customers",))


# --- end to end ------------------------------------------------------------------------------


def test_upstream_results_flow_into_downstream_assets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    db = tmp_path / "wh.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (id INTEGER)")
        conn.execute("INSERT INTO t VALUES (1)")
    monkeypatch.setenv("BATON_CONN_WH", f"sqlite:///{db}")
    settings = Settings.from_env({"BATON_HOME": str(tmp_path / ".baton")})
    run = baton.run_flow(pipeline(), {"scale": 10}, settings=settings)
    assert run.state == "succeeded"
    assert run.result("raw.orders") == [
        {"day": "2024-01-01", "amount": 5},
        {"day": "2024-01-01", "amount": 7},
    ]
    assert run.result("warehouse.daily_totals") == 10 * 12 + 2
    assert run.result("reports.summary") == "total=122 scale=10"
