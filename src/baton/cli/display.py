"""What the CLI prints: live progress, run summaries, DAGs, logs.

Rich is used only on a terminal; piped output is plain text (and JSON with --json), which
also keeps non-interactive runs from paying for importing it.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from baton.execution.log_times import LINE_BREAK
from baton.model import json_text, resources
from baton.model.names import task_run_name
from baton.model.states import TASK_TERMINAL, TaskState
from baton.settings import Settings
from baton.store.store import Row, Store

if TYPE_CHECKING:  # the engine's modules cost `baton runs list` 0.15 s to import
    from baton.execution.local import RunResult, TaskRunResult
    from baton.execution.views import CacheEntryView
    from baton.model.spec import FlowSpec
    from baton.store.records import WorkerRow

REFRESH = 0.1  # seconds between progress updates


@contextmanager
def progress(settings: Settings, run_id: str, *, enabled: bool) -> Iterator[None]:
    """A live line of task counts and elapsed time while the run goes on (terminals only)."""
    if not enabled or not sys.stdout.isatty():
        yield
        return
    from rich.live import Live
    from rich.text import Text

    stop = threading.Event()
    started = time.monotonic()
    store = Store(settings.database_url)

    def render() -> Text:
        counts: dict[str, int] = {}
        for r in store.read().task_runs(run_id):
            counts[r.state] = counts.get(r.state, 0) + 1
        total = sum(counts.values())
        ok = {TaskState.SUCCEEDED, TaskState.SKIPPED}
        done = sum(counts.get(s, 0) for s in ok)
        bad = sum(counts.get(s, 0) for s in TASK_TERMINAL - ok)
        waiting = f"[blue]{counts['waiting']} waiting[/]  " if counts.get("waiting") else ""
        return Text.from_markup(  # a Text: no number highlighting in the middle of "0.3s"
            f"[bold]{run_id}[/]  {done + bad}/{total} done  "
            f"[cyan]{counts.get('running', 0)} running[/]  {waiting}"
            f"[yellow]{counts.get('retry_wait', 0)} retrying[/]  "
            f"[red]{bad} failed[/]  {time.monotonic() - started:.1f}s"
        )

    with Live(
        render(),
        refresh_per_second=10,
        transient=True,
        redirect_stdout=False,  # task output is captured per attempt, not shown here
        redirect_stderr=False,
    ) as live:

        def loop() -> None:
            while not stop.wait(REFRESH):
                try:
                    live.update(render())
                except store.errors:  # the database is away: the waiting client says so
                    with suppress(Exception):
                        store.reconnect()

        t = threading.Thread(target=loop, daemon=True)
        t.start()
        try:
            yield
        finally:
            stop.set()
            t.join()
            store.close()


STATE_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "upstream_failed": "red",
    "cancelled": "magenta",
    "cancelling": "magenta",
    "skipped": "dim",
    "running": "cyan",
    "retry_wait": "yellow",
    "queued": "blue",
}


def finished(result: RunResult, *, as_json: bool) -> None:
    """The run's summary: JSON, a rich table on a terminal, plain columns otherwise."""
    if as_json:
        print(json_text.indented(result.to_json()))
        return
    rows = [
        [
            t.label,
            t.state,
            str(t.attempts),
            _duration(t.started_at, t.ended_at),
            _why(t),
        ]
        for t in result.tasks.values()
    ]
    header = ["task", "state", "attempts", "duration", "error"]
    if any(t.cached for t in result.tasks.values()):  # hits: where their result comes from
        header.append("cached from")
        for row, t in zip(rows, result.tasks.values(), strict=True):
            source = t.cached_from
            row.append(f"run {source.run_id} attempt {source.attempt}" if source else "")
    part = f", partition {result.partition}" if result.partition is not None else ""
    title = (
        f"run {result.id} of {result.flow}{part}: {result.state} "
        f"({_duration(result.started_at, result.ended_at)})"
    )
    print_table(title, header, rows, state_col=1)


def _why(t: TaskRunResult) -> str:
    """The error column: a failure's first line, or why a queued task cannot be placed."""
    if t.unschedulable:
        return f"unschedulable: {t.unschedulable}"
    return (t.error or "").splitlines()[0][:80] if t.error else ""


def run_list(data: Sequence[dict[str, Any]], *, as_json: bool) -> None:
    """Runs as `RunView.summary_json` (or the API) gives them."""
    if as_json:
        print(json.dumps(data, indent=2))
        return
    table = [
        [
            d["id"],
            d["flow"],
            d["state"],
            f"{d['trigger']}: {d['trigger_detail']}" if d.get("trigger_detail") else d["trigger"],
            (d["created_at"] or "")[:19].replace("T", " "),
            _duration(d["started_at"], d["ended_at"]),
        ]
        for d in data
    ]
    header = ["run", "flow", "state", "trigger", "created (UTC)", "duration"]
    if any(d.get("partition") is not None for d in data):
        header.insert(2, "partition")
        for row, d in zip(table, data, strict=True):
            row.insert(2, d.get("partition") or "")
    print_table(f"{len(data)} runs", header, table, state_col=header.index("state"))


