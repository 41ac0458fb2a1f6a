from __future__ import annotations

import json
import textwrap

import pytest

from baton.errors import DefinitionError
from baton.model.spec import FlowSpec, ParamSpec, RetryPolicy
from baton.model.trigger_rules import TriggerRule
from baton.model.yaml_fields import Fields, NoLines
from baton.model.yaml_spec import load_yaml_flow

FULL = """\
name: features
description: Build the feature tables.
params:
  n_rows: 1000
  ratio: 0.5
  mode: {type: string, default: fast, description: how hard to try}
  date: {type: string, required: true}
  columns: [a, b]
  options: {default: {deep: true}}
  dry_run: false
  anything: null
max_active_runs: 3
schedule: "0 * * * *"
triggers:
  - {asset: raw.events}
notifications:
  - {on: failure, email: team@example.com}
tasks:
  - key: extract
    type: python
    function: mymod:extract
    args: {limit: 5}
    retries: 3
    retry_delay: 1.5
    retry_backoff: 2
    max_retry_delay: 60
    retry_jitter: 0.1
    retry_on: [ValueError, requests.HTTPError]
    timeout: 30
    queue: io
    pool: db
    priority: 5
    outputs: [raw.rows]
  - key: transform
    type: shell
    command: ./transform.sh
    depends_on: extract
    trigger_rule: none_failed
    inputs: raw.rows
  - key: load
    type: python
    function: mymod:load
    map_over: transform
    depends_on: [extract]
"""


def load(text: str) -> FlowSpec:
    return load_yaml_flow(textwrap.dedent(text), file="flows/f.yaml")


def error(text: str) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        load(text)
    return info.value


# -- what a valid file becomes -------------------------------------------------------------


def test_full_example() -> None:
    flow = load(FULL)
    assert flow.name == "features"
    assert flow.description == "Build the feature tables."
    assert flow.max_active_runs == 3
    assert flow.schedule == "0 * * * *"
    assert flow.triggers == ({"asset": "raw.events"},)
    assert flow.notifications == ({"on": ["failure"], "email": ["team@example.com"]},)
    assert flow.source is None


def test_params_short_and_long_forms() -> None:
    assert load(FULL).params == {
        "n_rows": ParamSpec(type="integer", default=1000),
        "ratio": ParamSpec(type="number", default=0.5),
        "mode": ParamSpec(type="string", default="fast", description="how hard to try"),
        "date": ParamSpec(type="string", required=True),
        "columns": ParamSpec(type="array", default=["a", "b"]),
        "options": ParamSpec(type="object", default={"deep": True}),
        "dry_run": ParamSpec(type="boolean", default=False),
        "anything": ParamSpec(type="any", default=None),
    }


def test_common_task_fields() -> None:
    extract = load(FULL).task("extract")
    assert extract.type == "python"
    assert extract.config == {"function": "mymod:extract", "args": {"limit": 5}}
    assert extract.retry == RetryPolicy(
        retries=3,
        delay=1.5,
        backoff=2.0,
        max_delay=60.0,
        jitter=0.1,
        retry_on=("ValueError", "requests.HTTPError"),
    )
    assert extract.timeout == 30.0
    assert (extract.queue, extract.pool, extract.priority) == ("io", "db", 5)
    assert extract.outputs == ("raw.rows",)
    assert extract.depends_on == ()
    assert extract.trigger_rule is TriggerRule.ALL_SUCCESS


def test_a_single_string_stands_for_a_list_of_one() -> None:
    transform = load(FULL).task("transform")
    assert transform.depends_on == ("extract",)
    assert transform.inputs == ("raw.rows",)
    assert transform.trigger_rule is TriggerRule.NONE_FAILED
    assert transform.config == {"command": "./transform.sh"}


def test_map_over_adds_its_upstream() -> None:
    task = load(FULL).task("load")
    assert task.map_over == "transform"
    assert task.depends_on == ("extract", "transform")


def test_map_over_already_in_depends_on_is_not_repeated() -> None:
    flow = load("""
        name: f
        tasks:
          - {key: a, type: t}
          - {key: b, type: t, depends_on: [a], map_over: a}
    """)
    assert flow.task("b").depends_on == ("a",)


