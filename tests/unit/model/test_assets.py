from __future__ import annotations

import textwrap

import pytest

from baton.errors import DefinitionError
from baton.model import assets, graph, notifications
from baton.model.assets import AssetSpec, CheckResult, CheckSpec, FreshnessSpec
from baton.model.spec import FlowSpec, TaskSpec
from baton.model.yaml_fields import NoLines
from baton.model.yaml_spec import load_yaml_flow

# Line numbers below count from `name: f` (line 1).
FLOW = """\
name: f
assets:
  - name: warehouse.orders
    description: One row per order.
    owner: data-team@example.com
    tags: [sales, daily]
    freshness: {cron: "0 7 * * *", timezone: Europe/Paris, max_lag: 1h}
    checks:
      - name: no_null_ids
        sql: SELECT * FROM orders WHERE id IS NULL
        conn: warehouse
        description: every order has an id
      - {name: enough_rows, python: "checks.orders:enough_rows", severity: warn}
  - name: raw.events
    freshness: {max_lag: 6h}
tasks:
  - {key: load, type: shell, command: "true", inputs: raw.events, outputs: [warehouse.orders]}
"""


def load(text: str) -> FlowSpec:
    return load_yaml_flow(text, file="flows/f.yaml")


def error(old: str, new: str) -> DefinitionError:
    assert old in FLOW
    with pytest.raises(DefinitionError) as caught:
        load(FLOW.replace(old, new, 1))
    assert caught.value.file == "flows/f.yaml"
    assert caught.value.flow == "f"
    return caught.value


# -- what a valid declaration becomes ------------------------------------------------------


def test_a_full_declaration() -> None:
    orders, events = load(FLOW).assets
    assert orders == AssetSpec(
        name="warehouse.orders",
        description="One row per order.",
        owner="data-team@example.com",
        tags=("sales", "daily"),
        freshness=FreshnessSpec(max_lag=3600.0, cron="0 7 * * *", timezone="Europe/Paris"),
        checks=(
            CheckSpec(
                name="no_null_ids",
                sql="SELECT * FROM orders WHERE id IS NULL",
                conn="warehouse",
                description="every order has an id",
            ),
            CheckSpec(name="enough_rows", python="checks.orders:enough_rows", severity="warn"),
        ),
    )
    assert events == AssetSpec(name="raw.events", freshness=FreshnessSpec(max_lag=21600.0))


def test_defaults_are_left_out_of_the_stored_form() -> None:
    stored = load(FLOW).to_builtins()["assets"]
    assert stored[1] == {"name": "raw.events", "freshness": {"max_lag": 21600.0}}
    assert stored[0]["checks"][0] == {
        "name": "no_null_ids",
        "sql": "SELECT * FROM orders WHERE id IS NULL",
        "conn": "warehouse",
        "description": "every order has an id",
    }  # severity error is the default


def test_the_spec_round_trips_through_json() -> None:
    flow = load(FLOW)
    assert FlowSpec.from_json(flow.to_json()) == flow


def test_a_flow_without_assets_keeps_its_hash() -> None:
    # The same flow hashed before `assets` existed: no new version on upgrade.
    text = FLOW[: FLOW.index("assets:")] + FLOW[FLOW.index("tasks:") :]
    assert load(text).assets == ()
    assert "assets" not in load(text).to_json()
    assert load(text).content_hash() == "909b5da085be039c"


def test_a_declared_asset_changes_the_hash() -> None:
    text = FLOW[: FLOW.index("assets:")] + FLOW[FLOW.index("tasks:") :]
    assert load(FLOW).content_hash() != load(text).content_hash()


def test_an_external_asset_needs_no_producing_task() -> None:
    flow = load("name: f\nassets: [{name: vendor.prices}]\ntasks: [{key: a, type: t}]\n")
    assert flow.assets == (AssetSpec(name="vendor.prices"),)