def flow_dags(specs: Sequence[FlowSpec], *, as_json: bool) -> None:
    if as_json:
        data = [s.to_builtins() for s in specs]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=2))
        return
    for i, spec in enumerate(specs):
        if i:
            print()
        _flow_dag(spec)


def _flow_dag(spec: FlowSpec) -> None:
    print(f"flow {spec.name}: {len(spec.tasks)} tasks")
    if spec.params:
        print(
            "params: "
            + ", ".join(
                f"{n} ({p.type}{'' if p.required else f' = {p.default!r}'})"
                for n, p in spec.params.items()
            )
        )
    for t in spec.tasks:
        after = f" <- {', '.join(t.depends_on)}" if t.depends_on else ""
        extras = []
        if t.trigger_rule != "all_success":
            extras.append(t.trigger_rule.value)
        if t.map_over:
            extras.append(f"mapped over {t.map_over}")
        if t.retry.retries:
            extras.append(f"retries {t.retry.retries}")
        if t.timeout:
            extras.append(f"timeout {t.timeout:g}s")
        tail = f"  [{', '.join(extras)}]" if extras else ""
        print(f"  {t.key} ({t.type}){after}{tail}")


def logs(
    result: RunResult,
    task: str | None,
    attempt: int | None,
    read: Callable[[str, int], str | None],
) -> None:
    """Print the logs of a run's attempts: of every task, of one (`key`; `key.N` or `key[N]`
    for one run of a mapped task), of one attempt. `read(name, n)` is the text of attempt n
    of the task run whose log name is `name` (`key` or `key.N`); None when it has no log."""
    from baton.errors import NotFoundError

    names = {task_run_name(t.key, t.map_index): t for t in result.tasks.values()}
    if task is not None:
        # A mapped task's run is `key.N` in log paths and `key[N]` in summaries: take both.
        wanted = task.replace("[", ".").rstrip("]")
        chosen = [n for n, t in names.items() if wanted in (n, t.key)]
        if not chosen:
            raise NotFoundError(
                f"run {result.id} has no task '{task}'; its tasks: {', '.join(names)}"
            )
    else:
        chosen = list(names)
    printed = False
    for name in chosen:
        source = names[name].cached_from
        if source is not None:
            print(f"=== {name}: cached, no attempt ran (`baton logs {source.run_id}`) ===")
            printed = True
        count = names[name].attempts
        numbers = [attempt] if attempt else list(range(1, count + 1))
        if attempt and attempt > count:
            raise NotFoundError(
                f"task '{name}' of run {result.id} has {count} attempt(s), not {attempt}"
            )
        for n in numbers:
            print(f"=== {name} attempt {n} ===")
            text = read(name, n)
            if text is not None:
                print(text, end="" if text.endswith("\n") else "\n")
            printed = True
    if not printed:
        print("no attempts yet")


def log_reader(
    store: Store, settings: Settings, run_id: str, *, times: bool = False
) -> Callable[[str, int], str | None]:
    """`read` for `logs`: each attempt's log as far as it goes now (its file on this machine,
    or what its worker shipped to the store), None when it has printed nothing; with `times`,
    each line after the time it was written (`stamped`)."""
    from baton.execution import logs as attempt_logs

    tx = store.read()
    names = {r.id: task_run_name(r.task_key, r.map_index) for r in tx.task_runs(run_id)}
    attempts = {(names[a.task_run_id], a.number): a for a in tx.attempts(run_id)}

    def read(name: str, n: int) -> str | None:
        attempt = attempts.get((name, n))
        if attempt is None:
            return None
        pages: list[tuple[str, list[int | None]]] = []
        offset = 0
        while True:
            text, next_offset, complete, stamps = attempt_logs.read_attempt_log(
                store, settings, attempt, name, offset, 1 << 20, times=times
            )
            pages.append((text, stamps or []))
            if complete or next_offset == offset:
                break
            offset = next_offset
        return joined(pages, times=times)

    return read


def joined(pages: Sequence[tuple[str, Sequence[int | None]]], *, times: bool) -> str | None:
    """A log's pages (text, the API's `times`) as one text, `stamped` with `times`; None
    when it is empty (nothing printed)."""
    whole = stamped(pages) if times else "".join(text for text, _ in pages)
    return whole or None


_BREAKS = re.compile(LINE_BREAK)


