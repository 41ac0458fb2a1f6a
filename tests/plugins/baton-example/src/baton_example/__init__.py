"""Task types for baton's plugin tests: `greet` (and a few that must be refused)."""

from __future__ import annotations

from typing import Any

from baton import Skip, TaskConfig, TaskFailed, TaskType


class GreetConfig(TaskConfig, frozen=True):
    name: str
    times: int = 1
    wait: float = 0.0  # seconds to wait first (a timeout or cancel ends the wait)
    fail: bool = False
    skip: bool = False


class GreetTask:
    """`type: greet`: writes a greeting to the attempt's log and returns it."""

    config = GreetConfig
    icon = "greet"  # the UI draws no such icon: it shows the plugin one

    def execute(self, ctx: Any, cfg: GreetConfig) -> Any:
        log = ctx.log_file()
        log.write(f"greeting {cfg.name} from {ctx.task_key} (run {ctx.run_id})\n".encode())
        if cfg.wait and ctx.wait_interrupt(cfg.wait):
            log.write(b"interrupted while waiting\n")
            raise ctx.interrupted("stopped while greeting")
        if cfg.fail:
            raise TaskFailed(f"could not greet {cfg.name}", retryable=False)
        if cfg.skip:
            raise Skip(f"{cfg.name} is not here")
        return {"greeting": " ".join([f"hello {cfg.name}"] * cfg.times)}


class WarpConfig(TaskConfig, frozen=True):
    factor: int = 1


def _warp(ctx: Any, cfg: WarpConfig) -> Any:
    import baton_no_such_module  # noqa: F401  (never installed: the flow is refused first)


WARP = TaskType(
    "warp", WarpConfig, _warp, icon="plugin", requires=("baton_no_such_module",), extra="warp"
)


def not_a_type() -> None:
    """An entry point that names a function, not a task type."""


print("baton_example imported")  # a chatty plugin: `baton plugins list --json` stays JSON