def test_a_single_tag_stands_for_a_list_of_one() -> None:
    assert load(FLOW.replace("[sales, daily]", "sales")).assets[0].tags == ("sales",)


@pytest.mark.parametrize(
    ("freshness", "expected"),
    [
        ("{max_lag: 90}", FreshnessSpec(max_lag=90.0)),
        ("{max_lag: 1d}", FreshnessSpec(max_lag=86400.0)),
        ("{cron: '0 7 * * *'}", FreshnessSpec(cron="0 7 * * *")),
        ("{cron: '@DAILY', timezone: UTC}", FreshnessSpec(cron="@daily")),
        ("{cron: '0  7 * * *', max_lag: 0}", FreshnessSpec(max_lag=0.0, cron="0 7 * * *")),
        ("{cron: '0 7 * * *', max_lag: null}", FreshnessSpec(cron="0 7 * * *")),
    ],
)
def test_freshness_forms(freshness: str, expected: FreshnessSpec) -> None:
    text = FLOW.replace('{cron: "0 7 * * *", timezone: Europe/Paris, max_lag: 1h}', freshness)
    assert load(text).assets[0].freshness == expected


def test_asset_notifications_want_asset_events() -> None:
    assert set(assets.EVENTS) <= set(notifications.EVENTS)  # flows may want them too
    text = FLOW.replace(
        "  - name: raw.events\n",
        "  - name: raw.events\n    notifications: [{on: [stale], email: a@example.com}]\n",
    )
    assert load(text).assets[1].notifications == ({"on": ["stale"], "email": ["a@example.com"]},)


