"""A Databricks job (Jobs API 2.1/2.2) -> a baton YAML flow. Pure: text in, text out.

Accepted: a `jobs/get` response (`{"job_id": ..., "settings": {...}}`), its settings object,
a `jobs/create` payload, or an asset bundle's YAML (`resources: {jobs: {NAME: {...}}}`).
What maps is in the README's table; what does not is reported (`report.Report`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from baton.errors import DefinitionError
from baton.model import schedules
from baton.model.databricks import notices, quartz, tasks
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

# Job fields that say nothing about what runs or when (who may see it, how it is edited).
QUIET = (
    "run_as",
    "access_control_list",
    "edit_mode",
    "deployment",
    "format",
    "budget_policy_id",
    "usage_policy_id",
    "performance_target",
    "tags",
    "description",
    "permissions",
)
_HANDLED = frozenset(
    {
        "name",
        "tasks",
        "parameters",
        "max_concurrent_runs",
        "schedule",
        "trigger",
        "email_notifications",
        "webhook_notifications",
        "notification_settings",
        "health",
        "job_clusters",
        "environments",
        "git_source",
        "queue",
        "timeout_seconds",
        "continuous",
        *QUIET,
    }
)
_PERIODS = {"HOURS": "h", "DAYS": "d"}
MAX_VALUES = 1_000_000


@dataclass
class Imported:
    yaml: str  # the flow file, its header comments saying what was not carried over
    name: str
    report: Report


def read(text_: str, *, file: str) -> Any:
    """The job file's data: JSON, or YAML (a bundle); a syntax error names the place."""
    if file.endswith(".json") or text_.lstrip().startswith("{"):
        try:
            return json.loads(text_)
        except ValueError as exc:  # JSONDecodeError, and a number too long to read
            raise DefinitionError(f"invalid JSON: {exc}", file=file) from None
        except RecursionError:
            raise DefinitionError("invalid JSON: nested too deeply", file=file) from None
    try:
        data = yaml.safe_load(text_)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        problem = ", ".join(p for p in (exc.context, exc.problem) if p)
        raise DefinitionError(
            f"invalid YAML: {problem}", file=file, line=mark.line + 1 if mark else None
        ) from None
    except (yaml.YAMLError, ValueError) as exc:
        raise DefinitionError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:
        raise DefinitionError("invalid YAML: nested too deeply", file=file) from None
    _check_size(data, file)
    return data


def _check_size(data: Any, file: str) -> None:
    """Refuse YAML whose aliases expand it past any real job (a "billion laughs" file is
    small on disk): everything after this walks the values, aliases expanded."""
    seen = 0
    stack = [data]
    while stack:
        value = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise DefinitionError(
                f"the job holds more than {MAX_VALUES} values once its YAML aliases are"
                " expanded; no real job is this large",
                file=file,
            )
        if isinstance(value, dict):
            stack += value.values()
        elif isinstance(value, list):
            stack += value


def settings_of(data: Any, job: str | None) -> tuple[str | None, dict[str, Any]]:
    """(the bundle's resource key, or None; the job's settings) of a file's data."""
    data = mapping(data, "the file")
    if "resources" in data:
        resources = optional_mapping(data, "resources", "")
        jobs = optional_mapping(resources, "jobs", "resources")
        if not jobs:
            fail("resources.jobs", "is empty: the bundle defines no job")
        if job is None and len(jobs) > 1:
            fail("resources.jobs", f"defines several jobs ({', '.join(jobs)}): pick one with --job")
        key = job or next(iter(jobs))
        if key not in jobs:
            fail("resources.jobs", f"has no job '{key}'; it defines: {', '.join(jobs)}")
        return key, mapping(jobs[key], f"resources.jobs.{key}")
    if job is not None:
        fail("--job", "picks a job of a bundle; this file is one job")
    if "settings" in data:
        return None, mapping(data["settings"], "settings")
    if "tasks" not in data and any(k in data for k in tasks.KINDS):
        fail("the file", "is a single-task job (Jobs API 2.0); export it with API 2.1 or later")
    return None, data