def test_defaults_of_a_minimal_flow() -> None:
    flow = load("""
        name: minimal
        tasks:
          - key: only
            type: shell
    """)
    task = flow.task("only")
    assert flow.params == {}
    assert flow.triggers == flow.notifications == ()
    assert flow.max_active_runs is None and flow.schedule is None
    assert task.retry == RetryPolicy()
    assert task.config == {}
    assert (task.queue, task.pool, task.timeout, task.priority) == ("default", None, None, 0)


@pytest.mark.parametrize(("text", "expected"), [("true", 2.0), ("false", 1.0), ("1.5", 1.5)])
def test_retry_backoff(text: str, expected: float) -> None:
    flow = load(f"""
        name: f
        tasks: [{{key: a, type: t, retry_backoff: {text}}}]
    """)
    assert flow.task("a").retry.backoff == expected


def test_nulls_mean_the_defaults() -> None:
    flow = load("""
        name: f
        description: null
        params: null
        triggers: null
        tasks:
          - {key: a, type: t, queue: null, depends_on: null, retries: null, timeout: null}
    """)
    task = flow.task("a")
    assert flow.params == {}
    assert (task.queue, task.depends_on, task.retry.retries, task.timeout) == (
        "default",
        (),
        0,
        None,
    )


def test_anchors_and_merge_keys_work() -> None:
    flow = load("""
        name: f
        tasks:
          - &base {key: a, type: python, retries: 2, queue: io}
          - <<: *base
            key: b
            retries: 5
    """)
    assert flow.task("b").retry.retries == 5
    assert flow.task("b").queue == "io"


def test_the_spec_is_plain_json() -> None:
    flow = load(FULL)
    assert type(flow.task("extract").config["args"]) is dict
    assert FlowSpec.from_json(json.dumps(json.loads(flow.to_json()))) == flow


def test_the_same_text_gives_the_same_hash() -> None:
    assert load(FULL).content_hash() == load(FULL).content_hash()


# -- malformed YAML ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("name: f\ntasks: [\n", 3, "expected the node content"),
        ("name: f\ntasks:\n  - key: a\n   type: t\n", 4, ""),
        ("name: f\n\tx: 1\n", 2, "found character '\\t' that cannot start any token"),
        ("name: f\nschedule: @daily\n", 2, "'@'"),
        ("a: b: c\n", 1, "mapping values are not allowed here"),
        ("name: f\n---\nname: g\n", 2, "expected a single document in the stream, but found"),
        ("name: !!python/object:os.system x\n", 1, "could not determine a constructor"),
        ("name: f\nname: g\n", 2, "duplicate key 'name' (first on line 1)"),
        (
            "name: f\ntasks:\n  - key: a\n    type: t\n    retries: 1\n    retries: 2\n",
            6,
            "duplicate key 'retries'",
        ),
        (
            "name: f\ntasks: [{key: a, type: t, key: b}]\n",
            2,
            "duplicate key 'key' (first on line 2)",
        ),
        ("name: f\nparams: {[1]: 2}\n", 2, "unhashable"),
        ("name: f\nparams: {p: !!binary aGk=}\n", 2, "the tag !!binary is not supported"),
        ("name: f\nparams: {p: !!set {a}}\n", 2, "the tag !!set is not supported"),
        ("name: f\nparams: {p: !!timestamp 2024-01-01}\n", 2, "tag !!timestamp is not supported"),
    ],
)
def test_malformed_yaml_reports_its_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(DefinitionError) as info:
        load_yaml_flow(text, file="flows/f.yaml")
    err = info.value
    assert err.line == line
    assert err.file == "flows/f.yaml"
    assert str(err).startswith(f"flows/f.yaml:{line}: invalid YAML: ")
    assert problem in str(err)