# -- every bad field names file, line and field --------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            "  - name: raw.events\n",
            "  - name: raw events\n",
            14,
            "asset 2: 'name' must be letters, digits, '_' or '-' in segments joined by '.'"
            " (e.g. warehouse.orders), at most 300 characters, got 'raw events'",
        ),
        ("  - name: raw.events\n", "  - name: raw.\n", 14, "asset 2: 'name' must be"),
        ("  - name: raw.events\n", "  - name: .raw\n", 14, "asset 2: 'name' must be"),
        ("  - name: raw.events\n", "  - name: raw/events\n", 14, "asset 2: 'name' must be"),
        ("  - name: raw.events\n", "  - name: 5\n", 14, "asset 2: 'name' must be"),
        ("  - name: raw.events\n", f"  - name: {'a' * 301}\n", 14, "asset 2: 'name' must be"),
        (
            "  - name: raw.events\n",
            "  - nme: raw.events\n",
            14,
            "asset 2: unknown field 'nme' (allowed: name, description, owner, tags, freshness,"
            " checks, notifications); did you mean 'name'?",
        ),
        (
            "    owner: data-team@example.com\n",
            "    ownr: data-team@example.com\n",
            5,
            "asset 'warehouse.orders': unknown field 'ownr' (allowed: name, description, owner,"
            " tags, freshness, checks, notifications); did you mean 'owner'?",
        ),
        (
            "  - name: raw.events\n    freshness: {max_lag: 6h}\n",
            "  - description: x\n    freshness: {max_lag: 6h}\n",
            14,
            "asset 2: no 'name'",
        ),
        (
            "  - name: raw.events\n",
            "  - name: warehouse.orders\n",
            14,
            "asset 'warehouse.orders' is declared twice (first on line 3)",
        ),
        (
            "    description: One row per order.\n",
            "    description: [a]\n",
            4,
            "asset 'warehouse.orders': 'description' must be a non-empty string, got ['a']",
        ),
        (
            "    owner: data-team@example.com\n",
            f"    owner: {'o' * 201}\n",
            5,
            "'owner' must be a non-empty string of at most 200 characters",
        ),
        (
            "tags: [sales, daily]",
            "tags: [sales, 3]",
            6,
            "asset 'warehouse.orders': 'tags' must be a list of non-empty strings of at most"
            " 100 characters, got ['sales', 3]",
        ),
        ("tags: [sales, daily]", "tags: [sales, sales]", 6, "'tags' lists 'sales' twice"),
        (
            "{max_lag: 6h}",
            "{max_lag: soon}",
            15,
            "asset 'raw.events': 'freshness.max_lag' must be a duration > 0 such as 30s, 15m,"
            " 6h, 1d, 1h30m or a number of seconds, got 'soon'",
        ),
        ("{max_lag: 6h}", "{max_lag: 0}", 15, "'freshness.max_lag' must be a duration > 0"),
        ("{max_lag: 6h}", "{max_lag: -5m}", 15, "'freshness.max_lag' must be a duration > 0"),
        ("{max_lag: 6h}", "{max_lag: true}", 15, "a duration > 0 such as 30s, 15m, 6h, 1d"),
        (
            "{max_lag: 6h}",
            "{max_lg: 6h}",
            15,
            "asset 'raw.events': unknown field 'freshness.max_lg' (allowed: max_lag, cron,"
            " timezone); did you mean 'max_lag'?",
        ),
        (
            "{max_lag: 6h}",
            "{}",
            15,
            "asset 'raw.events': 'freshness' needs 'max_lag' (e.g. max_lag: 6h) or 'cron'",
        ),
        ("{max_lag: 6h}", "6h", 15, "'freshness' must be a mapping such as {max_lag: 6h}"),
        (
            "{max_lag: 6h}",
            "{max_lag: 6h, timezone: UTC}",
            15,
            "'freshness.timezone' is the zone of 'freshness.cron': give a cron too, or drop it",
        ),
        (
            '"0 7 * * *"',
            '"0 7 * *"',
            7,
            "asset 'warehouse.orders': 'freshness.cron': bad schedule '0 7 * *': expected 5 cron"
            " fields",
        ),
        ('"0 7 * * *"', '"0 25 * * *"', 7, "'freshness.cron': bad cron expression '0 25 * * *'"),
        ('"0 7 * * *"', '"0 7 31 2 *"', 7, "'freshness.cron': cron expression '0 7 31 2 *' never"),
        (
            '"0 7 * * *"',
            '"every 1h"',
            7,
            "'freshness.cron' 'every 1h' is an interval: write max_lag: 1h instead",
        ),
        ('"0 7 * * *"', "5", 7, "'freshness.cron' must be a non-empty string, got 5"),
        (
            "Europe/Paris",
            "Mars/Olympus",
            7,
            "asset 'warehouse.orders': 'freshness.timezone': unknown time zone 'Mars/Olympus'",
        ),
        (
            "max_lag: 1h}",
            "max_lag: -1}",
            7,
            "'freshness.max_lag' must be a duration >= 0 such as",  # a cron allows no grace
        ),
        (
            "        conn: warehouse\n",
            "        conn: warehouse\n        severity: fatal\n",
            12,
            "asset 'warehouse.orders', check 'no_null_ids': 'severity' must be one of error,"
            " warn, got 'fatal'",
        ),
        (
            "        conn: warehouse\n",
            "        conn: warehouse\n        severty: warn\n",
            12,
            "check 'no_null_ids': unknown field 'severty' (allowed: name, sql, python, conn,"
            " url, severity, description); did you mean 'severity'?",
        ),
        (
            "        conn: warehouse\n",
            "        url: sqlite:///w.db\n        conn: warehouse\n",
            9,
            "check 'no_null_ids': a sql check needs exactly one of 'conn' (a named connection,"
            " read from $BATON_CONN_<NAME>) or 'url' (a SQLAlchemy URL), got both",
        ),
        (
            "        conn: warehouse\n",
            "",
            9,
            "check 'no_null_ids': a sql check needs exactly one of 'conn'",
        ),
        (
            "        conn: warehouse\n",
            "        conn: ware-house\n",
            11,
            "'conn' must be a connection name (letters, digits, '_'), got 'ware-house'",
        ),
        (
            "        sql: SELECT * FROM orders WHERE id IS NULL\n",
            "        sql: SELECT 1\n        python: m:f\n",
            9,
            "check 'no_null_ids': give exactly one of 'sql' (a query returning the failing rows)"
            " or 'python' (module:function), got both",
        ),
        (
            "        sql: SELECT * FROM orders WHERE id IS NULL\n",
            "",
            9,
            "give exactly one of 'sql' (a query returning the failing rows) or 'python'"
            " (module:function), got neither",
        ),
        (
            'python: "checks.orders:enough_rows"',
            'python: "checks.orders.enough_rows"',
            13,
            "check 'enough_rows': 'python' must be module:function (e.g. checks.orders:no_gaps),"
            " got 'checks.orders.enough_rows'",
        ),
        ('python: "checks.orders:enough_rows"', 'python: ":f"', 13, "must be module:function"),
        (
            'python: "checks.orders:enough_rows"',
            'python: "m:f", conn: warehouse',
            13,
            "check 'enough_rows': 'conn' and 'url' are for sql checks",
        ),
        (
            "{name: enough_rows,",
            "{name: no_null_ids,",
            13,
            "asset 'warehouse.orders': check 'no_null_ids' is defined twice (first on line 9)",
        ),
        ("{name: enough_rows,", "{name: 'enough rows',", 13, "check 'enough rows': 'name' must"),
        ("{name: enough_rows,", "{", 13, "check 2: no 'name'"),
        (
            "        sql: SELECT * FROM orders WHERE id IS NULL\n",
            "        sql: ''\n",
            10,
            "check 'no_null_ids': 'sql' must be a non-empty string, got ''",
        ),
        (
            "  - name: raw.events\n",
            "  - name: raw.events\n    notifications: [{on: failure, email: a@example.com}]\n",
            15,
            "asset 'raw.events': notification 1: 'on' must name an asset's events (stale,"
            " check_failed), got 'failure'",
        ),
        (
            "  - name: raw.events\n",
            "  - name: raw.events\n    notifications: [{email: a@example.com}]\n",
            15,
            "notification 1: 'on' must name an asset's events (stale, check_failed), got null",
        ),
    ],
)
def test_bad_fields_name_file_line_and_field(old: str, new: str, line: int, message: str) -> None:
    err = error(old, new)
    assert err.line == line
    assert message in err.message
    assert str(err).startswith(f"flows/f.yaml:{line}, flow 'f': ")


