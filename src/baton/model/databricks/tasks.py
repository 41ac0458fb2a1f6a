"""Databricks job tasks -> baton task mappings (as a YAML flow file writes them). Pure.

Each Databricks task becomes one baton task, except a `for_each_task`, which becomes two: a
feeder (`KEY.inputs`, a python task decoding the inputs to a list) and the mapped task
(`KEY`) fanning out over it. So a task has an entry key, which its upstream edges reach
(and a condition's `if_true` / `if_false` name), and an exit key, which its downstream tasks
depend on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from baton.model.databricks import values
from baton.model.databricks.report import (
    Report,
    fail,
    integer,
    items,
    mapping,
    optional_mapping,
    strings,
    text,
)
from baton.model.spec import PARAM_KEY

# Databricks' run_if -> baton's trigger rule (Airflow's names).
RUN_IF = {
    "ALL_SUCCESS": "all_success",
    "AT_LEAST_ONE_SUCCESS": "one_success",
    "NONE_FAILED": "none_failed_min_one_success",
    "ALL_DONE": "all_done",
    "AT_LEAST_ONE_FAILED": "one_failed",
    "ALL_FAILED": "all_failed",
}
# The task kinds, and the baton type each becomes.
KINDS = {
    "notebook_task": "notebook",
    "spark_python_task": "spark",
    "spark_jar_task": "spark",
    "spark_submit_task": "spark",
    "python_wheel_task": "python",
    "sql_task": "sql",
    "dbt_task": "shell",
    "run_job_task": "flow",
    "condition_task": "condition",
    "for_each_task": "?",  # the inner task's type
}
# Kinds that run on Databricks services with no local equivalent: an error, strict or not.
UNSUPPORTED_KINDS = (
    "pipeline_task",
    "dashboard_task",
    "power_bi_task",
    "clean_rooms_notebook_task",
    "gen_ai_compute_task",
    "alert_task",
)
COMPUTE = ("existing_cluster_id", "new_cluster", "job_cluster_key", "environment_key", "compute")
# Fields that say nothing about what runs or when.
QUIET = ("description", "disable_auto_optimization", "run_name")
_COMMON = frozenset(
    {
        "task_key",
        "depends_on",
        "run_if",
        "max_retries",
        "min_retry_interval_millis",
        "retry_on_timeout",
        "timeout_seconds",
        "libraries",
        *COMPUTE,
        *QUIET,
    }
)
_SUBMIT_OPTIONS = {"--class": "main_class", "--master": "master", "--deploy-mode": "deploy_mode"}


@dataclass
class Converted:
    """One Databricks task as baton task mappings, and how its edges connect."""

    key: str
    kind: str
    tasks: list[dict[str, Any]]
    entry: str
    exit: str
    upstream: list[tuple[str, str | None]] = field(default_factory=list)  # (key, outcome)


def task_key(data: dict[str, Any], path: str) -> str:
    key = text(data, "task_key", path, required=True)
    assert key is not None
    if not re.fullmatch(r"[A-Za-z0-9_-]+", key):
        fail(f"{path}.task_key", f"{key!r} must be letters, digits, '_' or '-'")
    return key


def kind_of(data: dict[str, Any], path: str) -> str:
    found = [k for k in (*KINDS, *UNSUPPORTED_KINDS) if k in data]
    unknown = [k for k in data if k.endswith("_task") and k not in found]
    if unknown or not found:
        named = unknown[0] if unknown else "none"
        fail(path, f"has no task kind baton knows ({named}); known: {', '.join(KINDS)}")
    if len(found) > 1:
        fail(path, f"has several task kinds ({', '.join(found)}); a task has one")
    if found[0] in UNSUPPORTED_KINDS:
        fail(
            f"{path}.{found[0]}",
            "runs on a Databricks service that has no baton equivalent; remove the task or"
            " replace it with a task baton can run",
        )
    return found[0]


class TaskMapper:
    """Converts the tasks of one job; `scope` tells what references in them may name."""

    def __init__(
        self, report: Report, job_name: str, params: dict[str, str], kinds: dict[str, str]
    ):
        self.report = report
        self.job_name = job_name
        self.params = params
        self.kinds = kinds  # task key -> Databricks kind, for reading task values

    def convert(self, data: dict[str, Any], path: str) -> Converted:
        key = task_key(data, path)
        path = f"tasks[{key}]"
        kind = kind_of(data, path)
        upstream = self.depends_on(data, path)
        common = self.common(data, path)
        scope = self.scope(path)
        if kind == "for_each_task":
            return self.for_each(key, data, path, common, upstream, scope)
        body = mapping(data[kind], f"{path}.{kind}")
        task = {"key": key, **self.body(kind, body, data, f"{path}.{kind}", scope), **common}
        self.unknown(data, path, {kind})
        self.add_needs(task, scope, upstream)
        return Converted(key, kind, [task], key, key, upstream)

    def scope(self, path: str, in_for_each: bool = False) -> values.Scope:
        def task_type(key: str) -> str | None:
            kind = self.kinds.get(key)
            return None if kind is None else KINDS.get(kind)

        return values.Scope(path, self.job_name, frozenset(self.params), task_type, in_for_each)

    def add_needs(self, task: dict[str, Any], scope: values.Scope, upstream: list[Any]) -> None:
        """A task reading another's values needs its result: make it a direct upstream
        (Databricks lets it read any upstream task; baton hands over direct upstreams)."""
        for need in scope.needs:
            if need not in [u for u, _ in upstream] and need != task["key"]:
                upstream.append((need, None))

    def depends_on(self, data: dict[str, Any], path: str) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for i, item in enumerate(items(data, "depends_on", path)):
            where = f"{path}.depends_on[{i}]"
            dep = mapping(item, where)
            key = text(dep, "task_key", where, required=True)
            outcome = dep.get("outcome")
            if outcome is not None and outcome not in ("true", "false"):
                fail(f"{where}.outcome", f'must be "true" or "false", got {outcome!r}')
            if any(k == key for k, _ in out):
                fail(where, f"names '{key}' twice")
            assert key is not None
            out.append((key, outcome))
        return out

    def common(self, data: dict[str, Any], path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        run_if = data.get("run_if")
        if run_if is not None:
            if not isinstance(run_if, str) or run_if not in RUN_IF:
                fail(f"{path}.run_if", f"must be one of {', '.join(RUN_IF)}, got {run_if!r}")
            if run_if != "ALL_SUCCESS":
                out["trigger_rule"] = RUN_IF[run_if]
        retries = data.get("max_retries")
        if retries == -1:
            self.report.unsupported_field(
                f"{path}.max_retries", "-1 (retry forever) has no equivalent; give a number"
            )
        elif integer(data, "max_retries", path):
            out["retries"] = retries
        interval = integer(data, "min_retry_interval_millis", path)
        if interval and "retries" in out:
            out["retry_delay"] = interval / 1000
        timeout = integer(data, "timeout_seconds", path)
        if timeout:
            out["timeout"] = timeout
            if "retries" in out and data.get("retry_on_timeout") is not True:
                self.report.note(
                    f"{path}.retry_on_timeout",
                    "baton retries an attempt that timed out like any other failure",
                )
        for name in COMPUTE:
            if name in data:
                self.report.unsupported_field(
                    f"{path}.{name}", "dropped: the task runs on a baton worker, not a cluster"
                )
        if "libraries" in data:
            self.report.note(f"{path}.libraries", "dropped: install them where baton workers run")
        return out

    def unknown(self, data: dict[str, Any], path: str, kinds: set[str]) -> None:
        for name in data:
            if name not in _COMMON and name not in kinds:
                self.report.unsupported_field(f"{path}.{name}", "has no baton equivalent")

    # -- the kinds ---------------------------------------------------------------------------

    def body(
        self, kind: str, body: dict[str, Any], task: dict[str, Any], path: str, scope: values.Scope
    ) -> dict[str, Any]:
        def tr(value: Any) -> Any:
            return values.translate(values.secret_references(value), scope, self.report)

        def extra(*known: str) -> None:
            for name in body:
                if name not in known:
                    self.report.unsupported_field(f"{path}.{name}", "has no baton equivalent")

        if kind == "notebook_task":
            extra("notebook_path", "base_parameters", "source")
            nb = text(body, "notebook_path", path, required=True)
            assert nb is not None
            # Workspace paths are absolute; baton's are from the flow file's folder.
            local = nb.lstrip("/") + ("" if nb.endswith(".ipynb") else ".ipynb")
            if local != nb:
                self.report.note(
                    f"{path}.notebook_path", f"baton runs Jupyter notebooks: export it as {local}"
                )
            params = dict(tr(optional_mapping(body, "base_parameters", path)))
            # Databricks hands every job parameter to a notebook's widgets of the same name.
            params |= {n: "{{ " + values.param(n) + " }}" for n in self.params if _ident(n)}
            return {"type": "notebook", "path": local, **_some("parameters", params)}
        if kind == "spark_python_task":
            extra("python_file", "parameters", "source")
            app = text(body, "python_file", path, required=True)
            self.report.note(path, "runs on master local[*]; set master: for a cluster")
            return {
                "type": "spark",
                "application": app,
                **_some("args", tr(strings(body, "parameters", path))),
            }
        if kind == "spark_jar_task":
            extra("main_class_name", "parameters", "jar_uri", "run_as_repl")
            jars = [
                lib["jar"]
                for lib in items(task, "libraries", path.rsplit(".", 1)[0])
                if isinstance(lib, dict) and isinstance(lib.get("jar"), str)
            ]
            jar = body.get("jar_uri") or (jars[0] if jars else None)
            if not isinstance(jar, str):
                fail(path, "names no jar: give it in the task's libraries ({jar: PATH})")
            return {
                "type": "spark",
                "application": jar,
                "main_class": text(body, "main_class_name", path, required=True),
                **_some("args", tr(strings(body, "parameters", path))),
                **_some("jars", [j for j in jars if j != jar]),
            }
        if kind == "spark_submit_task":
            extra("parameters")
            return self.spark_submit(tr(strings(body, "parameters", path)), path)
        if kind == "python_wheel_task":
            extra("package_name", "entry_point", "parameters", "named_parameters")
            package = text(body, "package_name", path, required=True)
            entry = text(body, "entry_point", path, required=True)
            assert package is not None and entry is not None
            self.report.note(
                f"{path}.entry_point",
                f"called as {package.replace('-', '_')}.{entry}(*parameters,"
                " **named_parameters), not through sys.argv; install the wheel where baton"
                " workers run",
            )
            args = strings(body, "parameters", path)
            kwargs = optional_mapping(body, "named_parameters", path)
            if "{{" in json.dumps([args, kwargs]):
                self.report.unsupported_field(
                    path, "a python task's arguments are not templates: references stay as text"
                )
            return {
                "type": "python",
                "function": f"{package.replace('-', '_')}:{entry}",
                **_some("args", args),
                **_some("kwargs", kwargs),
            }
        if kind == "sql_task":
            return self.sql(body, path, tr)
        if kind == "dbt_task":
            extra("commands", "project_directory", "profiles_directory", "warehouse_id", "source")
            commands = strings(body, "commands", path)
            if not commands:
                fail(f"{path}.commands", "must list at least one dbt command")
            profiles = text(body, "profiles_directory", path)
            suffix = f" --profiles-dir {profiles}" if profiles else ""
            self.report.note(path, "dbt runs from the worker's PATH against its own profile")
            return {
                "type": "shell",
                "command": " && ".join(f"{c}{suffix}" for c in tr(commands)),
                **_some("cwd", text(body, "project_directory", path)),
            }
        if kind == "run_job_task":
            return self.run_job(body, path, tr)
        assert kind == "condition_task"
        extra("op", "left", "right")
        # The operator is checked by the condition type itself, as the flow is loaded.
        op = text(body, "op", path, required=True)
        sides = {side: tr(text(body, side, path, required=True)) for side in ("left", "right")}
        return {"type": "condition", "op": op, **sides}

    def sql(self, body: dict[str, Any], path: str, tr: Any) -> dict[str, Any]:
        for name in body:
            if name not in ("query", "file", "parameters", "warehouse_id"):
                self.report.unsupported_field(f"{path}.{name}", "has no baton equivalent")
        warehouse = text(body, "warehouse_id", path, required=True)
        assert warehouse is not None
        out: dict[str, Any] = {"type": "sql"}
        if "file" in body:
            out["file"] = text(
                mapping(body["file"], f"{path}.file"), "path", f"{path}.file", required=True
            )
        elif "query" in body:
            query = text(
                mapping(body["query"], f"{path}.query"), "query_id", f"{path}.query", required=True
            )
            out["file"] = f"queries/{query}.sql"
            self.report.unsupported_field(
                f"{path}.query",
                f"a saved query's text is not in the job: export it to {out['file']}",
            )
        else:
            fail(path, "has neither file nor query (dashboards and alerts are not imported)")
        conn = "warehouse_" + re.sub(r"\W", "_", warehouse)
        out["conn"] = conn
        self.report.note(
            f"{path}.warehouse_id", f"connects to $BATON_CONN_{conn.upper()} (a SQLAlchemy URL)"
        )
        return out | _some("params", tr(optional_mapping(body, "parameters", path)))

    def run_job(self, body: dict[str, Any], path: str, tr: Any) -> dict[str, Any]:
        for name in body:
            if name not in ("job_id", "job_parameters"):
                self.report.unsupported_field(
                    f"{path}.{name}", "has no baton equivalent; use job_parameters"
                )
        job = body.get("job_id")
        bundle = re.fullmatch(r"\$\{resources\.jobs\.([\w-]+)\.id\}", str(job))
        if bundle:
            file = f"{bundle.group(1)}.yaml"
        elif isinstance(job, int) and not isinstance(job, bool):
            file = f"job_{job}.yaml"
        else:
            fail(f"{path}.job_id", f"must be a job id (an integer), got {job!r}")
        self.report.note(f"{path}.job_id", f"import that job to {file}, next to this flow")
        params = tr(optional_mapping(body, "job_parameters", path))
        # The child's params are strings, as Databricks' are; a template keeps a value's type.
        params = {k: values.as_text(v) for k, v in params.items()}
        return {"type": "flow", "path": file} | _some("params", params)

    def spark_submit(self, args: list[str], path: str) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "spark"}
        conf: dict[str, str] = {}
        rest = list(args)
        while rest and rest[0].startswith("--"):
            option = rest.pop(0)
            if not rest:
                fail(f"{path}.parameters", f"ends with {option} but no value")
            value = rest.pop(0)
            if option in _SUBMIT_OPTIONS:
                out[_SUBMIT_OPTIONS[option]] = value
            elif option == "--conf" and "=" in value:
                k, _, v = value.partition("=")
                conf[k] = v
            elif option in ("--py-files", "--jars"):
                out[option[2:].replace("-", "_")] = value.split(",")
            else:
                self.report.unsupported_field(f"{path}.parameters", f"{option} has no equivalent")
        if not rest:
            fail(f"{path}.parameters", "names no application (.py or .jar)")
        out["application"] = rest[0]
        return out | _some("conf", conf) | _some("args", rest[1:])

    def for_each(
        self,
        key: str,
        data: dict[str, Any],
        path: str,
        common: dict[str, Any],
        upstream: list[tuple[str, str | None]],
        scope: values.Scope,
    ) -> Converted:
        where = f"{path}.for_each_task"
        body = mapping(data["for_each_task"], where)
        self.unknown(data, path, {"for_each_task"})
        for name in body:
            if name not in ("inputs", "task", "concurrency"):
                self.report.unsupported_field(f"{where}.{name}", "has no baton equivalent")
        inputs = body.get("inputs")
        if isinstance(inputs, list):
            inputs = json.dumps(inputs)
        if not isinstance(inputs, str):
            fail(f"{where}.inputs", f"must be a JSON array or a reference, got {inputs!r}")
        feeder: dict[str, Any] = {
            "key": f"{key}.inputs",
            "type": "python",
            "function": "json:loads",
        }
        match = re.fullmatch(r"\{\{\s*job\.parameters\.([\w-]+)\s*\}\}", inputs)
        if match and match.group(1) in self.params:
            # A python task's arguments are not templates; a param goes in as a reference.
            feeder["args"] = [{PARAM_KEY: match.group(1)}]
        elif "{{" in inputs:
            self.report.unsupported_field(
                f"{where}.inputs",
                "only a JSON array or {{job.parameters.NAME}} can be fanned out over",
            )
            feeder["args"] = ["[]"]
        else:
            try:
                decoded = json.loads(inputs)
            except (ValueError, RecursionError):
                decoded = None
            if not isinstance(decoded, list):
                fail(f"{where}.inputs", f"must be a JSON array, got {inputs!r}")
            feeder["args"] = [inputs]
        feeder |= common
        inner_data = mapping(body.get("task"), f"{where}.task")
        inner_kind = kind_of(inner_data, f"{where}.task")
        if inner_kind in ("for_each_task", "condition_task"):
            fail(f"{where}.task", f"cannot be a {inner_kind}")
        inner_scope = self.scope(f"{where}.task", in_for_each=True)
        inner_body = mapping(inner_data[inner_kind], f"{where}.task.{inner_kind}")
        mapped = {
            "key": key,
            **self.body(
                inner_kind, inner_body, inner_data, f"{where}.task.{inner_kind}", inner_scope
            ),
            **self.common(inner_data, f"{where}.task"),
            "depends_on": [f"{key}.inputs"],
            "map_over": f"{key}.inputs",
        }
        self.unknown(inner_data, f"{where}.task", {inner_kind})
        # Values the iterations read come to them directly; the feeder waits for them too.
        mapped["depends_on"] += [n for n in inner_scope.needs if n not in mapped["depends_on"]]
        self.add_needs(feeder, inner_scope, upstream)
        concurrency = integer(body, "concurrency", where, minimum=1)
        if concurrency:
            mapped["pool"] = f"{self.job_name}.{key}"
            self.report.note(
                f"{where}.concurrency",
                f"pool {mapped['pool']}: create it with `baton pools set {mapped['pool']}"
                f" --slots {concurrency}`",
            )
        return Converted(key, inner_kind, [feeder, mapped], f"{key}.inputs", key, upstream)


def _ident(name: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) is not None


def _some(name: str, value: Any) -> dict[str, Any]:
    """`{name: value}`, or nothing when the value is empty (the type's default)."""
    return {name: value} if value else {}
