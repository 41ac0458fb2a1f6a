"""Running a child process for a task: its own process group, output to the attempt's log,
and a timeout or cancel kills the whole group so no orphan survives."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence

from baton.errors import TaskInterrupt
from baton.model.context import TaskContext

KILL_GRACE = 3.0  # seconds between SIGTERM and SIGKILL


def run(
    ctx: TaskContext,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> int:
    """Run `argv` to its end, output to the log; returns its exit code or raises the
    interrupt (TaskTimeout, TaskCancelled) it was stopped by."""
    code, _ = _run(ctx, argv, env, cwd, capture=False)
    return code


def run_capturing(
    ctx: TaskContext,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> tuple[int, str | None]:
    """Like `run`, and also returns the last non-empty line the process printed."""
    return _run(ctx, argv, env, cwd, capture=True)


def _run(
    ctx: TaskContext,
    argv: Sequence[str],
    env: Mapping[str, str] | None,
    cwd: str | None,
    *,
    capture: bool,
) -> tuple[int, str | None]:
    log = ctx.log_file()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else log,
        stderr=log,
        cwd=cwd,
        env={**os.environ, **ctx.env(), **(env or {})},
        start_new_session=True,  # its own process group, which we can kill as a whole
    )
    # If this worker dies, whoever finds the attempt lost kills the group (see group_file).
    with open(group_file(ctx.work_dir, ctx.attempt_id), "a") as f:
        f.write(f"{proc.pid}\n")
    last: list[bytes] = []
    reader = None
    if capture:
        reader = threading.Thread(target=_copy, args=(proc, log, last), daemon=True)
        reader.start()
    killer = threading.Timer(KILL_GRACE, _signal_group, (proc.pid, signal.SIGKILL))

    def stop(_: type[TaskInterrupt]) -> None:
        _signal_group(proc.pid, signal.SIGTERM)
        killer.start()

    unregister = ctx.on_interrupt(stop)
    ctx.children += 1
    try:
        code = proc.wait()
    finally:
        ctx.children -= 1
        unregister()
        killer.cancel()
        # Whatever the command left running in its group goes with it.
        _signal_group(proc.pid, signal.SIGKILL)
        # Reaped, even when the interrupt cut the wait above short.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=KILL_GRACE)
        with contextlib.suppress(FileNotFoundError):
            os.remove(group_file(ctx.work_dir, ctx.attempt_id))
    if reader is not None:
        reader.join(timeout=KILL_GRACE)
    if ctx.interrupted is not None:
        raise ctx.interrupted(f"stopped: {ctx.interrupted.__name__}")
    return code, last[0].decode(errors="replace").strip() if last else None


def _copy(proc: subprocess.Popen[bytes], log: object, last: list[bytes]) -> None:
    assert proc.stdout is not None
    write = log.write  # type: ignore[attr-defined]
    with proc.stdout:  # closed once read to its end, not left to the garbage collector
        for line in proc.stdout:
            write(line)
            if line.strip():
                last[:] = [line]


def group_file(work_dir: str, attempt_id: str) -> str:
    """Where an attempt's child process groups are listed while they run."""
    folder = os.path.join(work_dir, "groups")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, attempt_id)


def kill_groups(work_dir: str, attempt_id: str) -> None:
    """Kill the process groups a lost attempt left behind (its worker died with them)."""
    path = os.path.join(work_dir, "groups", attempt_id)
    try:
        with open(path) as f:
            pgids = [int(line) for line in f if line.strip()]
    except FileNotFoundError:
        return
    for pgid in pgids:
        _signal_group(pgid, signal.SIGKILL)
    os.remove(path)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