@pytest.mark.parametrize(
    ("assets_", "message"),
    [
        ("assets: warehouse.orders", "'assets' must be a list of asset mappings with 'name'"),
        ("assets: [warehouse.orders]", "each entry of 'assets' must be a mapping, got"),
        ("assets: [{name: a, 5: b}]", "asset 'a': field names must be strings, got 5"),
        ("assets: [{name: a, checks: {c: x}}]", "asset 'a': 'checks' must be a list of check"),
        ("assets: [{name: a, checks: [c]}]", "asset 'a': each entry of 'checks' must be a mapping"),
    ],
)
def test_the_assets_list_itself(assets_: str, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        load(f"name: f\n{assets_}\ntasks: [{{key: a, type: t}}]\n")
    assert caught.value.line == 2
    assert message in caught.value.message


@pytest.mark.parametrize("field", ["inputs", "outputs"])
@pytest.mark.parametrize("name", ["s3://bucket/key", "a b", "warehouse..orders", "x" * 301])
def test_task_inputs_and_outputs_are_asset_names(field: str, name: str) -> None:
    text = f"name: f\ntasks:\n  - key: a\n    type: t\n    {field}: [ok.one, '{name}']\n"
    with pytest.raises(DefinitionError) as caught:
        load(text)
    err = caught.value
    assert (err.task, err.line) == ("a", 5)
    assert err.message.startswith(f"'{field}' names '{name[:40]}")
    assert "which is not an asset name: use letters, digits, '_' or '-'" in err.message


def test_an_output_not_declared_is_still_an_asset() -> None:
    flow = load("name: f\ntasks: [{key: a, type: t, outputs: [warehouse.new_table]}]\n")
    assert flow.assets == ()
    assert flow.task("a").outputs == ("warehouse.new_table",)


# -- the name rule, without YAML -----------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["warehouse.orders", "a", "raw_events", "db-1.schema_2.table-3", "A.B9", "x" * 300]
)
def test_good_names(name: str) -> None:
    assert assets.is_name(name)