def import_job(text_: str, *, file: str, strict: bool, job: str | None = None) -> Imported:
    """The flow file for the job in `text_`.

    Raises:
        DefinitionError: bad input, naming the field; with `strict`, every field that
            cannot be carried over.
    """
    try:
        key, settings = settings_of(read(text_, file=file), job)
        report = Report(strict)
        flow = _flow(key, settings, report)
        report.check()
    except DefinitionError as exc:
        raise exc.located(file=file) from None
    body = yaml.dump(flow, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return Imported(_header(flow["name"], file, report) + body, flow["name"], report)


def _flow(key: str | None, settings: dict[str, Any], report: Report) -> dict[str, Any]:
    name = key or text(settings, "name", "", required=True) or ""
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "databricks_job"
    if clean != name:
        report.note("name", f"{name!r} is named {clean!r}: letters, digits, '_', '.', '-'")
    flow: dict[str, Any] = {"name": clean}
    description = settings.get("description")
    if isinstance(description, str) and description:
        flow["description"] = description
    params = _params(settings)
    if params:
        flow["params"] = {n: {"type": "string", "default": d} for n, d in params.items()}
    # Not given, Databricks runs one at a time; baton would run any number.
    flow["max_active_runs"] = integer(settings, "max_concurrent_runs", "", minimum=1) or 1
    schedule, triggers = _when(settings, report)
    if schedule is not None:
        flow["schedule"] = schedule
    if triggers:
        flow["triggers"] = triggers
    tables = [n for t in triggers for n in t.get("assets", [t.get("asset")]) if n]
    if tables:
        # A trigger waits for catalogued assets; the tables are written outside this flow.
        flow["assets"] = [
            {"name": n, "description": "A table whose updates start the Databricks job."}
            for n in dict.fromkeys(tables)
        ]
        report.note(
            "trigger.table_update",
            "runs start when an update of the table is recorded (by a baton task writing it,"
            " or reported through the API)",
        )
    entries = notices.notifications(settings, "", report)
    if entries:
        flow["notifications"] = entries
    flow["tasks"] = _tasks(settings, clean, params, report)
    _job_fields(settings, report)
    return flow


def _params(settings: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, item in enumerate(items(settings, "parameters", "")):
        where = f"parameters[{i}]"
        p = mapping(item, where)
        name = text(p, "name", where, required=True)
        assert name is not None
        if "=" in name or name in out:
            fail(f"{where}.name", f"{name!r} is repeated or holds '='")
        default = p.get("default")
        if not isinstance(default, str):
            fail(
                f"{where}.default",
                f"must be a string (Databricks' parameters are), got {default!r}",
            )
        out[name] = default
    return out


def _tasks(
    settings: dict[str, Any], flow: str, params: dict[str, str], report: Report
) -> list[dict[str, Any]]:
    raw = items(settings, "tasks", "")
    if not raw:
        fail("tasks", "is missing or empty: a job needs at least one task")
    kinds: dict[str, str] = {}
    for i, item in enumerate(raw):
        t = mapping(item, f"tasks[{i}]")
        key = tasks.task_key(t, f"tasks[{i}]")
        if key in kinds:
            fail(f"tasks[{i}].task_key", f"'{key}' is used by two tasks; task keys are unique")
        kinds[key] = tasks.kind_of(t, f"tasks[{key}]")
    mapper = tasks.TaskMapper(report, flow, params, kinds)
    converted = {c.key: c for c in (mapper.convert(t, f"tasks[{i}]") for i, t in enumerate(raw))}
    _check_graph(converted)
    for c in converted.values():
        entry = next(t for t in c.tasks if t["key"] == c.entry)
        deps: list[str] = list(entry.get("depends_on", []))
        for up, outcome in c.upstream:
            source = converted[up]
            if outcome is not None and source.kind != "condition_task":
                fail(f"tasks[{c.key}].depends_on", f"gives an outcome for '{up}', not a condition")
            if source.kind == "condition_task":
                cond = source.tasks[0]
                for side in ("true", "false") if outcome is None else (outcome,):
                    cond.setdefault(f"if_{side}", []).append(c.entry)
            deps.append(source.exit)
        if deps:
            entry["depends_on"] = deps
    return [t for c in converted.values() for t in c.tasks]


def _check_graph(converted: dict[str, tasks.Converted]) -> None:
    """A missing upstream or a cycle, named with the job's own task keys."""
    for c in converted.values():
        for up, _ in c.upstream:
            if up not in converted:
                fail(f"tasks[{c.key}].depends_on", f"names '{up}', which is no task of the job")
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done

    def walk(key: str, path: list[str]) -> None:
        state[key] = 1
        for up, _ in converted[key].upstream:
            if state.get(up) == 1:
                cycle = [*path[path.index(up) :], up] if up in path else [key, up]
                fail("tasks", f"depend on each other in a cycle: {' -> '.join(cycle)}")
            if up not in state:
                walk(up, [*path, up])
        state[key] = 2

    for key in converted:
        if key not in state:
            walk(key, [key])


def _when(settings: dict[str, Any], report: Report) -> tuple[Any, list[dict[str, Any]]]:
    schedule: Any = None
    triggers: list[dict[str, Any]] = []
    if settings.get("schedule") is not None:
        s = mapping(settings["schedule"], "schedule")
        expression = text(s, "quartz_cron_expression", "schedule", required=True)
        assert expression is not None
        schedule = {"cron": quartz.to_cron(expression)}
        zone = text(s, "timezone_id", "schedule")
        if zone is not None:
            schedule["timezone"] = zone
        try:
            schedules.parse_schedule(schedule)
        except DefinitionError as exc:
            fail("schedule", f"{expression!r} in {zone or 'UTC'} cannot be read: {exc.message}")
        _paused(s, "schedule", report)
    trigger = optional_mapping(settings, "trigger", "")
    _paused(trigger, "trigger", report)
    for name in trigger:
        if name == "file_arrival":
            triggers.append(_file_arrival(mapping(trigger[name], "trigger.file_arrival"), report))
        elif name in ("table_update", "table"):
            triggers += _table_update(trigger[name], f"trigger.{name}", report)
        elif name == "periodic":
            if schedule is not None:
                fail("trigger.periodic", "and schedule are both given; a job has one")
            schedule = _periodic(mapping(trigger[name], "trigger.periodic"))
        elif name != "pause_status":
            report.unsupported_field(f"trigger.{name}", "has no baton equivalent")
    if settings.get("continuous") is not None:
        report.unsupported_field("continuous", "baton starts runs on schedules and events only")
    return schedule, triggers


def _paused(data: dict[str, Any], path: str, report: Report) -> None:
    if data.get("pause_status") == "PAUSED":
        report.unsupported_field(
            f"{path}.pause_status", "PAUSED: pause the flow after deploying (baton flows pause)"
        )


def _file_arrival(data: dict[str, Any], report: Report) -> dict[str, Any]:
    url = text(data, "url", "trigger.file_arrival", required=True)
    assert url is not None
    if re.match(r"[a-z0-9+]+:", url):
        report.unsupported_field(
            "trigger.file_arrival.url", f"{url} is not a local path; baton watches local folders"
        )
    for name in data:
        if name != "url":
            report.note(f"trigger.file_arrival.{name}", "baton fires on each new or changed file")
    return {"file": url.rstrip("/") + "/*"}


def _table_update(value: Any, path: str, report: Report) -> list[dict[str, Any]]:
    data = mapping(value, path)
    names = strings(data, "table_names", path)
    if not names:
        fail(f"{path}.table_names", "must name at least one table")
    condition = data.get("condition", "ANY_UPDATED")
    for name in data:
        if name not in ("table_names", "condition"):
            report.note(f"{path}.{name}", "baton fires on each update")
    if condition not in ("ANY_UPDATED", "ALL_UPDATED"):
        fail(f"{path}.condition", f"must be ANY_UPDATED or ALL_UPDATED, got {condition!r}")
    if condition == "ALL_UPDATED" and len(names) > 1:
        return [{"assets": names}]
    return [{"asset": n} for n in names]


def _periodic(data: dict[str, Any]) -> str:
    interval = integer(data, "interval", "trigger.periodic", minimum=1)
    unit = data.get("unit")
    if interval is None or unit not in (*_PERIODS, "WEEKS"):
        fail("trigger.periodic", "needs interval (>= 1) and unit (HOURS, DAYS or WEEKS)")
    if unit == "WEEKS":
        return f"every {interval * 7}d"
    return f"every {interval}{_PERIODS[unit]}"


def _job_fields(settings: dict[str, Any], report: Report) -> None:
    for name in ("job_clusters", "environments"):
        if settings.get(name):
            report.unsupported_field(name, "dropped: tasks run on baton workers")
    if settings.get("git_source"):
        report.note("git_source", "check the repository out next to the flow file")
    if settings.get("queue"):
        report.note("queue", "baton queues every run its schedule or trigger creates")
    if settings.get("timeout_seconds"):
        report.unsupported_field(
            "timeout_seconds", "baton times tasks out, not runs; give each task a timeout"
        )
    for name in QUIET:
        if settings.get(name) and name != "description":
            report.note(name, "not carried over")
    for name in settings:
        if name not in _HANDLED:
            report.unsupported_field(name, "has no baton equivalent")


class _Dumper(yaml.SafeDumper):
    """Writes a value shared by several fields (a YAML alias in a bundle) in each place."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _header(name: str, file: str, report: Report) -> str:
    lines = [f"# Flow {name}, imported from the Databricks job in {file}."]
    if report.unsupported:
        lines.append("# Not carried over (check these before deploying):")
        lines += [f"#   {u}" for u in report.unsupported]
    if report.notes:
        lines.append("# Notes:")
        lines += [f"#   {n}" for n in report.notes]
    return "\n".join(line.replace("\n", " ") for line in lines) + "\n"