def stamped(pages: Sequence[tuple[str, Sequence[int | None]]]) -> str:
    """The text of a log's pages, in order, each line after the time it was written (ISO 8601
    UTC, to the ms; `-` where it was not recorded). `pages`: (text, the API's `times`)."""
    text = ""
    stamps: list[int | None] = []
    for page, page_stamps in pages:
        if not page:
            continue
        skip = text and (not text.endswith(("\n", "\r")) or (text[-1] == "\r" and page[0] == "\n"))
        stamps += page_stamps[1:] if skip else page_stamps  # its first line began before it
        text += page
    lines = _BREAKS.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    out = []
    for i, line in enumerate(lines):
        ms = stamps[i] if i < len(stamps) else None
        when = "-".ljust(24) if ms is None else _iso_ms(ms)
        out.append(f"{when} {line}\n")
    return "".join(out)


def _iso_ms(ms: int) -> str:
    from datetime import UTC, datetime  # only `baton logs --timestamps` needs it

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"


def _duration(start: str | None, end: str | None) -> str:
    if not start:
        return ""
    from datetime import datetime  # only the text summary needs it

    s = datetime.fromisoformat(start.replace("Z", "+00:00"))
    e = datetime.fromisoformat(end.replace("Z", "+00:00")) if end else None
    if e is None:
        return "…"
    seconds = (e - s).total_seconds()
    return f"{seconds:.2f}s" if seconds < 60 else f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


def print_table(title: str, header: list[str], rows: list[list[str]], *, state_col: int) -> None:
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for h in header:
            table.add_column(h)
        for r in rows:
            style = STATE_STYLE.get(r[state_col], "")
            cells: list[Any] = list(r)
            cells[state_col] = f"[{style}]{r[state_col]}[/]" if style else r[state_col]
            table.add_row(*cells)
        Console().print(table)
        return
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    print(title)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def deployed(items: Sequence[Any], *, as_json: bool) -> None:
    data = [
        {
            "flow": d.spec.name,
            "version": d.version,
            "changed": d.changed,
            "source": d.spec.source.path if d.spec.source else None,
            "schedule": d.spec.schedule,
            "triggers": list(d.spec.triggers),
        }
        for d in items
    ]
    if as_json:
        print(json.dumps(data, indent=2))
        return
    rows = [
        [
            d["flow"],
            d["version"],
            "new version" if d["changed"] else "unchanged",
            d["source"] or "",
            json.dumps(d["schedule"]) if isinstance(d["schedule"], dict) else d["schedule"] or "",
            str(len(d["triggers"])),
        ]
        for d in data
    ]
    print_table(
        f"{len(data)} flows deployed",
        ["flow", "version", "", "source", "schedule", "triggers"],
        rows,
        state_col=2,
    )


def workers(rows: Sequence[WorkerRow], *, as_json: bool) -> None:
    from baton.execution.views import WorkerView

    now = time.time()
    data = [WorkerView.of(r).to_json() for r in rows]
    if as_json:
        print(json.dumps(data, indent=2))
        return
    table = [
        [
            d["name"],
            d["host"],
            ", ".join(d["queues"]),
            f"{d['running']}/{d['concurrency']}",
            resources.usage(r.used, r.capacity),
            f"{now - r.heartbeat_at:.0f}s ago",
            "stopped" if d["stopped_at"] else "",
            ", ".join(
                f"{t['run_id']}/{t['task_key']}"
                + ("" if t["map_index"] is None else f"[{t['map_index']}]")
                for t in d["tasks"]
            ),
        ]
        for d, r in zip(data, rows, strict=True)
    ]
    print_table(
        f"{len(data)} workers",
        ["worker", "host", "queues", "running", "resources used", "last heartbeat", "", "tasks"],
        table,
        state_col=6,
    )


def cache_entries(entries: Sequence[CacheEntryView], *, as_json: bool) -> None:
    if as_json:
        print(json_text.indented([e.to_json() for e in entries]))
        return
    rows = [
        [
            e.flow,
            e.task,
            (e.created_at or "")[:19].replace("T", " "),
            (e.expires_at or "")[:19].replace("T", " ") or "when its key changes",
            f"run {e.run_id} attempt {e.attempt}",
            e.key[:12],
        ]
        for e in entries
    ]
    header = ["flow", "task", "stored (UTC)", "expires (UTC)", "computed by", "key"]
    print_table(f"{len(rows)} cache entries", header, rows, state_col=0)


def pools(rows: Sequence[Row], *, as_json: bool) -> None:
    data = [
        {
            "name": r["name"],
            "slots": r["slots"],
            "running": r["running"],
            "description": r["description"],
        }
        for r in rows
    ]
    if as_json:
        print(json.dumps(data, indent=2))
        return
    table = [[d["name"], str(d["slots"]), str(d["running"]), d["description"] or ""] for d in data]
    print_table(
        f"{len(data)} pools", ["pool", "slots", "running", "description"], table, state_col=0
    )