@pytest.mark.parametrize(
    "name", ["", ".a", "a.", "a..b", "a b", "a/b", "a:b", "é", "x" * 301, None, 5, ["a"]]
)
def test_bad_names(name: object) -> None:
    assert not assets.is_name(name)


def test_parsing_without_lines_still_names_the_field() -> None:
    with pytest.raises(DefinitionError) as caught:
        assets.parse_assets({"assets": [{"name": "a", "freshness": {"max_lag": "x"}}]}, NoLines())
    assert caught.value.line is None
    assert str(caught.value).startswith("asset 'a': 'freshness.max_lag' must be a duration")


# -- graph checks, for flows built in Python -----------------------------------------------


def python_flow(*declared: AssetSpec) -> FlowSpec:
    return FlowSpec(name="f", tasks=(TaskSpec(key="a", type="t"),), assets=declared)


def test_graph_accepts_declared_assets() -> None:
    check = CheckSpec(name="c", sql="SELECT 1", conn="w")
    graph.validate(python_flow(AssetSpec(name="a.b", checks=(check,)), AssetSpec("c")), {"t"})


def test_graph_refuses_an_asset_declared_twice() -> None:
    with pytest.raises(DefinitionError) as caught:
        graph.validate(python_flow(AssetSpec(name="a.b"), AssetSpec(name="a.b")), {"t"})
    assert str(caught.value) == "flow 'f': asset 'a.b' is declared twice"


def test_graph_refuses_a_check_name_twice_on_one_asset() -> None:
    check = CheckSpec(name="c", python="m:f")
    with pytest.raises(DefinitionError) as caught:
        graph.validate(python_flow(AssetSpec(name="a", checks=(check, check))), {"t"})
    assert str(caught.value) == "flow 'f': asset 'a': check 'c' is defined twice"


def test_graph_allows_one_check_name_on_two_assets() -> None:
    check = CheckSpec(name="c", python="m:f")
    graph.validate(
        python_flow(AssetSpec(name="a", checks=(check,)), AssetSpec(name="b", checks=(check,))),
        {"t"},
    )


def test_graph_refuses_a_bad_asset_name() -> None:
    with pytest.raises(DefinitionError, match="invalid asset name 'a b': use letters"):
        graph.validate(python_flow(AssetSpec(name="a b")), {"t"})


# -- CheckResult ---------------------------------------------------------------------------


def test_check_result() -> None:
    metadata = {"nulls": 3}
    result = CheckResult(False, metadata)
    metadata["nulls"] = 4  # the result keeps what it was given
    assert (result.passed, result.metadata) == (False, {"nulls": 3})
    assert CheckResult(passed=True).metadata == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1,), "'passed' must be True or False, got 1"),
        (("yes",), "'passed' must be True or False"),
        ((True, [1]), "'metadata' must be a mapping with string keys, got [1]"),
        ((True, {1: 2}), "'metadata' must be a mapping with string keys"),
    ],
)
def test_check_result_refuses_wrong_types(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(TypeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        CheckResult(*args)  # type: ignore[arg-type]


def test_module_docstring_example_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "EVENTS", (*notifications.EVENTS, *assets.EVENTS))
    doc = assets.__doc__ or ""
    start = doc.index("    assets:")
    example = textwrap.dedent(doc[start : doc.index("\n\n", start)])
    flow = load(f"name: f\n{example}\ntasks: [{{key: a, type: t}}]\n")
    assert [a.name for a in flow.assets] == ["warehouse.orders"]
