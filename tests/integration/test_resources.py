"""Resources (#15): workers claim only what fits their capacity, GPU tasks get distinct
devices, and a task that no live worker can ever fit is shown as unschedulable.

Real `baton worker` processes on PostgreSQL (a schema per test), each with a capacity of
its own (`--resources`: faked GPUs are what the claim logic sees of real ones); tasks write
when they start and end, how much they need and which worker ran them, and the test checks
the sum of what overlaps on each worker.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

GiB = 2**30

MIXED = """
import json, os, time
from baton import flow, task

def record(name, context, cpu, memory, gpu):
    start = time.time()
    time.sleep(0.3)  # the work: long enough for claims to overlap it
    span = {
        "name": name, "start": start, "end": time.time(), "pid": os.getpid(),
        "cpu": cpu, "memory": memory, "gpu": gpu, "gpu_ids": list(context.gpu_ids),
        "cuda": context.env().get("CUDA_VISIBLE_DEVICES"),
        "declared": context.resources.describe() if context.resources else None,
    }
    with open(f"spans/{name}.json", "w") as f:
        json.dump(span, f)

@task(resources={"cpu": 2, "memory": "1Gi"})
def big(i: int, context=None):
    record(f"big{i}", context, 2, 2**30, 0)

@task(resources={"cpu": 1})
def mid(i: int, context=None):
    record(f"mid{i}", context, 1, 0, 0)

@task(resources={"cpu": "500m", "gpu": 1})
def gpu(i: int, context=None):
    record(f"gpu{i}", context, 0.5, 0, 1)

@task
def plain(i: int, context=None):
    record(f"plain{i}", context, 0, 0, 0)

@flow
def mixed():
    for i in range(6):
        big(i)
        mid(i)
        gpu(i)
        plain(i)
"""


@pytest.fixture
def cluster(baton: Any, pg_url: str) -> Any:
    baton.env["BATON_DATABASE_URL"] = pg_url
    baton.env["BATON_HEARTBEAT_SECONDS"] = "0.3"
    return baton


def _peak(spans: list[dict[str, Any]], kind: str) -> float:
    """The most of `kind` the spans held at any one moment (an end before a start at the
    same instant: a slot freed and taken again is not an overlap)."""
    edges = sorted(
        [(s["start"], 1, s[kind]) for s in spans] + [(s["end"], 0, -s[kind]) for s in spans]
    )
    now = most = 0.0
    for _, _, d in edges:
        now += d
        most = max(most, now)
    return most


def _stop(*procs: Any) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0


@pytest.mark.postgres
def test_no_worker_exceeds_its_capacity_and_gpu_tasks_go_to_the_gpu_worker(
    cluster, write, h, workdir: Path
):
    write("mixed.py", MIXED)
    (workdir / "spans").mkdir()
    cpu_only = cluster.start(
        "worker",
        "--name",
        "cpu-only",
        "--concurrency",
        "8",
        "--resources",
        "cpu=3,memory=4Gi,gpu=0",
    )
    gpus = cluster.start(
        "worker", "--name", "gpus", "--concurrency", "8", "--resources", "cpu=2,memory=2Gi,gpu=2"
    )
    h.wait_until(lambda: len(cluster.json("workers")) == 2, what="both workers")
    shown = {w["name"]: w for w in cluster.json("workers")}
    assert shown["cpu-only"]["resources"] == {"cpu": 3.0, "memory": 4 * GiB, "gpu": 0}
    assert shown["gpus"]["resources"] == {"cpu": 2.0, "memory": 2 * GiB, "gpu": 2}
    assert shown["gpus"]["used"] == {"cpu": 0.0, "memory": 0, "gpu": 0}
    table = cluster("workers").stdout
    assert "cpu 0/3, memory 0/4Gi, gpu 0/0" in table and "cpu 0/2, memory 0/2Gi, gpu 0/2" in table

    done = cluster.run("mixed.py", "--wait")
    assert done["state"] == "succeeded", done
    spans = [json.loads(f.read_text()) for f in (workdir / "spans").iterdir()]
    assert len(spans) == 24
    capacity = {
        cpu_only.pid: {"cpu": 3, "memory": 4 * GiB, "gpu": 0},
        gpus.pid: {"cpu": 2, "memory": 2 * GiB, "gpu": 2},
    }
    by_worker: dict[int, list[dict[str, Any]]] = {}
    for s in spans:
        by_worker.setdefault(s["pid"], []).append(s)
    assert set(by_worker) == set(capacity)  # both worked
    for pid, mine in by_worker.items():
        for kind, most in capacity[pid].items():
            assert _peak(mine, kind) <= most + 1e-9, (pid, kind, mine)
    # GPU tasks only where there are GPUs, both GPUs in use at once, each task on its own.
    on_gpus = [s for s in spans if s["gpu"]]
    assert {s["pid"] for s in on_gpus} == {gpus.pid}
    assert _peak(on_gpus, "gpu") == 2
    for s in on_gpus:
        assert len(s["gpu_ids"]) == 1 and s["gpu_ids"][0] in ("0", "1")
        assert s["cuda"] == s["gpu_ids"][0]
        assert s["declared"] == "cpu=0.5,gpu=1"
        for t in on_gpus:  # at once: different devices
            if t is not s and t["start"] < s["end"] and s["start"] < t["end"]:
                assert t["gpu_ids"] != s["gpu_ids"], (s, t)
    assert all(s["cuda"] is None and s["gpu_ids"] == [] for s in spans if not s["gpu"])
    # A big task (cpu 2) fits both workers: each ran some, never beyond its cores.
    assert {s["pid"] for s in spans if s["cpu"] == 2} == set(capacity)
    _stop(cpu_only, gpus)


NEEDS_GPU = """
from baton import flow, task

