"""`shell` tasks: `sh -c COMMAND` in the working directory, in its own process group.

The command is a Jinja2 template with `params`, `upstream`, `item`, `run_id`, `task_key`
and `attempt`. Exit code `skip_exit_code` (99, Airflow's convention) ends the task skipped;
any other non-zero code fails it. The last line the command prints is the task's result.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from baton.errors import Skip
from baton.model import decorators
from baton.model.context import NO_ITEM, TaskContext
from baton.tasks import process
from baton.tasks.base import TaskConfig, TaskFailed, TaskType


class ShellConfig(TaskConfig, frozen=True):
    command: Annotated[str, msgspec.Meta(min_length=1)]
    env: dict[str, str] = {}
    cwd: str | None = None
    skip_exit_code: int | None = 99


def render(command: str, ctx: TaskContext) -> str:
    if "{{" not in command and "{%" not in command:
        return command
    import jinja2  # only commands that are templates pay for Jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        return env.from_string(command).render(
            params=ctx.params,
            upstream=ctx.upstream,
            item=None if ctx.item is NO_ITEM else ctx.item,
            run_id=ctx.run_id,
            task_key=ctx.task_key,
            attempt=ctx.attempt,
        )
    except jinja2.TemplateError as exc:
        raise TaskFailed(f"cannot render the command: {exc}") from None


def execute(ctx: TaskContext, cfg: ShellConfig) -> Any:
    command = render(cfg.command, ctx)
    env = dict(cfg.env)
    if ctx.item is not NO_ITEM:
        env["BATON_MAP_ITEM"] = str(ctx.item)
    code, last_line = process.run_capturing(ctx, ["sh", "-c", command], env=env, cwd=cfg.cwd)
    if cfg.skip_exit_code is not None and code == cfg.skip_exit_code:
        raise Skip(f"the command exited with code {code}")
    if code != 0:
        raise TaskFailed(f"the command exited with code {code}")
    return last_line


def shell_task(
    command: str,
    *,
    key: str,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    skip_exit_code: int | None = 99,
    wait_for: Any = (),
    **options: Any,
) -> Any:
    """A shell task inside a `@flow`: `shell_task("wc -l data.csv", key="count")`.

    `command` is a Jinja2 template (`params`, `upstream`, `item`...); `wait_for` takes the
    results of tasks to run after; other options as for `@task` (retries, timeout, ...).
    """
    config = {"command": command, "env": env, "cwd": cwd, "skip_exit_code": skip_exit_code}
    return decorators.typed_task(
        "shell", key, config, wait_for=wait_for, keep_none=("skip_exit_code",), **options
    )


TYPE = TaskType("shell", ShellConfig, execute)