@pytest.mark.parametrize("text", ["name: f\x07\n", "name: !!int x\n"])
def test_yaml_errors_without_a_line_are_definition_errors_too(text: str) -> None:
    with pytest.raises(DefinitionError, match=r"^flows/f.yaml: invalid YAML: "):
        load_yaml_flow(text, file="flows/f.yaml")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("False", False),
        ("yes", "yes"),  # YAML 1.1 would read yes/no/on/off as booleans
        ("off", "off"),
        ("NO", "NO"),
        ("12", 12),
        ("-3", -3),
        ("1_000", 1000),
        ("0x10", 16),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("0755", "0755"),  # not octal
        ("12:30", "12:30"),  # not base 60
        ("2024-01-01", "2024-01-01"),  # not a date object
        ("null", None),
        ("~", None),
        ("=", "="),
        ("'5'", "5"),
    ],
)
def test_plain_scalars_read_as_json_values(text: str, value: object) -> None:
    config = load(f"name: f\ntasks: [{{key: a, type: t, x: {text}}}]").task("a").config
    assert config == {"x": value}
    assert type(config["x"]) is type(value)


def test_on_is_a_plain_key() -> None:
    flow = load("""
        name: f
        notifications: [{on: failure, email: a@b.c}]
        tasks: [{key: a, type: t}]
    """)
    assert flow.notifications == ({"on": ["failure"], "email": ["a@b.c"]},)


# -- invalid definitions: each names the field, the task and the line -----------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", None, "the file is empty"),
        ("# only a comment\n", None, "the file is empty"),
        ("- a\n- b\n", 1, "must be a mapping with 'name' and 'tasks', got a list"),
        ("just text\n", 1, "got 'just text'"),
        ("tasks: [{key: a, type: t}]\n", 1, "the flow has no 'name'"),
        ("name: 'bad name'\ntasks: []\n", 1, "flow name must be letters, digits"),
        ("name: 5\ntasks: []\n", 1, "flow name must be letters, digits, '_', '.' or '-', got 5"),
        ("nmae: f\n", 1, "unknown key 'nmae'"),
    ],
)
def test_flow_level_errors_without_a_flow_name(text: str, line: int | None, message: str) -> None:
    err = error(text)
    assert err.line == line
    assert err.flow is None
    assert message in str(err)


