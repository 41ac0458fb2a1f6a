"""A Databricks job -> a baton YAML flow: each mapping, what is reported, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from baton.errors import DefinitionError
from baton.model import yaml_spec
from baton.model.databricks import job
from baton.model.spec import PARAM_KEY

FIXTURES = Path(__file__).parents[3] / "fixtures" / "databricks"


def _nb(parameters: dict[str, str] | None = None) -> dict[str, Any]:
    task: dict[str, Any] = {"notebook_path": "nb.ipynb"}
    if parameters:
        task["base_parameters"] = parameters
    return {"notebook_task": task}


def _sql(parameters: dict[str, str]) -> dict[str, Any]:
    return {"file": {"path": "q.sql"}, "warehouse_id": "w", "parameters": parameters}


def imported(settings: dict[str, Any], **kw: Any) -> tuple[dict[str, Any], job.Imported]:
    out = job.import_job(json.dumps(settings), file="job.json", strict=kw.pop("strict", False))
    yaml_spec.load_yaml_flow(out.yaml, file="flow.yaml")  # baton's own loader reads it
    return yaml.safe_load(out.yaml), out


def one(task: dict[str, Any], **settings: Any) -> dict[str, Any]:
    flow, _ = imported({"name": "j", "tasks": [{"task_key": "t", **task}], **settings})
    return flow["tasks"][0]


def fails(settings: Any, match: str, **kw: Any) -> str:
    text = settings if isinstance(settings, str) else json.dumps(settings)
    with pytest.raises(DefinitionError, match=match) as exc:
        job.import_job(text, file=kw.pop("file", "job.json"), **{"strict": False, **kw})
    return str(exc.value)


def test_each_task_kind() -> None:
    assert one({"notebook_task": {"notebook_path": "nb", "base_parameters": {"a": "1"}}}) == {
        "key": "t",
        "type": "notebook",
        "path": "nb.ipynb",
        "parameters": {"a": "1"},
    }
    assert one({"spark_python_task": {"python_file": "a.py", "parameters": ["x"]}}) == {
        "key": "t",
        "type": "spark",
        "application": "a.py",
        "args": ["x"],
    }
    jar = {"spark_jar_task": {"main_class_name": "a.B"}, "libraries": [{"jar": "a.jar"}]}
    assert one(jar) | {"key": "t"} == {
        "key": "t",
        "type": "spark",
        "application": "a.jar",
        "main_class": "a.B",
    }
    submit = ["--class", "a.B", "--conf", "k=v", "--jars", "x.jar,y.jar", "app.jar", "1"]
    assert one({"spark_submit_task": {"parameters": submit}}) == {
        "key": "t",
        "type": "spark",
        "main_class": "a.B",
        "jars": ["x.jar", "y.jar"],
        "application": "app.jar",
        "conf": {"k": "v"},
        "args": ["1"],
    }
    wheel = {"package_name": "my-lib", "entry_point": "main", "named_parameters": {"n": "1"}}
    assert one({"python_wheel_task": wheel}) == {
        "key": "t",
        "type": "python",
        "function": "my_lib:main",
        "kwargs": {"n": "1"},
    }
    sql = {"file": {"path": "q.sql"}, "warehouse_id": "ab-12", "parameters": {"d": "x"}}
    assert one({"sql_task": sql}) == {
        "key": "t",
        "type": "sql",
        "file": "q.sql",
        "conn": "warehouse_ab_12",
        "params": {"d": "x"},
    }
    dbt = {"commands": ["dbt run"], "project_directory": "p", "profiles_directory": "."}
    assert one({"dbt_task": dbt}) == {
        "key": "t",
        "type": "shell",
        "command": "dbt run --profiles-dir .",
        "cwd": "p",
    }
    assert one({"run_job_task": {"job_id": 7, "job_parameters": {"a": "b"}}}) == {
        "key": "t",
        "type": "flow",
        "path": "job_7.yaml",
        "params": {"a": "b"},
    }
    bundle_ref = {"job_id": "${resources.jobs.child.id}"}
    assert one({"run_job_task": bundle_ref})["path"] == "child.yaml"


def test_condition_outcomes_are_its_branches_and_run_if_its_trigger_rules() -> None:
    cond = {"op": "EQUAL_TO", "left": "{{job.parameters.p}}", "right": "x"}
    tasks = [
        {"task_key": "c", "condition_task": cond},
        {"task_key": "yes", "depends_on": [{"task_key": "c", "outcome": "true"}], **_nb()},
        {"task_key": "no", "depends_on": [{"task_key": "c", "outcome": "false"}], **_nb()},
        {"task_key": "any", "depends_on": [{"task_key": "c"}], **_nb()},
    ]
    for run_if, rule in [
        ("AT_LEAST_ONE_SUCCESS", "one_success"),
        ("NONE_FAILED", "none_failed_min_one_success"),
        ("ALL_DONE", "all_done"),
        ("AT_LEAST_ONE_FAILED", "one_failed"),
        ("ALL_FAILED", "all_failed"),
    ]:
        last = {"task_key": "end", "run_if": run_if, **_nb()}
        last["depends_on"] = [{"task_key": "yes"}, {"task_key": "no"}]
        params = [{"name": "p", "default": "x"}]
        flow, _ = imported({"name": "j", "parameters": params, "tasks": [*tasks, last]})
        by_key = {t["key"]: t for t in flow["tasks"]}
        assert by_key["c"] == {
            "key": "c",
            "type": "condition",
            "op": "EQUAL_TO",
            "left": "{{ params.p }}",
            "right": "x",
            "if_true": ["yes", "any"],
            "if_false": ["no", "any"],
        }
        assert by_key["yes"]["depends_on"] == ["c"]
        assert by_key["end"]["trigger_rule"] == rule
    assert "trigger_rule" not in one({"run_if": "ALL_SUCCESS", **_nb()})


def test_for_each_is_a_feeder_and_a_mapped_task() -> None:
    inner = {"task_key": "i", "sql_task": _sql({"r": "{{input.region}}"}), "max_retries": 3}
    flow, out = imported(
        {
            "name": "j",
            "parameters": [{"name": "list", "default": "[1]"}],
            "tasks": [
                {
                    "task_key": "each",
                    "run_if": "ALL_DONE",
                    "for_each_task": {
                        "inputs": "{{job.parameters.list}}",
                        "concurrency": 3,
                        "task": inner,
                    },
                },
                {"task_key": "after", "depends_on": [{"task_key": "each"}], **_nb()},
            ],
        }
    )
    feeder, mapped, after = flow["tasks"]
    assert feeder == {
        "key": "each.inputs",
        "type": "python",
        "function": "json:loads",
        "args": [{PARAM_KEY: "list"}],
        "trigger_rule": "all_done",
    }
    assert mapped["map_over"] == "each.inputs" and mapped["retries"] == 3
    assert mapped["params"] == {"r": "{{ item.region }}"}
    assert mapped["pool"] == "j.each"
    assert after["depends_on"] == ["each"]
    assert any("baton pools set j.each --slots 3" in n for n in out.report.notes)
    literal = {"inputs": '["a", "b"]', "task": inner}
    flow, _ = imported({"name": "j", "tasks": [{"task_key": "e", "for_each_task": literal}]})
    assert flow["tasks"][0]["args"] == ['["a", "b"]']


def test_retries_timeout_and_references() -> None:
    task = one(
        {
            **_nb(
                {
                    "day": "{{job.start_time.iso_date}}",
                    "run": "{{job.run_id}}-{{task.name}}",
                    "try": "{{task.execution_count}}",
                    "key": "{{secrets/prod/api-key}}",
                }
            ),
            "max_retries": 3,
            "min_retry_interval_millis": 1500,
            "timeout_seconds": 60,
            "retry_on_timeout": True,
        }
    )
    assert task["retries"] == 3 and task["retry_delay"] == 1.5 and task["timeout"] == 60
    assert task["parameters"] == {
        "day": "{{ data_interval_end[:10] }}",
        "run": "{{ run_id }}-{{ task_key }}",
        "try": "{{ attempt }}",
        "key": "${secret:PROD_API_KEY}",
    }


def test_task_values_read_from_an_upstream_task_by_its_kind() -> None:
    flow, _ = imported(
        {
            "name": "j",
            "tasks": [
                {"task_key": "count", **_nb()},
                {"task_key": "w", "python_wheel_task": {"package_name": "p", "entry_point": "f"}},
                {
                    "task_key": "mid",
                    "depends_on": [{"task_key": "count"}, {"task_key": "w"}],
                    **_nb(),
                },
                {
                    "task_key": "use",
                    "depends_on": [{"task_key": "mid"}],
                    **_nb({"a": "{{tasks.count.values.n}}", "b": "{{tasks.w.values.items}}"}),
                },
            ],
        }
    )
    use = flow["tasks"][3]
    # A notebook's values are its result cell's; `items` is a dict method to Jinja.
    assert use["parameters"] == {
        "a": "{{ upstream.count.result.n }}",
        "b": "{{ upstream.w['items'] }}",
    }
    assert use["depends_on"] == ["mid", "count", "w"]  # what is read is handed over


def test_schedule_triggers_and_notifications() -> None:
    flow, out = imported(
        {
            "name": "j",
            "tasks": [{"task_key": "t", **_nb()}],
            "max_concurrent_runs": 3,
            "schedule": {"quartz_cron_expression": "0 0 7 ? * SUN", "timezone_id": "Asia/Tokyo"},
            "trigger": {
                "file_arrival": {
                    "url": "/Volumes/main/raw/in/",
                    "wait_after_last_change_seconds": 60,
                },
                "table_update": {
                    "table_names": ["main.a.b", "main.a.c"],
                    "condition": "ALL_UPDATED",
                },
            },
            "email_notifications": {
                "on_failure": ["a@x.io", "b@x.io"],
                "on_success": ["b@x.io"],
                "on_duration_warning_threshold_exceeded": ["a@x.io"],
            },
            "webhook_notifications": {"on_failure": [{"id": "d-1"}]},
            "health": {
                "rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 600}]
            },
        }
    )
    assert flow["schedule"] == {"cron": "0 7 * * SUN", "timezone": "Asia/Tokyo"}
    assert flow["max_active_runs"] == 3
    assert flow["triggers"] == [
        {"file": "/Volumes/main/raw/in/*"},
        {"assets": ["main.a.b", "main.a.c"]},
    ]
    assert flow["notifications"] == [
        {"on": ["failure", "sla"], "email": ["a@x.io"], "sla": 600},
        {"on": ["failure", "success"], "email": ["b@x.io"]},
        {"on": ["failure"], "webhook": "${secret:DATABRICKS_DESTINATION_D_1}"},
    ]
    assert out.report.unsupported == []
    assert [a["name"] for a in flow["assets"]] == ["main.a.b", "main.a.c"]  # for the trigger
    flow, _ = imported(
        {
            "name": "j",
            "tasks": [{"task_key": "t", **_nb()}],
            "trigger": {"table_update": {"table_names": ["a.b", "a.c"]}},
        }
    )
    assert flow["triggers"] == [{"asset": "a.b"}, {"asset": "a.c"}]
    flow, _ = imported(
        {
            "name": "j",
            "tasks": [{"task_key": "t", **_nb()}],
            "trigger": {"periodic": {"interval": 2, "unit": "WEEKS"}},
        }
    )
    assert flow["schedule"] == "every 14d"


def test_what_cannot_be_mapped_is_a_comment_and_with_strict_an_error_naming_each() -> None:
    settings = {
        "name": "j",
        "job_clusters": [{"job_cluster_key": "c"}],
        "continuous": {"pause_status": "UNPAUSED"},
        "email_notifications": {"on_start": ["a@x.io"]},
        "tasks": [
            {
                "task_key": "t",
                "new_cluster": {},
                "max_retries": -1,
                **_nb({"x": "{{job.repair_count}}"}),
            },
            {"task_key": "q", "sql_task": {"query": {"query_id": "42"}, "warehouse_id": "w"}},
        ],
    }
    _, out = imported(settings)
    header = out.yaml.split("\nname:")[0]
    expected = [
        "tasks[t].new_cluster",
        "tasks[t].max_retries",
        "{{job.repair_count}}",
        "tasks[q].sql_task.query: a saved query's text is not in the job: export it to queries/",
        "job_clusters",
        "continuous",
        "email_notifications.on_start",
    ]
    for name in expected:
        assert name in header
        assert any(name in u for u in out.report.unsupported)
    message = fails(settings, "7 field", strict=True)
    for name in expected:
        assert name in message


def test_the_fixture_jobs_import_and_load() -> None:
    for name, kw in [
        ("nightly_get.json", {}),
        ("spark_create.json", {}),
        ("child.json", {}),
        ("bundle.yml", {"job": "orders_daily"}),
    ]:
        out = job.import_job((FIXTURES / name).read_text(), file=name, strict=False, **kw)
        yaml_spec.load_yaml_flow(out.yaml, file=name)
    assert out.name == "orders_daily"


# -- hostile input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "file", "match"),
    [
        (
            '{"name": "j", "tasks": [',
            "job.json",
            r"job.json: invalid JSON: Expecting value: line 1",
        ),
        ("resources: {jobs: [", "b.yml", r"b.yml:1: invalid YAML"),
        ("[1, 2]", "job.json", "the file must be an object, got a list"),
        ('"just text"', "job.json", "the file must be an object"),
        ("", "b.yml", "the file must be an object, got null"),
    ],
)
def test_malformed_files(text: str, file: str, match: str) -> None:
    fails(text, match, file=file)


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"name": "j", "tasks": {"t": 1}}, "tasks must be a list, got a mapping"),
        ({"name": "j", "tasks": []}, "tasks is missing or empty"),
        (
            {"name": 7, "tasks": [{"task_key": "t", **_nb()}]},
            "name must be a non-empty string, got 7",
        ),
        (
            {"name": "j", "tasks": [{"task_key": "t", "notebook_task": "nb"}]},
            r"tasks\[t\].notebook_task must be an object",
        ),
        (
            {"name": "j", "tasks": [{"task_key": "t", "notebook_task": {}}]},
            r"tasks\[t\].notebook_task.notebook_path is missing",
        ),
        (
            {"name": "j", "tasks": [{"task_key": "t", "max_retries": "2", **_nb()}]},
            r"tasks\[t\].max_retries must be an integer from 0 to 2\*\*31 - 1, got '2'",
        ),
        (
            {"name": "j", "tasks": [{"task_key": "t", "run_if": "SOMETIMES", **_nb()}]},
            r"tasks\[t\].run_if must be one of ALL_SUCCESS",
        ),
        (
            {"name": "j", "tasks": [{"task_key": "t", "teleport_task": {}}]},
            r"tasks\[t\] has no task kind baton knows \(teleport_task\)",
        ),
        (
            {"name": "j", "tasks": [{"task_key": "t"}]},
            r"tasks\[t\] has no task kind baton knows \(none\)",
        ),
        (
            {"name": "j", "tasks": [{"task_key": "t", "pipeline_task": {"pipeline_id": "p"}}]},
            r"tasks\[t\].pipeline_task runs on a Databricks service",
        ),
        (
            {"name": "j", "tasks": [{"task_key": "t", **_nb()}, {"task_key": "t", **_nb()}]},
            r"tasks\[1\].task_key 't' is used by two tasks",
        ),
        (
            {
                "name": "j",
                "tasks": [{"task_key": "t", "depends_on": [{"task_key": "ghost"}], **_nb()}],
            },
            r"tasks\[t\].depends_on names 'ghost', which is no task",
        ),
        (
            {
                "name": "j",
                "tasks": [
                    {"task_key": "a", "depends_on": [{"task_key": "b"}], **_nb()},
                    {"task_key": "b", "depends_on": [{"task_key": "a"}], **_nb()},
                ],
            },
            "cycle: a -> b -> a",
        ),
        (
            {"name": "j", "tasks": [{"task_key": "a", "depends_on": [{"task_key": "a"}], **_nb()}]},
            "cycle: a -> a",
        ),
        (
            {
                "name": "j",
                "tasks": [
                    {"task_key": "a", **_nb()},
                    {
                        "task_key": "b",
                        "depends_on": [{"task_key": "a", "outcome": "true"}],
                        **_nb(),
                    },
                ],
            },
            "gives an outcome for 'a', not a condition",
        ),
        (
            {"name": "j", "tasks": [{"task_key": "bad key", **_nb()}]},
            r"task_key 'bad key' must be letters",
        ),
        (
            {
                "name": "j",
                "schedule": {
                    "quartz_cron_expression": "0 0 3 * * ?",
                    "timezone_id": "Mars/Olympus",
                },
                "tasks": [{"task_key": "t", **_nb()}],
            },
            "schedule .* Mars/Olympus",
        ),
        (
            {
                "name": "j",
                "parameters": [{"name": "p", "default": 3}],
                "tasks": [{"task_key": "t", **_nb()}],
            },
            r"parameters\[0\].default must be a string",
        ),
        (
            {
                "name": "j",
                "tasks": [
                    {
                        "task_key": "t",
                        "for_each_task": {"inputs": '{"a": 1}', "task": {"task_key": "i", **_nb()}},
                    }
                ],
            },
            r"for_each_task.inputs must be a JSON array",
        ),
        (
            {"resources": {"jobs": {"a": {"tasks": []}, "b": {"tasks": []}}}},
            "defines several jobs \\(a, b\\): pick one with --job",
        ),
    ],
)
def test_bad_jobs_are_named(settings: dict[str, Any], match: str) -> None:
    fails(settings, match)


def test_iterations_reading_task_values_depend_on_that_task() -> None:
    inner = {"task_key": "i", "sql_task": _sql({"n": "{{tasks.count.values.n}}"})}
    flow, _ = imported(
        {
            "name": "j",
            "tasks": [
                {"task_key": "count", **_nb()},
                {"task_key": "e", "for_each_task": {"inputs": "[1]", "task": inner}},
            ],
        }
    )
    feeder, mapped = flow["tasks"][1:]
    assert mapped["depends_on"] == ["e.inputs", "count"]
    assert feeder["depends_on"] == ["count"]


@pytest.mark.parametrize(("opening", "file"), [("[", "job.json"), ("- ", "b.yml")])
def test_a_file_nested_too_deeply_is_refused(opening: str, file: str) -> None:
    fails(opening * 100_000, "nested too deeply", file=file)


def test_yaml_aliases_that_expand_past_any_real_job_are_refused() -> None:
    laughs = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    laughs += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    fails(
        "\n".join(laughs) + "\nresources: {jobs: {j: {tasks: *a6}}}\n",
        "more than 1000000 values",
        file="b.yml",
    )


def test_a_value_shared_by_yaml_aliases_is_written_in_each_place() -> None:
    bundle = """
    resources:
      jobs:
        j:
          tasks:
            - task_key: a
              notebook_task: {notebook_path: a.ipynb, base_parameters: &p {x: "1"}}
            - task_key: b
              notebook_task: {notebook_path: b.ipynb, base_parameters: *p}
    """
    out = job.import_job(bundle, file="b.yml", strict=False)
    assert "&" not in out.yaml and "*" not in out.yaml


def test_one_run_at_a_time_unless_the_job_says_otherwise() -> None:
    flow, _ = imported({"name": "j", "tasks": [{"task_key": "t", **_nb()}]})
    assert flow["max_active_runs"] == 1  # Databricks' default
    fails({"name": "j", "max_concurrent_runs": 0, "tasks": []}, "max_concurrent_runs must be")
