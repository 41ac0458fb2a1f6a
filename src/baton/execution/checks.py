"""Asset quality checks: run by the attempt that wrote the asset, or on demand (`baton
assets check NAME`). A check is a `model.assets.CheckSpec`:

- `sql`: the dbt-test convention: the query returns the failing rows, none is a pass. It
  runs against `url`, or named connection `conn` (`$BATON_CONN_<CONN>` where the check runs,
  read as the sql task reads it), in a transaction rolled back at the end. At most MAX_ROWS
  failing rows are kept, their values made JSON-friendly as a sql task's results are.
- `python: module:function`: imported as python tasks' functions are (the flow's folder on
  the import path), called with three keyword arguments:

  - `asset` (str): the asset's name;
  - `metadata` (dict): the metadata of the materialization checked, as its task reported
    it (`baton.record_asset`, `$BATON_ASSETS_FILE`; secrets masked); `{}` when none;
  - `partition` (str or None): its partition key; None for an asset without partitions.

  It returns True or False, or `baton.CheckResult(passed, metadata)` (metadata: JSON
  values recorded with the result). An async function is awaited.

A check that cannot say (a connection or query error, an exception, a return value of
another kind) failed, its `error` saying why in one line. `${secret:NAME}` references in
`sql` and `url` are resolved; every secret value is masked in the result's metadata, its
failing rows and its error.

In an attempt, checks run after the task succeeded and its reports were read, one log
line each; a failed `error` check fails the attempt (`runner`), a `warn` one is only
recorded and notified. A task writing no asset with checks does none of this.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import msgspec

from baton.engine import assets as engine_assets
from baton.engine import planner
from baton.engine.planner import CheckRun
from baton.errors import BatonError, InputError, NotFoundError
from baton.execution import loader
from baton.execution.asset_records import MAX_METADATA
from baton.execution.secrets import Secrets
from baton.model import urls
from baton.model.assets import AssetSpec, CheckResult, CheckSpec
from baton.model.spec import FlowSpec, TaskSpec
from baton.store.assets import OUTPUT
from baton.store.records import CheckResultRow
from baton.store.store import Store, Tx

MAX_ROWS = 20  # failing rows kept of a sql check
MAX_VALUE = 1000  # characters kept of a failing row's text value
MAX_ROWS_JSON = 256 * 1024  # bytes of the failing rows kept, as JSON
MAX_ERROR = 500  # characters kept of a check's error

Interrupts = Callable[[Callable[[Any], object]], Callable[[], None]]  # TaskContext.on_interrupt


class CheckFailedToRun(Exception):
    """Why a check could not say whether the asset passed (its `error`)."""


class Target(NamedTuple):
    """What a check looks at: an asset as one materialization left it."""

    asset: str
    metadata: Mapping[str, Any]
    partition: str | None = None


def of_task(spec: FlowSpec, task: TaskSpec) -> tuple[AssetSpec, ...]:
    """The assets `task` writes that `spec` declares with checks, in `outputs` order: what
    its attempts check once they succeed. Cheap when there are none (most tasks)."""
    if not task.outputs or not spec.assets:
        return ()
    checked = {a.name: a for a in spec.assets if a.checks}
    return tuple(checked[name] for name in dict.fromkeys(task.outputs) if name in checked)


def run_all(
    targets: Iterable[tuple[Sequence[CheckSpec], Target]],
    *,
    secrets: Secrets,
    load_function: Callable[[str], Callable[..., Any]],
    on_interrupt: Interrupts | None = None,
    log: Callable[[str], object] | None = print,
    trace: bool = True,
) -> tuple[CheckRun, ...]:
    """Run each target's checks in order; `log` gets one line per check (see `run_check`
    for `trace`)."""
    ran = []
    for specs, target in targets:
        for check in specs:
            r = run_check(
                check,
                target,
                secrets=secrets,
                load_function=load_function,
                on_interrupt=on_interrupt,
                trace=trace,
            )
            if log is not None:
                log(line(r))
            ran.append(r)
    return tuple(ran)


def run_check(
    check: CheckSpec,
    target: Target,
    *,
    secrets: Secrets,
    load_function: Callable[[str], Callable[..., Any]],
    on_interrupt: Interrupts | None = None,
    trace: bool = True,
) -> CheckRun:
    """Run one check of `target`: its result, secrets masked. Only an interrupt of the
    attempt (a timeout, a cancel: BaseException) gets out of it. `trace`: print the
    traceback of a check that raised (to the attempt's log, which masks it)."""
    started = time.monotonic()
    metadata: Mapping[str, Any] | None = None
    rows: tuple[Any, ...] | None = None
    error = None
    try:
        if check.sql is not None:
            passed, rows, metadata = _sql(check, secrets, on_interrupt)
        else:
            passed, metadata = _python(check, target, load_function)
    except CheckFailedToRun as exc:
        passed, error = False, str(exc)
    except BatonError as exc:  # an unknown secret, a function that cannot be imported
        passed, error = False, str(exc)
    except Exception as exc:
        if trace:  # the attempt's log (masked) says where; on demand, the error says enough
            print(traceback.format_exc(), end="")
        passed, error = False, f"{type(exc).__name__}: {exc}"
    duration = time.monotonic() - started
    return CheckRun(
        asset=target.asset,
        name=check.name,
        severity=check.severity,
        passed=passed,
        at=time.time(),
        duration=round(duration, 6),
        metadata=None if metadata is None else secrets.mask_json(dict(metadata)),
        failing_rows=None if rows is None else tuple(secrets.mask_json(list(rows))),
        error=None if error is None else _one_line(secrets.mask(error)),
    )


def line(r: CheckRun) -> str:
    """The log line of a check's result."""
    head = f"check {r.name} of asset {r.asset}"
    if r.passed:
        return f"{head}: passed in {r.duration:.3f}s"
    why = f": {r.error}" if r.error else ""
    if r.failing_rows:
        more = "+" if r.metadata and r.metadata.get("more_failing_rows") else ""
        why = f": {len(r.failing_rows)}{more} failing row(s)"
    return f"{head}: failed ({r.severity}) in {r.duration:.3f}s{why}"


def blocking_error(ran: Sequence[CheckRun]) -> str | None:
    """The error of an attempt whose `error` checks failed, naming assets and checks; None
    when none failed."""
    failed: dict[str, list[str]] = {}
    for r in ran:
        if r.blocking:
            if r.error:
                why = f" ({_one_line(r.error, 200)})"
            elif r.failing_rows:
                why = f" ({len(r.failing_rows)} failing row(s))"
            else:
                why = ""
            failed.setdefault(r.asset, []).append(f"'{r.name}'{why}")
    if not failed:
        return None
    said = "; ".join(f"asset '{a}' failed check {', '.join(c)}" for a, c in failed.items())
    return (
        f"{said}: the materialization is not recorded; fix the data or the check, then "
        "repair the run"
    )


# -- sql -----------------------------------------------------------------------------------


def _sql(
    check: CheckSpec, secrets: Secrets, on_interrupt: Interrupts | None
) -> tuple[bool, tuple[Any, ...], dict[str, Any] | None]:
    # SQLAlchemy costs ~150 ms to import: only processes running a sql check pay for it.
    import sqlalchemy as sa
    from sqlalchemy import exc
    from sqlalchemy.pool import NullPool

    from baton.tasks import sql
    from baton.tasks.base import TaskFailed

    try:
        url = sql.connection_url(secrets.resolve(check.url), check.conn)
    except TaskFailed as error:
        raise CheckFailedToRun(str(error)) from None
    raw = url.render_as_string(hide_password=False)
    try:
        engine = sa.create_engine(url, poolclass=NullPool)
    except (exc.ArgumentError, ImportError) as error:  # a bad URL, a driver not installed
        text = urls.redact(str(error), raw)
        raise CheckFailedToRun(f"cannot use the url {sql.shown(url)}: {text}") from None
    try:
        try:
            conn = engine.connect()
        except exc.DBAPIError as error:
            text = urls.redact(sql.detail(error), raw)
            raise CheckFailedToRun(f"cannot connect to {sql.shown(url)}: {text}") from None
        canceller = sql.Canceller(conn.connection.dbapi_connection)
        unhook = on_interrupt(canceller.start) if on_interrupt is not None else None
        interrupted = True  # until it ends otherwise: a timeout or cancel is a BaseException
        try:
            try:
                cursor = conn.execute(sa.text(secrets.resolve(check.sql)))
                if not cursor.returns_rows:
                    raise CheckFailedToRun(
                        "its query returns no rows: a sql check SELECTs the rows that fail"
                    )
                columns = list(cursor.keys())
                found = cursor.fetchmany(MAX_ROWS + 1)
                cursor.close()
            except exc.SQLAlchemyError as error:
                text = urls.redact(sql.detail(error), raw)
                raise CheckFailedToRun(f"its query failed: {text}") from None
        except Exception:
            interrupted = False
            raise
        else:
            interrupted = False
        finally:
            if unhook is not None:
                unhook()
            canceller.stop()
            with contextlib.suppress(Exception):
                if interrupted:  # maybe mid-query: drop it rather than roll back over it
                    conn.invalidate()
                else:
                    conn.rollback()  # a check reads: whatever its SQL changed is undone
            conn.close()
    finally:
        engine.dispose()
    rows = [
        {c: _kept(sql.jsonable(v)) for c, v in zip(columns, row, strict=True)}
        for row in found[:MAX_ROWS]
    ]
    while rows and len(json.dumps(rows)) > MAX_ROWS_JSON:  # wide rows: keep fewer
        rows.pop()
    more = len(rows) < len(found)
    return not found, tuple(rows), {"more_failing_rows": True} if more else None


def _kept(value: Any) -> Any:
    """A failing row's value as kept: long text cut, NaN and infinities as text (JSON)."""
    if isinstance(value, str) and len(value) > MAX_VALUE:
        return value[: MAX_VALUE - 1] + "…"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _kept(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_kept(v) for v in value]
    return value


# -- python --------------------------------------------------------------------------------


def _python(
    check: CheckSpec, target: Target, load_function: Callable[[str], Callable[..., Any]]
) -> tuple[bool, dict[str, Any] | None]:
    assert check.python is not None
    fn = load_function(check.python)
    # A copy: what the function does to it is not what is recorded of the materialization.
    metadata = json.loads(json.dumps(dict(target.metadata)))
    value = fn(asset=target.asset, metadata=metadata, partition=target.partition)
    if inspect.iscoroutine(value):
        import asyncio  # with ssl, ~25 ms: only an async check pays for it

        value = asyncio.run(value)
    if isinstance(value, bool):
        return value, None
    if isinstance(value, CheckResult):
        try:
            encoded = json.dumps(dict(value.metadata), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise CheckFailedToRun(f"its CheckResult metadata is not JSON ({exc})") from None
        if len(encoded) > MAX_METADATA:
            raise CheckFailedToRun(
                f"its CheckResult metadata is over {MAX_METADATA // 1024} KiB as JSON: keep "
                "it a summary"
            )
        return value.passed, json.loads(encoded)
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    raise CheckFailedToRun(
        f"{check.python} returned {type(value).__name__} {shown}: return True, False or "
        "baton.CheckResult(passed, metadata)"
    )


def _one_line(text: str, limit: int = MAX_ERROR) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# -- on demand -----------------------------------------------------------------------------


def check_on_demand(
    store: Store,
    name: str,
    now: float,
    *,
    secrets: Secrets,
    project_dir: str | None = None,
    log: Callable[[str], object] | None = None,
) -> list[CheckResultRow]:
    """Run the checks of catalogued asset `name` on its last materialization (its metadata
    and partition; `{}` and None if it has none), and record their results (no run) with
    the `check_failed` notifications of those that failed, in one transaction after
    running them. Python checks are imported from the folder of the flow declaring the
    asset (found under `project_dir`, as workers find deployed flows).

    Raises:
        NotFoundError: the catalog has no asset `name`.
        InputError: it has no checks.
    """
    read = store.read()
    row = read.asset(name)
    if row is None:
        raise NotFoundError(
            f"unknown asset '{name}': the catalog lists the assets of deployed flows "
            "(`baton assets list`)"
        )
    specs = msgspec.json.decode(row.checks, type=tuple[CheckSpec, ...])
    if not specs:
        where = f"flow '{row.declared_by}'" if row.declared_by else "the flow that declares it"
        raise InputError(
            f"asset '{name}' has no checks: declare them under its `checks:` in {where}, "
            "then deploy it"
        )
    flows = _flows(read, row.declared_by, name)
    declaring = flows[0] if flows and flows[0].name == row.declared_by else None
    source = None if declaring is None else loader.source_path(declaring, project_dir)
    if source is not None and any(c.python for c in specs) and not os.path.exists(source):
        # Run anyway, each python check would fail (and be told as failed) for want of it.
        assert declaring is not None and declaring.source is not None
        raise InputError(
            f"asset '{name}' has python checks in flow '{declaring.name}', deployed from "
            f"{declaring.source.path}, which is not under {project_dir or os.getcwd()}: pass "
            "--path, the folder `baton deploy` was given (or the folder of the file it was given)"
        )
    load = (
        loader.for_run(declaring, project_dir).load_function
        if declaring is not None
        else loader.import_function
    )
    last = read.last_materializations([name]).get(name)
    target = Target(
        name,
        json.loads(last.metadata) if last is not None and last.metadata else {},
        last.partition if last is not None else None,
    )
    # No traceback: printed here it would reach the terminal unmasked.
    ran = run_all([(specs, target)], secrets=secrets, load_function=load, log=log, trace=False)
    records = [planner.check_record(r, None, last.id if last else None) for r in ran]
    with store.transaction() as tx:
        return engine_assets.record_checks(tx, records, flows, now)


def _flows(read: Tx, declared_by: str | None, asset: str) -> list[FlowSpec]:
    """The deployed flows whose notification entries an asset's events tell: the one
    declaring it first, then those whose tasks write it."""
    names = [] if declared_by is None else [declared_by]
    names += [li.flow_name for li in read.asset_links([asset], OUTPUT)]
    specs = []
    for flow in dict.fromkeys(names):
        version = read.flow_version(flow)
        if version is not None:
            specs.append(read.load_version(version))
    return specs