def test_unknown_top_level_key_lists_the_allowed_ones() -> None:
    err = error("name: f\nschedul: x\ntasks: [{key: a, type: t}]\n")
    assert err.line == 2
    assert err.flow == "f"
    assert str(err) == (
        "flows/f.yaml:2, flow 'f': unknown key 'schedul' (allowed: name, namespace, description,"
        " tags, owner,"
        " params, max_active_runs, schedule, triggers, notifications, assets, partitions,"
        " compute, tasks);"
        " did you mean 'schedule'?"
    )


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (
            "description: [x]\ntasks: [{key: a, type: t}]",
            2,
            "'description' must be a string, got ['x']",
        ),
        (
            "schedule: 5\ntasks: [{key: a, type: t}]",
            2,
            "'schedule' must be a string or a mapping, got int",
        ),
        (
            "schedule: '0 3 * *'\ntasks: [{key: a, type: t}]",
            2,
            "bad schedule '0 3 * *': expected 5 cron fields (minute hour day-of-month month"
            " day-of-week), an alias (@hourly, @daily, @midnight, @weekly, @monthly, @yearly,"
            " @annually) or an interval such as 'every 15m' (units s, m, h, d)",
        ),
        (
            "schedule:\n  cron: '@daily'\n  timezone: Mars/Olympus\ntasks: [{key: a, type: t}]",
            2,
            "unknown time zone 'Mars/Olympus': use an IANA name such as 'Europe/Paris',"
            " 'America/New_York' or 'UTC'",
        ),
        (
            "triggers:\n  - {asset: a}\n  - {flow: up, states: [done]}\ntasks: [{key: a, type: t}]",
            4,
            "trigger 2: unknown run state 'done' in 'states' (allowed: cancelled, failed,"
            " succeeded)",
        ),
        (
            "triggers:\n  - {type: asset, asset: raw}\ntasks: [{key: a, type: t}]",
            3,
            "trigger 1 (asset) has unknown field(s) 'type' (allowed: asset)",
        ),
        (
            "max_active_runs: 0\ntasks: [{key: a, type: t}]",
            2,
            "'max_active_runs' must be an integer >= 1, got 0",
        ),
        (
            "max_active_runs: true\ntasks: [{key: a, type: t}]",
            2,
            "'max_active_runs' must be an integer >= 1, got true",
        ),
        (
            "triggers: {type: cron}\ntasks: [{key: a, type: t}]",
            2,
            "'triggers' must be a list of mappings, got a mapping",
        ),
        (
            "notifications:\n  - ok: 1\n  - email\ntasks: [{key: a, type: t}]",
            4,
            "each entry of 'notifications' must be a mapping, got 'email'",
        ),
        ("description: x", 1, "the flow has no 'tasks'"),
        (
            "notifications:\n  - 1: x\ntasks: [{key: a, type: t}]",
            3,
            "keys in 'notifications' must be strings, got 1",
        ),
        ("tasks: 5", 2, "'tasks' must be a non-empty list of task mappings, got 5"),
        ("tasks: []", 2, "'tasks' must be a non-empty list of task mappings, got an empty list"),
        ("tasks: {a: 1}", 2, "'tasks' must be a non-empty list of task mappings, got a mapping"),
        (
            "tasks:\n  - {key: a, type: t}\n  - b",
            4,
            "each task must be a mapping with 'key' and 'type', got 'b'",
        ),
        ("tasks:\n  - type: t", 3, "a task has no 'key'"),
        ("tasks:\n  - kye: a\n    type: t", 3, "a task has no 'key' (is 'kye' a typo?)"),
        (
            "tasks:\n  - key: 'a b'\n    type: t",
            3,
            "task key must be letters, digits, '_', '.' or '-', got 'a b'",
        ),
        (
            "tasks:\n  - key: [a]\n    type: t",
            3,
            "task key must be letters, digits, '_', '.' or '-', got ['a']",
        ),
    ],
)
def test_flow_level_errors(body: str, line: int, message: str) -> None:
    err = error("name: f\n" + body + "\n")
    assert err.flow == "f"
    assert err.line == line
    assert err.task is None
    assert str(err) == f"flows/f.yaml:{line}, flow 'f': {message}"


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("retries: many", "'retries' must be an integer >= 0, got 'many'"),
        ("retries: -1", "'retries' must be an integer >= 0, got -1"),
        ("retries: 1.5", "'retries' must be an integer >= 0, got 1.5"),
        ("retries: true", "'retries' must be an integer >= 0, got true"),
        ("retry_delay: -1", "'retry_delay' must be a number >= 0, got -1"),
        ("retry_delay: soon", "'retry_delay' must be a number >= 0, got 'soon'"),
        ("retry_backoff: 0.5", "'retry_backoff' must be a number >= 1, got 0.5"),
        ("max_retry_delay: -5", "'max_retry_delay' must be a number >= 0, got -5"),
        ("retry_jitter: 1.5", "'retry_jitter' must be a number between 0 and 1, got 1.5"),
        ("retry_on: 5", "'retry_on' must be a list of strings, got 5"),
        ("timeout: -1", "'timeout' must be a number > 0, got -1"),
        ("timeout: 0", "'timeout' must be a number > 0, got 0"),
        ("timeout: .inf", "'timeout' must be a number > 0, got inf"),
        ("timeout: 1m", "'timeout' must be a number > 0, got '1m'"),
        ("queue: ''", "'queue' must be a non-empty string, got ''"),
        ("pool: [a]", "'pool' must be a non-empty string, got ['a']"),
        ("priority: high", "'priority' must be an integer, got 'high'"),
        ("depends_on: [a, 5]", "'depends_on' must be a list of strings, got ['a', 5]"),
        ("depends_on: {a: 1}", "'depends_on' must be a list of strings, got {'a': 1}"),
        ("depends_on: [up, up]", "'depends_on' lists 'up' twice"),
        ("inputs: [[x]]", "'inputs' must be a list of strings, got [['x']]"),
        ("outputs: ['']", "'outputs' must be a list of strings, got ['']"),
        ("map_over: 5", "'map_over' must be a non-empty string, got 5"),
        (
            "trigger_rule: any_success",
            "'trigger_rule' must be one of all_success, all_failed, all_done, all_skipped,"
            " one_success, one_failed, one_done, none_failed, none_failed_min_one_success,"
            " none_skipped, always, got 'any_success'",
        ),
        ("3: x", "task field names must be strings, got 3"),
    ],
)
def test_task_field_errors_name_field_task_and_line(field: str, message: str) -> None:
    err = error(f"""
        name: f
        tasks:
          - key: up
            type: t
          - key: down
            type: t
            {field}
    """)
    assert (err.file, err.flow, err.task, err.line) == ("flows/f.yaml", "f", "down", 8)
    assert str(err) == f"flows/f.yaml:8, flow 'f', task 'down': {message}"