@task(resources={"gpu": 1, "memory": "1Gi"})
def train() -> str:
    return "trained"

@task
def prepare() -> int:
    return 1

@flow
def learn():
    prepare()
    train()
"""


@pytest.mark.postgres
def test_a_task_no_live_worker_can_fit_is_shown_unschedulable(cluster, write, h):
    write("learn.py", NEEDS_GPU)
    run_id = cluster.run("learn.py")["id"]  # no worker yet: just queued, not unschedulable
    shown = h.tasks(cluster.json("runs", "show", run_id))
    assert shown["train"]["state"] == "queued" and shown["train"]["unschedulable"] is None

    worker = cluster.start("worker", "--name", "small", "--resources", "cpu=2,memory=4Gi,gpu=0")
    h.wait_until(
        lambda: h.tasks(cluster.json("runs", "show", run_id))["prepare"]["state"] == "succeeded",
        what="prepare to run",
    )
    train = h.tasks(cluster.json("runs", "show", run_id))["train"]
    why = (
        "needs memory=1Gi,gpu=1, more than any live worker serving queue default has "
        "(small gpu 1 > 0)"
    )
    assert train["state"] == "queued" and train["unschedulable"] == why
    text = cluster("runs", "show", run_id).stdout
    assert "unschedulable: needs memory=1Gi,gpu=1" in text

    server = cluster.start("server", "--no-worker", "--port", "0")
    found = re.search(r"serving (http://\S+)/ ", server.stderr.readline())
    assert found
    token = cluster("tokens", "create", "--user", "v", "--role", "viewer").stdout.strip()
    api = httpx.get(
        f"{found.group(1)}/api/v1/runs/{run_id}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert {t["key"]: t["unschedulable"] for t in api["tasks"]} == {"prepare": None, "train": why}
    page = httpx.get(
        f"{found.group(1)}/runs/{run_id}",
        headers={"x-baton-ui": "1"},
        cookies={"baton_token": token},
    )
    assert page.status_code == 200
    assert "unschedulable" in page.text and "small gpu 1 &gt; 0" in page.text
    workers_page = httpx.get(
        f"{found.group(1)}/workers", headers={"x-baton-ui": "1"}, cookies={"baton_token": token}
    )
    assert "cpu 0/2, memory 0/4Gi, gpu 0/0" in workers_page.text
    remote = cluster("runs", "show", run_id, "--server", found.group(1), "--token", token)
    assert "unschedulable: needs memory=1Gi,gpu=1" in remote.stdout

    # A worker with a GPU joins: the task runs there, and is no longer unschedulable.
    big = cluster.start("worker", "--name", "big", "--resources", "cpu=2,memory=4Gi,gpu=1")
    h.wait_until(
        lambda: cluster.json("runs", "show", run_id)["state"] == "succeeded", what="the run"
    )
    train = h.tasks(cluster.json("runs", "show", run_id))["train"]
    assert train["unschedulable"] is None and train["attempt_list"][0]["worker"] == "big"
    _stop(worker, big, server)


def test_bad_resources_flag_is_exit_2(baton):
    for bad, said in (
        ("cpu=lots", "'--resources cpu' must be a number of cores"),
        ("tpu=1", "--resources must be kind=amount pairs"),
        ("gpu=1,gpu=2", "--resources names gpu twice"),
        ("memory=12XB", "'--resources memory' must be bytes or a quantity"),
    ):
        proc = baton("worker", "--resources", bad, check=2)
        assert said in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


WHOLE_MACHINE = """
import json, os, time
from baton import flow, task

