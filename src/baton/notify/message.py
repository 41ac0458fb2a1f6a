"""What a notification says: a subject, plain text, HTML, a Slack message. Pure.

Every function takes the payload the engine wrote (`engine.notifications`) plus `url`, the
link to the run's page (an asset's, for an asset's events: stale, check_failed), added
when sending. An asset's payload has `asset` and no `flow` of its own (`scheduling.
freshness` and `engine.assets` write them).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from baton.model.names import task_label

SLACK_LOG_CHARS = 2000  # of a log's last lines in a Slack message (a block takes 3,000)


def subject(p: Mapping[str, Any]) -> str:
    """One line: what happened, e.g. `[baton] flow etl run 1f2e3d4c5b6a7980 failed`."""
    return f"[baton] {summary(p)}"


def summary(p: Mapping[str, Any]) -> str:
    said = _summary(p)
    e = p.get("escalation")
    if isinstance(e, Mapping):  # a step of an escalation (`scheduling.escalation`)
        return f"escalation {e['step']}/{e['steps']} after {duration(e['after'])}: {said}"
    return said


def _summary(p: Mapping[str, Any]) -> str:
    event = p["event"]
    if event in ASSET_EVENTS:
        return _asset_summary(p)
    run = f"flow {p['flow']} run {p['run_id']}"
    if event == "failure" and isinstance(p.get("task"), Mapping):  # a task's own entry
        return f"{run}: task {_task_name(p['task'])} failed"
    if event == "failure":
        return f"{run} failed"
    if event == "success":
        return f"{run} succeeded"
    if event == "retry":
        t = p["task"]
        return f"{run}: task {_task_name(t)} failed (attempt {t['attempt']}), retrying"
    if event == "sla":
        return f"{run} exceeded its SLA of {duration(p['sla'])}"
    if event == "approval_required":
        return f"{run}: task {_task_name(p['task'])} is waiting for an approval"
    return f"{run}: {event}"


def facts(p: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) lines about the run (or the asset), those that are known."""
    if p["event"] in ASSET_EVENTS:
        return _asset_facts(p)
    out = [("Flow", p["flow"]), ("Run", p["run_id"])]
    if p.get("state"):
        out.append(("State", p["state"]))
    if p.get("trigger"):
        detail = f": {p['trigger_detail']}" if p.get("trigger_detail") else ""
        out.append(("Trigger", f"{p['trigger']}{detail}"))
    if p.get("params"):
        out.append(("Params", ", ".join(f"{k}={v}" for k, v in p["params"].items())))
    for label, field in (
        ("Logical date", "logical_date"),
        ("Created", "created_at"),
        ("Started", "started_at"),
        ("Ended", "ended_at"),
    ):
        if p.get(field):
            out.append((label, p[field]))
    if p.get("duration") is not None:
        out.append(("Duration", duration(p["duration"])))
    if p.get("sla") is not None:
        out.append(("SLA", duration(p["sla"])))
    if p["event"] == "approval_required":
        out.append(("Prompt", p.get("prompt") or ""))
        out.append(("Approvers", ", ".join(p.get("approvers") or ())))
        if p.get("deadline"):
            out.append(("Decide by", f"{p['deadline']} (then: {p.get('on_timeout')})"))
    return out


def problems(p: Mapping[str, Any]) -> list[tuple[str, str | None, str | None]]:
    """(task, error, the last lines of its failed attempt's log) for the failed tasks a
    notification reports."""
    if p["event"] == "check_failed":
        error = p.get("error")
        return [(f"check {p.get('check')}", error, None)] if error else []
    if p["event"] == "retry":
        t = p["task"]
        retry = f", retry at {t['retry_at']}" if t.get("retry_at") else ""
        name = f"{_task_name(t)} (attempt {t['attempt']}{retry})"
        return [(name, t.get("error"), t.get("log_tail"))]
    return [(_task_name(t), t.get("error"), t.get("log_tail")) for t in p.get("failed_tasks", ())]


def more_failed(p: Mapping[str, Any]) -> int:
    """How many failed tasks the payload counts but does not list."""
    return int(p.get("failed_count", 0)) - len(p.get("failed_tasks", ()))


def text(p: Mapping[str, Any]) -> str:
    lines = [summary(p), ""]
    lines += [f"{label}: {value}" for label, value in facts(p)]
    found = problems(p)
    if found:
        lines += ["", _problems_heading(p["event"])]
        for task, error, log in found:
            lines.append(f"- {task}")
            lines += [f"    {line}" for line in (error or "(no error message)").splitlines()]
            if log:
                lines += ["    Last lines of its log:", *(f"    | {x}" for x in log.splitlines())]
        if more_failed(p) > 0:
            lines.append(f"- and {more_failed(p)} more")
    lines += ["", f"{_see(p)}: {p['url']}", ""]
    return "\n".join(lines)


