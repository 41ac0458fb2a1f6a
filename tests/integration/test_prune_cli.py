"""`baton db prune` and `baton server --prune-older-than` as a user runs them: what they say,
what they delete, and exit 2 for an age that is not one."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import pytest

HELLO = """
from baton import flow, task

@task
def hello() -> int:
    print("hello")
    return 1

@flow
def greet():
    hello()
"""


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def store_env(request: pytest.FixtureRequest, baton: Any) -> str:
    """The store of the test: SQLite (runs run in `baton run`) or PostgreSQL (a worker)."""
    if request.param == "postgresql":
        baton.env["BATON_DATABASE_URL"] = request.getfixturevalue("pg_url")
        baton.start("worker", "--name", "w1")
    return str(request.param)


def runs(baton: Any, count: int, write) -> list[str]:
    write("greet.py", HELLO)
    return [baton.run("greet.py", "--wait")["id"] for _ in range(count)]


def old_enough(baton: Any, h, count: int) -> None:
    """Wait until `count` runs ended more than a second ago (what `--older-than 1s` takes)."""
    h.wait_until(
        lambda: baton.json("db", "prune", "--older-than", "1s", "--dry-run")["runs"] == count,
        what=f"{count} runs to be a second old",
    )


def test_db_prune_says_what_it_removed_and_keeps_the_latest_run(store_env, baton, write, h):
    ids = runs(baton, 3, write)
    old_enough(baton, h, 2)
    logs = Path(baton.env["BATON_HOME"]) / "logs"
    chunks = 2 if store_env == "postgresql" else 0  # shipped to the store on a cluster only

    dry = baton("db", "prune", "--older-than", "1s", "--dry-run").stdout
    assert dry == (
        f"would prune 2 runs, 2 task runs, 2 attempts, {dry_events(dry)} state events, "
        f"{chunks} log chunks, 2 log files, 0 result files, 0 notifications, 0 cache entries\n"
    )
    assert len(baton.json("runs", "list")) == 3 and len(list(logs.iterdir())) == 3

    done = baton("db", "prune", "--older-than", "1s", "--flow", "greet").stdout
    assert done == dry.replace("would prune", "pruned")
    assert [r["id"] for r in baton.json("runs", "list")] == [ids[2]]
    assert sorted(p.name for p in logs.iterdir()) == [ids[2]]
    assert baton.json("runs", "show", ids[2])["state"] == "succeeded"
    assert baton("logs", ids[2], "hello").stdout == "=== hello attempt 1 ===\nhello\n"
    assert "no run" in baton("runs", "show", ids[0], check=2).stderr
    assert baton("db", "prune", "--older-than", "1s").stdout.startswith("pruned 0 runs, ")


def dry_events(line: str) -> int:
    found = re.search(r"(\d+) state events", line)
    assert found, line
    assert int(found.group(1)) >= 2 * 6  # each run: queued, running, succeeded; its task too
    return int(found.group(1))


@pytest.mark.parametrize("age", ["30", "1y", "-5d", "0s", "d", "5 d", "1.5h"])
def test_an_age_that_is_not_one_is_exit_2_naming_it(baton, age):
    for command in (("db", "prune"), ("server",)):
        option = "--older-than" if command == ("db", "prune") else "--prune-older-than"
        err = baton(*command, f"{option}={age}", check=2).stderr
        assert option in err and f"'{age}'" in err and "30d" in err, err
        assert "Traceback" not in err
    assert "required" in baton("db", "prune", check=2).stderr


def test_the_server_prunes_when_asked(store_env, baton, write, h):
    ids = runs(baton, 2, write)
    old_enough(baton, h, 1)
    server = baton.start("server", "--no-worker", "--prune-older-than", "1s")
    h.wait_until(
        lambda: [r["id"] for r in baton.json("runs", "list")] == [ids[1]],
        what="the server to prune the older run",
    )
    # The prune runs beside the start: its line may come before or after "serving".
    said = [server.stderr.readline() for _ in range(2)]  # type: ignore[union-attr]
    assert any("serving" in line for line in said), said
    pruned = [line for line in said if line.startswith("baton server: pruned ")]
    assert pruned and pruned[0].startswith("baton server: pruned 1 runs, 1 task runs, 1 attempts, ")
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
