"""`baton logs RUN [TASK] [--attempt N]`: each attempt's stdout, stderr and logging."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path


def test_logs_capture_print_stderr_and_logging(baton, write):
    path = write(
        "talk.py",
        """
        import logging, sys
        from baton import flow, task

        log = logging.getLogger(__name__)

        @task
        def talker() -> int:
            print("printed to stdout")
            print("printed to stderr", file=sys.stderr)
            log.info("logged at info")
            log.warning("logged at warning")
            return 1

        @task(isolation="process")
        def isolated_talker(x) -> int:
            print("isolated stdout")
            print("isolated stderr", file=sys.stderr)
            log.info("isolated info")
            return x

        @flow
        def talk():
            isolated_talker(talker())
        """,
    )
    run = baton.run(path)
    assert run["state"] == "succeeded"
    out = baton("logs", run["id"], "talker").stdout
    for text in ("printed to stdout", "printed to stderr", "logged at info", "logged at warning"):
        assert text in out, f"{text!r} not in:\n{out}"
    assert "isolated" not in out
    iso = baton("logs", run["id"], "isolated_talker").stdout
    for text in ("isolated stdout", "isolated stderr", "isolated info"):
        assert text in iso, f"{text!r} not in:\n{iso}"
    assert "printed to stdout" not in iso
    # Without TASK: every task's log.
    everything = baton("logs", run["id"]).stdout
    assert "printed to stdout" in everything and "isolated stdout" in everything


def test_logs_of_parallel_thread_tasks_are_not_mixed(baton, write):
    path = write(
        "parallel.py",
        """
        import logging, sys, threading
        from baton import flow, task

        # Both tasks must run at the same time: they meet at this barrier several times.
        barrier = threading.Barrier(2, timeout=10)
        log = logging.getLogger(__name__)

        def chatter(name: str) -> int:
            for i in range(300):
                if i % 30 == 0:
                    barrier.wait()
                print(f"{name} out {i}")
                if i % 3 == 0:
                    print(f"{name} err {i}", file=sys.stderr)
                if i % 5 == 0:
                    log.info(f"{name} log {i}")
            return 0

        @task
        def alpha() -> int:
            return chatter("alpha")

        @task
        def bravo() -> int:
            return chatter("bravo")

        @flow
        def parallel():
            alpha()
            bravo()
        """,
    )
    run = baton.run(path, "--concurrency", "2")
    assert run["state"] == "succeeded", run
    for name, other in (("alpha", "bravo"), ("bravo", "alpha")):
        out = baton("logs", run["id"], name).stdout
        assert other not in out, f"{other}'s lines in {name}'s log"
        mine = [line for line in out.splitlines() if name in line]
        for i in range(300):
            assert f"{name} out {i}" in mine, f"{name} out {i} missing"
        assert sum(f"{name} err " in line for line in mine) == 100
        assert sum(f"{name} log " in line for line in mine) == 60


def test_logs_per_attempt(baton, write, h, workdir: Path):
    path = write(
        "retrying.py",
        """
        import os
        from baton import flow, task

        @task(retries=1, retry_delay=0)
        def once_broken() -> int:
            if not os.path.exists("marker"):
                open("marker", "w").close()
                print("first attempt message")
                raise RuntimeError("first attempt fails")
            print("second attempt message")
            return 2

        @flow
        def retrying():
            once_broken()
        """,
    )
    run = baton.run(path)
    assert h.tasks(run)["once_broken"]["attempts"] == 2
    rid = run["id"]
    first = baton("logs", rid, "once_broken", "--attempt", "1").stdout
    assert "first attempt message" in first
    assert "second attempt message" not in first
    second = baton("logs", rid, "once_broken", "--attempt", "2").stdout
    assert "second attempt message" in second
    assert "first attempt message" not in second
    both = baton("logs", rid, "once_broken").stdout
    assert both.index("first attempt message") < both.index("second attempt message")
    # There is no third attempt.
    proc = baton("logs", rid, "once_broken", "--attempt", "3", check=2)
    assert "Traceback" not in proc.stderr
    assert "3" in proc.stderr


def test_failed_attempt_log_has_the_error(baton, write):
    path = write(
        "failing.py",
        """
        from baton import flow, task

        @task
        def failing() -> None:
            print("about to fail")
            raise ValueError("the reason it failed")

        @flow
        def failing_flow():
            failing()
        """,
    )
    run = baton.run(path, check=1)
    out = baton("logs", run["id"], "failing").stdout
    assert "about to fail" in out
    assert "the reason it failed" in out


def test_shell_task_logs(baton, write):
    path = write(
        "shell_logs.yaml",
        """
        name: shell_logs
        tasks:
          - {key: speak, type: shell, command: "echo to-stdout; echo to-stderr >&2"}
        """,
    )
    run = baton.run(path)
    out = baton("logs", run["id"], "speak").stdout
    assert "to-stdout" in out and "to-stderr" in out


def test_run_ids_may_be_abbreviated(baton, write):
    path = write(
        "short.yaml",
        """
        name: short
        tasks:
          - {key: hello, type: shell, command: "echo hello-from-short"}
        """,
    )
    rid = baton.run(path)["id"]
    prefix = rid[:6]
    assert "hello-from-short" in baton("logs", prefix, "hello").stdout
    assert baton.json("runs", "show", prefix)["id"] == rid


def test_unknown_run_or_task_is_bad_input(baton, write):
    path = write(
        "known.yaml",
        """
        name: known
        tasks:
          - {key: hello, type: shell, command: "true"}
        """,
    )
    rid = baton.run(path)["id"]
    for args in (("logs", "zzzz-no-such-run"), ("logs", rid, "nope"), ("runs", "show", "zzzz")):
        proc = baton(*args, check=2)
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip()


def test_timestamps_show_when_each_line_was_written(baton, write, h):
    path = write(
        "slow.yaml",
        """
        name: slow
        tasks:
          - {key: t, type: shell, command: "echo first; sleep 1; printf 'second\\\\nthird'"}
        """,
    )
    before = datetime.now(UTC)
    run = baton.run(path)
    after = datetime.now(UTC)
    plain = baton("logs", run["id"], "t").stdout
    assert plain == "=== t attempt 1 ===\nfirst\nsecond\nthird\n"
    out = baton("logs", run["id"], "t", "--timestamps").stdout.splitlines()
    assert out[0] == "=== t attempt 1 ==="
    stamps = []
    for line, text in zip(out[1:], ["first", "second", "third"], strict=True):
        when, _, rest = line.partition(" ")
        assert rest == text and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", when)
        stamps.append(datetime.fromisoformat(when))
    assert before - timedelta(seconds=1) <= stamps[0] and stamps[2] <= after
    assert stamps[1] - stamps[0] >= timedelta(seconds=0.7) and stamps[1] == stamps[2]
    assert baton("logs", run["id"], "t", "-t").stdout.splitlines() == out
