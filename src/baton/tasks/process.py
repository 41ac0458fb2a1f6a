"""Running a child process for a task: its own process group, output to the attempt's log,
and a timeout or cancel kills the whole group so no orphan survives."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence

from baton.errors import TaskInterrupt
from baton.model.context import TaskContext
from baton.tasks import docker_engine

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
    code, _ = _run(ctx, argv, env, cwd)
    return code


def run_capturing(
    ctx: TaskContext,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> tuple[int, str | None]:
    """Like `run`, and also returns the last non-empty line the process printed."""
    code, last = _run(ctx, argv, env, cwd, capture=1)
    return code, last[0].strip() if last else None


def run_tail(
    ctx: TaskContext,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    lines: int,
) -> tuple[int, list[str]]:
    """Like `run`, and also returns the last `lines` non-empty lines the process printed,
    to stdout and stderr alike (in the order written), for a failure's message."""
    return _run(ctx, argv, env, cwd, capture=lines, merge=True)


def _run(
    ctx: TaskContext,
    argv: Sequence[str],
    env: Mapping[str, str] | None,
    cwd: str | None,
    *,
    capture: int = 0,
    merge: bool = False,
) -> tuple[int, list[str]]:
    """`capture`: how many of the last non-empty lines of its stdout (`merge`: and stderr)
    to return; 0 lets the process write to the log itself."""
    log = ctx.log_file()
    ctx.spawning()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else log,
        stderr=subprocess.STDOUT if capture and merge else log,
        cwd=cwd,
        env={**os.environ, **ctx.env(), **(env or {})},
        start_new_session=True,  # its own process group, which we can kill as a whole
    )
    # If this worker dies, its watchdog, or whoever finds the attempt lost, kills the group
    # (see group_file): a group it cannot list (a full disk) does not run.
    try:
        with open(group_file(ctx.work_dir, ctx.attempt_id), "a") as f:
            f.write(f"{proc.pid}\n")
    except OSError:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    last: collections.deque[bytes] = collections.deque(maxlen=max(capture, 1))
    failed: list[Exception] = []  # the log could not be written (a full disk)
    reader = None
    if capture:
        reader = threading.Thread(target=_copy, args=(proc, log, last, failed), daemon=True)
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
    if failed:
        raise failed[0]
    return code, [line.decode(errors="replace").rstrip() for line in last]


def _copy(
    proc: subprocess.Popen[bytes],
    log: object,
    last: collections.deque[bytes],
    failed: list[Exception],
) -> None:
    """Copy the process's stdout to the log as it comes, a read at a time (not a line at a
    time: a chatty process would cost a write per line), keeping its last non-empty lines."""
    assert proc.stdout is not None
    write = log.write  # type: ignore[attr-defined]
    fd = proc.stdout.fileno()
    pending = b""  # the line the last read ended inside
    with proc.stdout:  # closed once read to its end, not left to the garbage collector
        while chunk := os.read(fd, 65536):
            if failed:
                continue  # read to the end, so that nothing blocks on a full pipe
            try:
                write(chunk)
            except (OSError, ValueError) as exc:  # ValueError: closed, the attempt is over
                # The log cannot hold its output (a full disk): the attempt fails, and
                # whatever the process does from here on would be lost, so it stops now.
                failed.append(exc)
                _signal_group(proc.pid, signal.SIGKILL)
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            _keep_last(last, lines)
    _keep_last(last, [pending])


def _keep_last(last: collections.deque[bytes], lines: list[bytes]) -> None:
    """Add the last non-empty ones of `lines` to `last` (as many as it keeps)."""
    picked: list[bytes] = []
    for line in reversed(lines):
        if line.strip():
            picked.append(line)
            if len(picked) == last.maxlen:
                break
    last.extend(reversed(picked))


def group_file(work_dir: str, attempt_id: str) -> str:
    """Where an attempt's child process groups are listed while they run."""
    folder = os.path.join(work_dir, "groups")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, attempt_id)


def kill_groups(work_dir: str, attempt_id: str) -> None:
    """Kill the process groups, and remove the containers, a lost attempt left behind (its
    worker died with them, or is fenced)."""
    _kill_listed_groups(work_dir, attempt_id)
    docker_engine.remove_recorded(work_dir, attempt_id)


def _kill_listed_groups(work_dir: str, attempt_id: str) -> None:
    path = os.path.join(work_dir, "groups", attempt_id)
    try:
        with open(path) as f:
            pgids = [int(line) for line in f if line.strip()]
    except FileNotFoundError:
        return
    for pgid in pgids:
        _signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(FileNotFoundError):  # its task ended meanwhile
        os.remove(path)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