CORES = {cores}

def record(name, cpu):
    start = time.time()
    time.sleep(0.3)
    with open(f"spans/{{name}}.json", "w") as f:
        json.dump({{"name": name, "start": start, "end": time.time(), "cpu": cpu}}, f)

@task(resources={{"cpu": CORES}})
def whole(i: int):
    record(f"whole{{i}}", CORES)

@task(resources={{"cpu": "500m"}})
def half(i: int):
    record(f"half{{i}}", 0.5)

@flow
def machine():
    for i in range(3):
        whole(i)
        half(i)
"""


def test_an_embedded_run_keeps_within_the_machines_cores(baton, write, workdir: Path):
    cores = len(os.sched_getaffinity(0))
    write("machine.py", WHOLE_MACHINE.format(cores=cores))
    (workdir / "spans").mkdir()
    done = baton.run("machine.py", "--concurrency", "8")  # SQLite, this process's worker
    assert done["state"] == "succeeded", done
    spans = [json.loads(f.read_text()) for f in (workdir / "spans").iterdir()]
    assert len(spans) == 6
    assert _peak(spans, "cpu") <= cores  # a whole-machine task ran alone
    wholes = sorted((s["start"], s["end"]) for s in spans if s["cpu"] == cores)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(wholes))


TOO_BIG = """
from baton import flow, task

@task
def small() -> int:
    return 1

@task(resources={"memory": "1Pi"})
def huge() -> int:
    return 2

@flow
def greedy():
    small()
    huge()
"""


def test_an_embedded_run_says_why_a_task_cannot_run_and_waits(baton, write, h):
    write("greedy.py", TOO_BIG)
    proc = baton.start("run", "greedy.py")
    err = h.stderr(proc)
    said = h.wait_until(
        lambda: re.search(r"task huge of run (\S+) is unschedulable: (.*)", err.text()),
        what="the notice",
    )
    run_id, why = said.group(1), said.group(2)
    assert why.startswith("needs memory=1Pi, more than any live worker serving queue default")
    assert "(Ctrl-C cancels the run)" in why
    tasks = h.tasks(baton.json("runs", "show", run_id))  # SQLite: another process reads it
    assert tasks["small"]["state"] == "succeeded"
    assert tasks["huge"]["state"] == "queued"
    assert tasks["huge"]["unschedulable"].startswith("needs memory=1Pi, more than any")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 1
    assert baton.json("runs", "show", run_id)["state"] == "cancelled"
    assert err.finish().count(err.lines[0]) == 1  # said once, not at every look
