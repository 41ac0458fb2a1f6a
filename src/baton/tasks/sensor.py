"""`sensor` tasks: wait until a condition holds, re-checked every `poke_interval` in state
`waiting` (no worker slot held between checks), failing after the task's `timeout`.

Conditions (exactly one): `file` (a path or glob from the flow's folder exists), `http` (a URL
answers one of `status`), `sql` (a query returns a row, on `url` or connection `conn`),
`python` (a `module:function` predicate returns something truthy).
"""

from __future__ import annotations

import glob
import os
import time
from typing import Annotated, Any

import msgspec

from baton.errors import TaskTimeout
from baton.model import decorators
from baton.model.context import TaskContext
from baton.tasks import python
from baton.tasks.base import Defer, TaskConfig, TaskType

CONDITIONS = ("file", "http", "sql", "python")


class SensorConfig(TaskConfig, frozen=True):
    file: str | None = None
    http: str | None = None
    status: tuple[int, ...] = (200,)
    sql: str | None = None
    url: str | None = None
    conn: str | None = None
    python: str | None = None
    poke_interval: Annotated[float, msgspec.Meta(gt=0)] = 30.0

    def __post_init__(self) -> None:
        given = [c for c in CONDITIONS if getattr(self, c) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a sensor needs exactly one of {', '.join(CONDITIONS)}"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.sql is not None and (self.url is None) == (self.conn is None):
            raise ValueError("a sql sensor needs exactly one of url, conn")


def execute(ctx: TaskContext, cfg: SensorConfig) -> Any:
    now = time.time()
    since = ctx.resume_state["since"] if ctx.resume_state else now
    pokes = ctx.resume_state["pokes"] + 1 if ctx.resume_state else 1
    found = _check(ctx, cfg)
    if found:
        print(f"condition met after {pokes} check(s): {found!r}"[:500])
        return found
    if ctx.timeout is not None and now - since >= ctx.timeout:
        raise TaskTimeout(f"condition not met within {ctx.timeout:g}s ({pokes} checks)")
    wake_at = now + cfg.poke_interval
    if ctx.timeout is not None:
        wake_at = min(wake_at, since + ctx.timeout)
    print(f"check {pokes}: not yet; next in {wake_at - now:.1f}s")
    raise Defer(wake_at=wake_at, state={"since": since, "pokes": pokes})


def _check(ctx: TaskContext, cfg: SensorConfig) -> Any:
    if cfg.file is not None:
        return sorted(glob.glob(os.path.join(ctx.flow_dir, cfg.file)))
    if cfg.http is not None:
        import httpx  # only http sensors pay for importing it

        try:
            status = httpx.get(cfg.http, timeout=10).status_code
        except httpx.HTTPError as exc:
            print(f"{cfg.http}: {type(exc).__name__}: {exc}")
            return None
        return status if status in cfg.status else None
    if cfg.sql is not None:
        from baton.tasks import sql  # only sql sensors pay for importing SQLAlchemy

        rows = sql.execute(ctx, sql.SqlConfig(sql=cfg.sql, url=cfg.url, conn=cfg.conn, max_rows=1))
        return rows[0] if isinstance(rows, list) and rows else None
    assert cfg.python is not None
    fn = ctx.load_function(cfg.python)
    args, kwargs = python.bind(fn, python.PythonConfig(function=cfg.python), ctx)
    return fn(*args, **kwargs)


def sensor_task(
    *,
    key: str,
    file: str | None = None,
    http: str | None = None,
    status: list[int] | None = None,
    sql: str | None = None,
    url: str | None = None,
    conn: str | None = None,
    python: str | None = None,
    poke_interval: float = 30.0,
    wait_for: Any = (),
    **options: Any,
) -> Any:
    """A sensor inside a `@flow`: `sensor_task(key="data", file="in/*.csv", timeout=3600)`."""
    config = {
        "file": file,
        "http": http,
        "status": status,
        "sql": sql,
        "url": url,
        "conn": conn,
        "python": python,
        "poke_interval": poke_interval,
    }
    return decorators.typed_task("sensor", key, config, wait_for=wait_for, **options)


def _python_check(config: dict[str, Any]) -> bool:
    return config.get("python") is not None


TYPE = TaskType("sensor", SensorConfig, execute, icon="sensor", user_code=_python_check)
