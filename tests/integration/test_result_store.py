"""The result store: a result too big for the database (or not JSON) is written to
BATON_RESULTS_URL (here fsspec's `local://`, the code path of s3:// and the others); the
downstream task, and a repair, read it back; a result that is gone fails the task that
needed it, naming the run and the task; bad settings are refused without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FLOW = """
from baton import flow, task

@task
def big():
    return list(range(5000))     # ~24 KB of JSON: over the 1 KB limit set below

@task
def total(big):
    import os
    if os.path.exists("fail"):
        raise RuntimeError("fails on purpose")
    return sum(big)

@flow
def sums():
    total(big())
"""


def test_big_results_go_to_the_store_and_come_back(baton, write, workdir: Path) -> None:
    path = write("sums.py", FLOW)
    store = workdir / "shared" / "results"
    env = {"BATON_RESULTS_URL": f"local://{store}", "BATON_RESULTS_INLINE_MAX": "1024"}
    (workdir / "fail").touch()
    failed = json.loads(baton("run", path, "--json", env=env, check=1).stdout)
    assert {t["key"]: t["state"] for t in failed["tasks"]} == {
        "big": "succeeded",
        "total": "failed",
    }
    written = sorted(p.name for p in store.iterdir())
    assert len(written) == 1 and written[0].endswith(".json")  # JSON, not a pickle
    assert json.loads((store / written[0]).read_text()) == list(range(5000))
    (workdir / "fail").unlink()
    repaired = json.loads(baton("runs", "repair", failed["id"], "--json", env=env).stdout)
    assert repaired["state"] == "succeeded"
    shown = baton.json("runs", "show", repaired["id"])
    assert {t["key"]: t["attempts"] for t in shown["tasks"]} == {"big": 0, "total": 1}
    # The result is gone: a repair that needs it fails, naming what is missing.
    (workdir / "fail").touch()
    again = json.loads(baton("run", path, "--json", env=env, check=1).stdout)
    for p in store.iterdir():
        p.unlink()
    (workdir / "fail").unlink()
    broken = json.loads(baton("runs", "repair", again["id"], "--json", env=env, check=1).stdout)
    total = next(t for t in broken["tasks"] if t["key"] == "total")
    assert total["state"] == "failed"
    assert f"the result of task big in run {broken['id']} is gone: local://" in total["error"]
    assert "no longer exists" in total["error"]


def test_bad_result_store_settings_are_refused(baton, write) -> None:
    path = write("sums.py", FLOW)
    for env, says in [
        ({"BATON_RESULTS_URL": "results"}, "BATON_RESULTS_URL='results' is not a URL"),
        ({"BATON_RESULTS_URL": "ann:s3cr3t@bucket"}, "(not shown: it may hold a password)"),
        ({"BATON_RESULTS_INLINE_MAX": "lots"}, "BATON_RESULTS_INLINE_MAX='lots'"),
    ]:
        proc = baton("run", path, env=env, check=2)
        assert says in proc.stderr, proc.stderr
        assert "s3cr3t" not in proc.stderr and "Traceback" not in proc.stderr


TWO_MACHINES = """
from baton import flow, task

@task(queue="a")
def make():
    return set(range(20000))     # not JSON: pickled to the store

@task(queue="b")
def count(make):
    return len(make)

@flow
def split():
    count(make())
"""


@pytest.mark.postgres
def test_a_worker_elsewhere_reads_a_result_another_wrote(baton, write, h, workdir: Path, pg_url):
    """Two workers as two machines: homes of their own, one store, one result store."""
    write("split.py", TWO_MACHINES)
    baton.env["BATON_DATABASE_URL"] = pg_url
    baton.env["BATON_RESULTS_URL"] = f"local://{workdir / 'shared'}"
    baton("deploy", ".")
    for queue in ("a", "b"):
        baton.env["BATON_HOME"] = str(workdir / f"home-{queue}")
        baton.start("worker", "--queue", queue, "--name", f"w{queue}")
    created = baton.run("split.py")
    done = h.wait_until(
        lambda: (
            (r := baton.json("runs", "show", created["id"]))["state"] in ("succeeded", "failed")
            and r
        ),
        what="the two workers to run the flow",
    )
    assert h.states(done) == {"make": "succeeded", "count": "succeeded"}
    pickles = [p.name for p in (workdir / "shared").iterdir()]
    assert len(pickles) == 1 and pickles[0].endswith(".pkl")
    assert not (workdir / "home-a" / "results").exists()  # nothing written locally


CACHED = """
from baton import flow, task

