"""The `baton` command. Thin: parse, call, print, exit code.

Exit codes: 0 success, 1 the run failed, 2 bad definition or input. Heavy modules are
imported inside commands so `baton --help` starts fast.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def handle_errors(fn: F) -> F:
    """Turn baton's errors into a one-paragraph message and exit code 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from baton.errors import BatonError

        try:
            return fn(*args, **kwargs)
        except BatonError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_BAD_INPUT)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="baton")
def cli() -> None:
    """baton: workflow and data orchestration.

    Define flows in Python (@flow/@task) or YAML, then `baton run FILE`.
    """


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--flow", "flow_name", help="Which flow of the file, when it defines several.")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="A flow param.")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="How many tasks may run at once.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the finished run as JSON.")
@handle_errors
def run(
    path: str, flow_name: str | None, params: tuple[str, ...], concurrency: int, as_json: bool
) -> None:
    """Run a flow to the end in this process, with live progress."""
    from baton.cli import display
    from baton.engine.service import Engine
    from baton.execution import loader, local
    from baton.model.params import parse_cli_params
    from baton.settings import Settings
    from baton.store.store import Store

    given = parse_cli_params(params)
    flow = loader.pick(loader.load_file(path), flow_name, file=path)
    settings = Settings.from_env()
    store = Store(settings.database_url)
    engine = Engine(store)
    run_id = local.start_run(engine, flow, given)
    with display.progress(settings, run_id, enabled=not as_json):
        result = local.execute(engine, settings, run_id, flow, concurrency=concurrency)
    display.finished(result, as_json=as_json)
    sys.exit(0 if result.succeeded else EXIT_FAILED)


@cli.group()
def flows() -> None:
    """Inspect flow definitions."""


@flows.command("show")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--flow", "flow_name", help="Which flow of the file, when it defines several.")
@click.option("--json", "as_json", is_flag=True, help="Print the FlowSpec as JSON.")
@handle_errors
def flows_show(path: str, flow_name: str | None, as_json: bool) -> None:
    """Print the DAG of each flow in a file: its tasks, their types and upstream tasks."""
    from baton.cli import display
    from baton.execution import loader

    found = loader.load_file(path)
    chosen = [loader.pick(found, flow_name, file=path)] if flow_name else found
    display.flow_dags([f.spec for f in chosen], as_json=as_json)


@cli.group()
def runs() -> None:
    """List, inspect, cancel, repair and resume runs."""


@runs.command("list")
@click.option("--flow", "flow_name", help="Only runs of this flow.")
@click.option(
    "--state",
    type=click.Choice(
        ["scheduled", "queued", "running", "succeeded", "failed", "cancelling", "cancelled"]
    ),
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def runs_list(flow_name: str | None, state: str | None, limit: int, as_json: bool) -> None:
    """The latest runs, newest first."""
    from baton.cli import display

    with _store() as store:
        rows = store.read().runs(flow=flow_name, state=state, limit=limit)
        display.run_list(rows, as_json=as_json)


@runs.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def runs_show(run_id: str, as_json: bool) -> None:
    """A run and each of its task runs. RUN may be any unique prefix of its id."""
    from baton.cli import display
    from baton.execution import local

    with _store() as store:
        result = local.load_result(store, store.read().resolve_run_id(run_id))
        display.finished(result, as_json=as_json)


@runs.command("cancel")
@click.argument("run_id")
@handle_errors
def runs_cancel(run_id: str) -> None:
    """Cancel a run: running tasks are stopped, the rest end cancelled."""
    from baton.engine.service import Engine
    from baton.errors import InputError

    with _store() as store:
        rid = store.read().resolve_run_id(run_id)
        engine = Engine(store)
        if not engine.cancel(rid):
            raise InputError(f"run {rid} already ended {store.read().run(rid)['state']}")
        # Attempts whose process is gone cannot be stopped by it: end them here.
        from baton.execution.worker import lost_attempts

        engine.fail_lost(lost_attempts(store, [rid], None), "cancelled; its worker was gone")
        click.echo(f"run {rid} is {store.read().run(rid)['state']}")


@runs.command("repair")
@click.argument("run_id")
@click.option("--concurrency", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def runs_repair(run_id: str, concurrency: int, as_json: bool) -> None:
    """Re-run only what failed in a finished run (and what depends on it), as a new run."""
    from baton.cli import display
    from baton.engine.service import Engine
    from baton.execution import local
    from baton.settings import Settings

    settings = Settings.from_env()
    with _store() as store:
        engine = Engine(store)
        new_id = engine.repair(store.read().resolve_run_id(run_id))
        if not as_json:
            click.echo(f"repair run {new_id}")
        with display.progress(settings, new_id, enabled=not as_json):
            result = local.execute(engine, settings, new_id, concurrency=concurrency)
    display.finished(result, as_json=as_json)
    sys.exit(0 if result.succeeded else EXIT_FAILED)


@runs.command("resume")
@click.argument("run_id")
@click.option("--concurrency", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def runs_resume(run_id: str, concurrency: int, as_json: bool) -> None:
    """Continue a run whose process died; nothing that finished runs again."""
    from baton.cli import display
    from baton.engine.service import Engine
    from baton.execution import local
    from baton.settings import Settings

    settings = Settings.from_env()
    with _store() as store:
        engine = Engine(store)
        rid = store.read().resolve_run_id(run_id)
        with display.progress(settings, rid, enabled=not as_json):
            result = local.resume(engine, settings, rid, concurrency=concurrency)
    display.finished(result, as_json=as_json)
    sys.exit(0 if result.succeeded else EXIT_FAILED)


@cli.command()
@click.argument("run_id")
@click.argument("task", required=False)
@click.option("--attempt", type=click.IntRange(min=1), help="Which attempt (default: all).")
@handle_errors
def logs(run_id: str, task: str | None, attempt: int | None) -> None:
    """Print the logs of a run's attempts (TASK: a task key, `key.N` for a mapped one)."""
    from baton.cli import display
    from baton.settings import Settings

    with _store() as store:
        display.logs(store, Settings.from_env(), store.read().resolve_run_id(run_id), task, attempt)


def _store() -> Any:
    from contextlib import closing

    from baton.settings import Settings
    from baton.store.store import Store

    return closing(Store(Settings.from_env().database_url))


def main() -> None:
    cli(prog_name="baton")