@pytest.mark.parametrize(
    ("value", "shown"), [("''", "''"), ("5", "5"), ("[python]", "['python']"), ("null", "null")]
)
def test_a_bad_type_names_the_task(value: str, shown: str) -> None:
    err = error(f"name: f\ntasks:\n  - key: a\n    type: {value}\n")
    assert (err.task, err.line) == ("a", 4)
    assert str(err).endswith(f"'type' must be a non-empty string, got {shown}")


def test_a_missing_type_names_the_task() -> None:
    err = error("""
        name: f
        tasks:
          - key: a
            tpye: python
    """)
    assert (err.task, err.line) == ("a", 4)
    assert "a task has no 'type' (is 'tpye' a typo?)" in str(err)


def test_duplicate_task_key_points_at_the_second() -> None:
    err = error("""
        name: f
        tasks:
          - key: a
            type: t
          - key: b
            type: t
          - type: t
            key: a
    """)
    assert (err.task, err.line) == ("a", 9)
    assert (
        str(err)
        == "flows/f.yaml:9, flow 'f', task 'a': duplicate task key 'a' (first defined on line 4)"
    )


@pytest.mark.parametrize(
    ("param", "line", "message"),
    [
        (
            "n: {type: int}",
            3,
            "param 'n' has unknown type 'int'"
            " (valid: string, integer, number, boolean, array, object, any)",
        ),
        (
            "n: {type: integer, default: abc}",
            3,
            "param 'n' is of type integer but its default is 'abc'",
        ),
        (
            "n: {type: integer, default: true}",
            3,
            "param 'n' is of type integer but its default is true",
        ),
        ("n: {required: maybe}", 3, "'required' of param 'n' must be true or false, got 'maybe'"),
        (
            "n: {required: true, default: 1}",
            3,
            "param 'n' is required, so it cannot have a default",
        ),
        ("n: {description: 5}", 3, "'description' of param 'n' must be a string, got 5"),
        (
            "n:\n    type: integer\n    dflt: 1",
            5,
            "param 'n' has unknown key 'dflt' (allowed: type, items, default, required,",
        ),
        ("'a=b': 1", 3, "param names must be non-empty strings without '=', got 'a=b'"),
        ("5: 1", 3, "param names must be non-empty strings without '=', got 5"),
    ],
)
def test_param_errors(param: str, line: int, message: str) -> None:
    err = error(f"name: f\nparams:\n  {param}\ntasks: [{{key: a, type: t}}]\n")
    assert (err.flow, err.line) == ("f", line)
    assert str(err).startswith(f"flows/f.yaml:{line}, flow 'f': {message}")


def test_params_not_a_mapping() -> None:
    err = error("name: f\nparams: [a]\ntasks: [{key: a, type: t}]\n")
    assert err.line == 2
    assert "'params' must be a mapping of param names, got a list" in str(err)


def test_a_number_param_accepts_an_integer_default() -> None:
    flow = load("name: f\nparams: {r: {type: number, default: 1}}\ntasks: [{key: a, type: t}]")
    assert flow.params["r"] == ParamSpec(type="number", default=1)


def test_graph_errors_point_at_the_task_line() -> None:
    text = (
        "name: g\ntasks:\n  - key: a\n    type: shell\n"
        "  - key: b\n    type: shell\n    depends_on: [zz]\n"
    )
    with pytest.raises(DefinitionError) as caught:
        load_yaml_flow(text, file="g.yaml")
    assert (caught.value.line, caught.value.task) == (5, "b")
    assert "unknown task 'zz'" in str(caught.value)


# -- schedules and triggers ----------------------------------------------------------------