@task(cache=True)
def make():
    with open("made.txt", "a") as f:
        f.write("made\\n")
    return list(range(5000))     # over the limit set below: in the result store

@task
def count(make):
    return len(make)

@flow
def cached():
    count(make())
"""


def test_a_cache_hit_reads_the_result_store_and_a_gone_result_is_a_miss(
    baton, write, workdir: Path
) -> None:
    path = write("cached.py", CACHED)
    store = workdir / "store"
    env = {"BATON_RESULTS_URL": f"local://{store}", "BATON_RESULTS_INLINE_MAX": "1000"}

    def tasks() -> dict[str, tuple[str, int, bool]]:
        run = json.loads(baton("run", path, "--json", env=env).stdout)
        assert run["state"] == "succeeded"
        return {t["key"]: (t["state"], t["attempts"], bool(t.get("cached"))) for t in run["tasks"]}

    assert tasks()["make"] == ("succeeded", 1, False)
    assert tasks()["make"] == ("succeeded", 0, True)  # a hit: read back from the store
    for p in store.iterdir():
        p.unlink()
    assert tasks()["make"] == ("succeeded", 1, False)  # gone: computed again
    assert (workdir / "made.txt").read_text().split() == ["made", "made"]


PARTITIONED_CACHE = """
from baton import daily, flow, task

@task(cache=True)
def extract(partition, context):
    with open("ran.txt", "a") as f:
        f.write(partition + "\\n")
    return partition + ":" + str(context.attempt)

@flow(partitions=daily("2024-01-01"))
def days():
    extract()
"""


def test_a_caching_task_may_take_partition_and_context(baton, write, workdir: Path) -> None:
    path = write("days.py", PARTITIONED_CACHE)
    for key in ("2024-01-05", "2024-01-05", "2024-01-06"):
        run = baton.run(path, "--partition", key)
        assert run["state"] == "succeeded", run
    # The partition is in the key: the same day is a hit, another day computes.
    assert (workdir / "ran.txt").read_text().split() == ["2024-01-05", "2024-01-06"]


PICKLED = """
from baton import flow, task

@task
def make():
    return {1, 2, 3}             # not JSON: a file in the result store

@task(cache=True)
def keep():
    return b"bytes"              # cached: a later run's hit reads this run's file

@flow
def files():
    make()
    keep()
"""


def test_prune_removes_the_result_files_no_run_reads_any_more(baton, write, h, workdir) -> None:
    path = write("files.py", PICKLED)
    store = workdir / ".baton" / "results"
    first = baton.run(path)
    second = baton.run(path)  # `keep` is a hit: it reads the first run's file
    assert {t["key"]: t["attempts"] for t in second["tasks"]} == {"make": 1, "keep": 0}
    assert len(list(store.iterdir())) == 3
    h.wait_until(
        lambda: baton.json("db", "prune", "--older-than", "1s", "--dry-run")["runs"] == 1,
        what="the first run to be a second old",
    )
    pruned = baton.json("db", "prune", "--older-than", "1s")
    assert (pruned["runs"], pruned["result_files"]) == (1, 1)
    # The first run's `make` result went; its `keep` result stays: the second run reads it.
    assert len(list(store.iterdir())) == 2
    assert baton.json("runs", "show", second["id"])["state"] == "succeeded"
    assert baton.json("runs", "list")[0]["id"] == second["id"] != first["id"]