def html_body(p: Mapping[str, Any]) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><th align='left'>{e(label)}</th><td>{e(str(value))}</td></tr>"
        for label, value in facts(p)
    )
    parts = [f"<p><b>{e(summary(p))}</b></p>", f"<table>{rows}</table>"]
    found = problems(p)
    if found:
        items = "".join(
            f"<li><b>{e(task)}</b><pre>{e(error or '(no error message)')}</pre>"
            + (f"<p>Last lines of its log:</p><pre>{e(log)}</pre>" if log else "")
            + "</li>"
            for task, error, log in found
        )
        if more_failed(p) > 0:
            items += f"<li>and {more_failed(p)} more</li>"
        parts.append(f"<ul>{items}</ul>")
    parts.append(f"<p><a href='{e(p['url'], quote=True)}'>{_see(p)}</a></p>")
    return "<html><body>" + "".join(parts) + "</body></html>"


def slack(p: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` (the fallback) and Block Kit `blocks`."""
    head = f"<{p['url']}|{_slack_escape(summary(p))}>"
    fields = [
        {"type": "mrkdwn", "text": f"*{label}*\n{_slack_escape(str(value))}"}
        for label, value in facts(p)
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": head}},
        # Slack takes at most 10 fields in a section.
        *({"type": "section", "fields": fields[i : i + 10]} for i in range(0, len(fields), 10)),
    ]
    for task, error, log in problems(p):
        body = f"*{_slack_escape(task)}*"
        if error:
            body += f"\n```{_slack_escape(error)}```"
        if log:  # a section's text holds 3,000 characters at most
            body += f"\nLast lines of its log:\n```{_slack_escape(log[-SLACK_LOG_CHARS:])}```"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
    if more_failed(p) > 0:
        extra = f"and {more_failed(p)} more failed tasks"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": extra}]})
    return {"text": f"{summary(p)}: {p['url']}", "blocks": blocks}


def duration(seconds: float) -> str:
    """`3600` -> `1h`, `90.5` -> `1m30s`, `2.25` -> `2.25s`, `2` -> `2s`."""
    if seconds < 60:
        return f"{seconds:.2f}".rstrip("0").rstrip(".") + "s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "h"), (minutes, "m"), (secs, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n)


ASSET_EVENTS = ("stale", "check_failed")
METADATA_FACTS = 10  # metadata entries a check's message lists
SAMPLE = 20  # failing rows a check keeps (`execution.checks`)


def _asset_summary(p: Mapping[str, Any]) -> str:
    asset = f"asset {p['asset']}"
    if p["event"] == "stale":
        return f"{asset} is stale"
    outcome = "failed" if p.get("severity", "error") == "error" else "failed (warning)"
    return f"{asset}: check {p.get('check')} {outcome}"


def _asset_facts(p: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = [("Asset", str(p["asset"]))]
    if p["event"] == "stale":
        out.append(("Last update", p.get("last_update") or "never"))
        for label, field in (("Due", "due"), ("Stale since", "since")):
            if p.get(field):
                out.append((label, p[field]))
        if p.get("freshness"):
            out.append(("Freshness", _policy(p["freshness"])))
        return out
    for label, field in (("Check", "check"), ("Severity", "severity"), ("Flow", "flow")):
        if p.get(field):
            out.append((label, str(p[field])))
    if p.get("run_id"):
        out.append(("Run", str(p["run_id"])))
    if p.get("task"):
        out.append(("Task", str(p["task"])))
    if p.get("failing_rows"):
        n = int(p["failing_rows"])  # the sample's size: a check keeps at most SAMPLE rows
        out.append(("Failing rows", f"{SAMPLE} or more" if n >= SAMPLE else str(n)))
    if p.get("at"):
        out.append(("At", p["at"]))
    metadata = p.get("metadata")
    if isinstance(metadata, Mapping) and metadata:
        items = list(metadata.items())
        shown = ", ".join(f"{k}={v}" for k, v in items[:METADATA_FACTS])
        more = f" and {len(items) - METADATA_FACTS} more" if len(items) > METADATA_FACTS else ""
        out.append(("Metadata", shown + more))
    return out


def _policy(f: Mapping[str, Any]) -> str:
    """`{cron: "0 7 * * *", timezone: Europe/Paris, max_lag: 3600}` -> `by each tick of
    0 7 * * * (Europe/Paris), with 1h of grace`; `{max_lag: 21600}` -> `at most 6h old`."""
    lag = f.get("max_lag")
    if not f.get("cron"):
        return f"at most {duration(float(lag or 0))} old"
    grace = f", with {duration(float(lag))} of grace" if lag else ""
    return f"by each tick of {f['cron']} ({f.get('timezone', 'UTC')}){grace}"


def _problems_heading(event: str) -> str:
    return {"failure": "Failed tasks:", "check_failed": "Why the check failed:"}.get(
        event, "Failed attempt:"
    )


def _see(p: Mapping[str, Any]) -> str:
    if p["event"] == "approval_required":
        return "Approve or reject"
    return "See the asset" if p["event"] in ASSET_EVENTS else "See the run"


def _task_name(t: Mapping[str, Any]) -> str:
    return task_label(str(t["key"]), t.get("map_index"))


def _slack_escape(value: str) -> str:
    # Slack's mrkdwn reads these three as markup; everything else is literal.
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