def test_a_schedule_is_kept_in_its_canonical_form() -> None:
    # Spelled differently, the same schedule: the same spec, so the same flow version.
    assert load("name: f\nschedule: '@DAILY'\ntasks: [{key: a, type: t}]").schedule == "@daily"
    assert load("name: f\nschedule: every 120m\ntasks: [{key: a, type: t}]").schedule == (
        "every 2h"
    )
    flow = load(
        """
        name: f
        schedule: {cron: "30 2 * * *", timezone: Europe/Paris, start: 2024-03-01, catchup: true}
        tasks: [{key: a, type: t}]
        """
    )
    assert flow.schedule == {
        "cron": "30 2 * * *",
        "timezone": "Europe/Paris",
        "start": "2024-02-29T23:00:00+00:00",
        "catchup": True,
    }
    assert FlowSpec.from_json(flow.to_json()) == flow


def test_every_trigger_kind_is_accepted() -> None:
    flow = load(
        """
        name: f
        triggers:
          - {file: "in/*.csv"}
          - {asset: raw.events}
          - {assets: [raw.events, raw.users]}
          - {flow: ingest, states: [succeeded, failed]}
          - {webhook: true}
        tasks: [{key: a, type: t}]
        """
    )
    assert [next(iter(t)) for t in flow.triggers] == ["file", "asset", "assets", "flow", "webhook"]


def test_a_bad_schedule_field_names_its_line() -> None:
    err = error(
        """
        name: f
        tasks: [{key: a, type: t}]
        schedule:
          every: 15m
          start: yesterday
        """
    )
    assert err.line == 4  # `schedule:` (the text starts with a blank line)
    assert "schedule 'start' must be a date or datetime in ISO 8601" in err.message


# -- assets (details in test_assets.py) ----------------------------------------------------


def test_assets_is_a_flow_key() -> None:
    flow = load("name: f\nassets: [{name: warehouse.orders}]\ntasks: [{key: a, type: t}]\n")
    assert [a.name for a in flow.assets] == ["warehouse.orders"]


def test_a_misspelt_assets_key_is_suggested() -> None:
    err = error("name: f\nasset: [{name: x}]\ntasks: [{key: a, type: t}]\n")
    assert err.line == 2
    assert err.message.endswith("did you mean 'assets'?")


def test_an_unknown_asset_field_is_suggested_with_its_line() -> None:
    err = error("""
        name: f
        assets:
          - name: warehouse.orders
            decription: orders
        tasks: [{key: a, type: t}]
    """)
    assert (err.file, err.flow, err.line) == ("flows/f.yaml", "f", 5)
    assert err.message == (
        "asset 'warehouse.orders': unknown field 'decription' (allowed: name, description,"
        " owner, tags, freshness, checks, notifications); did you mean 'description'?"
    )


def test_a_single_string_input_is_checked_as_an_asset_name() -> None:
    err = error("name: f\ntasks:\n  - {key: a, type: t, inputs: 'raw events'}\n")
    assert (err.task, err.line) == ("a", 3)
    assert err.message.startswith("'inputs' names 'raw events', which is not an asset name")


def test_assets_are_checked_after_tasks() -> None:
    # A flow with both a bad task and a bad asset reports the task first, as before.
    err = error("name: f\nassets: [{nam: x}]\ntasks: [{key: a, type: t, retries: -1}]\n")
    assert err.task == "a"


def test_the_field_helpers_work_without_lines() -> None:
    fields = Fields(NoLines(), {"retries": "many"}, "t")
    with pytest.raises(DefinitionError) as caught:
        fields.integer("retries", default=0, minimum=0)
    assert str(caught.value) == "task 't': 'retries' must be an integer >= 0, got 'many'"


def test_a_lone_surrogate_escape_is_refused_naming_where():
    # No UTF-8 store or answer can hold one: the run's registration crashed on it.
    text = 'name: f\ntasks:\n  - key: a\n    type: shell\n    command: "echo \\ud800"\n'
    with pytest.raises(DefinitionError) as info:
        load_yaml_flow(text, file="flows/f.yaml")
    assert str(info.value) == (
        "flows/f.yaml: 'tasks.0.command' is not valid Unicode (a lone surrogate)"
    )
    ok = load_yaml_flow(text.replace("\\ud800", "\\U0001f600"), file="flows/f.yaml")
    assert ok.tasks[0].config["command"] == "echo \U0001f600"
