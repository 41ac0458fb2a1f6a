"""`container` tasks on a real Docker engine (tests/docker_kit.py starts one), with images
built from scratch around a static busybox: nothing is pulled, and containers run with
`network: none` unless a test gives them a network of its own."""

from __future__ import annotations

import ipaddress
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

import docker_kit
from baton.model.resources import Resources
from baton.tasks import container, docker_engine
from baton.tasks.base import TaskFailed

IMAGE = docker_kit.IMAGE

SAVE = """
import json

def save(**values):
    with open("received.json", "w") as f:
        json.dump(values, f)
"""


@pytest.fixture(scope="session")
def docker_host() -> str:
    return docker_kit.engine()


@pytest.fixture
def dk(baton: Any, docker_host: str) -> Any:
    """`baton` talking to the tests' Docker engine."""
    baton.env["DOCKER_HOST"] = docker_host
    return baton


def run_id_when_running(dk: Any, h: Any, proc: Any) -> str:
    """The id of the one run `proc` (a background `baton run`) started, once its container
    runs."""
    runs = h.wait_until(
        lambda: dk.json("runs", "list") or proc.poll() is not None, what="the run to exist"
    )
    assert proc.poll() is None, proc.communicate()
    rid = str(runs[0]["id"])
    h.wait_until(lambda: docker_kit.running(rid), what="the container to run")
    return rid


def test_output_streams_to_the_log_and_result_json_wins_over_the_last_line(
    dk, write, h, workdir: Path
):
    (workdir / "shared").mkdir()
    write("lib.py", SAVE)
    path = write(
        "hello.yaml",
        f"""
        name: hello
        tasks:
          - key: both
            type: container
            image: {IMAGE}
            pull: never
            network: none
            volumes: ["shared:/shared"]
            command: [sh, -c]
            args:
              - >-
                echo started; echo to-stderr >&2;
                until [ -e /shared/go ]; do sleep 0.05; done;
                echo '{{"from": "file", "attempt": "'$BATON_ATTEMPT'"}}' > $BATON_RESULT_FILE;
                echo last-line
          - key: line
            type: container
            image: {IMAGE}
            pull: never
            network: none
            command: "echo 'only the last line'"
          - key: save
            type: python
            function: "lib:save"
            kwargs: {{both: {{__baton_ref__: both}}, line: {{__baton_ref__: line}}}}
            depends_on: [both, line]
        """,
    )
    proc = dk.start("run", path, "--json")
    rid = run_id_when_running(dk, h, proc)
    log = workdir / ".baton" / "logs" / rid / "both" / "1.log"
    # Its first lines are in the log while the container still waits for `go`.
    h.wait_until(
        lambda: log.exists() and "to-stderr" in log.read_text(), what="the output in the log"
    )
    assert "started\n" in log.read_text()
    assert docker_kit.running(rid)
    (workdir / "shared" / "go").touch()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, (out, err)
    run = json.loads(out)
    assert h.states(run) == {"both": "succeeded", "line": "succeeded", "save": "succeeded"}
    received = json.loads((workdir / "received.json").read_text())
    assert received == {"both": {"from": "file", "attempt": "1"}, "line": "only the last line"}
    assert "last-line" in dk("logs", rid, "both").stdout
    assert docker_kit.containers(**{"baton.run": rid}) == []  # removed once ended


def test_failure_says_exit_code_and_last_lines_and_99_skips(dk, write, h):
    path = write(
        "fails.yaml",
        f"""
        name: fails
        tasks:
          - key: broken
            type: container
            image: {IMAGE}
            pull: never
            network: none
            # One stream: the engine keeps no order between stdout's and stderr's lines.
            command:
              - sh
              - -c
              - "for i in $(seq 1 30); do echo line-$i >&2; done; echo oops >&2; exit 3"
          - key: nothing_to_do
            type: container
            image: {IMAGE}
            pull: never
            network: none
            command: [sh, -c, "echo nothing new; exit 99"]
        """,
    )
    run = dk.run(path, check=1)
    broken, skipped = h.tasks(run)["broken"], h.tasks(run)["nothing_to_do"]
    assert broken["state"] == "failed"
    error = broken["error"]
    assert error.startswith("the container exited with code 3; its last lines:\nline-12\n"), error
    assert error.endswith("line-30\noops"), error
    assert "line-11" not in error.splitlines()
    assert skipped["state"] == "skipped"
    assert docker_kit.containers(**{"baton.run": run["id"]}) == []


def test_env_with_a_secret_is_masked_in_the_log_and_a_user_writes_the_result(
    dk, write, h, workdir: Path
):
    secret = "tok-" + uuid.uuid4().hex
    dk.env["BATON_SECRET_API_TOKEN"] = secret
    write("lib.py", SAVE)
    path = write(
        "secret.yaml",
        f"""
        name: secret
        params: {{day: "2024-05-01"}}
        tasks:
          - key: use
            type: container
            image: {IMAGE}
            pull: never
            network: none
            env: {{TOKEN: "${{secret:API_TOKEN}}", DAY: "{{{{ params.day }}}}"}}
            workdir: /tmp
            user: "1000:1000"
            command:
              - sh
              - -c
              - >-
                echo "token=$TOKEN day=$DAY in $(pwd) as $(id -u)";
                echo "{{\\"length\\": ${{#TOKEN}}, \\"day\\": \\"$DAY\\"}}" > /baton/result.json
          - key: save
            type: python
            function: "lib:save"
            kwargs: {{use: {{__baton_ref__: use}}}}
            depends_on: [use]
        """,
    )
    run = dk.run(path)
    assert h.states(run) == {"use": "succeeded", "save": "succeeded"}
    received = json.loads((workdir / "received.json").read_text())
    assert received == {"use": {"length": len(secret), "day": "2024-05-01"}}
    log = dk("logs", run["id"], "use").stdout
    assert "token=*** day=2024-05-01 in /tmp as 1000" in log
    assert secret not in log
    assert secret not in (workdir / ".baton" / "logs" / run["id"] / "use" / "1.log").read_text()


def test_volumes_read_only_and_read_write(dk, write, h, workdir: Path):
    (workdir / "data").mkdir()
    (workdir / "data" / "input.txt").write_text("the input\n")
    (workdir / "out").mkdir()
    path = write(
        "volumes.yaml",
        f"""
        name: volumes
        tasks:
          - key: copy
            type: container
            image: {IMAGE}
            pull: never
            network: none
            volumes: ["data:/in:ro", "{workdir / "out"}:/out:rw"]
            command:
              - sh
              - -c
              - >-
                cp /in/input.txt /out/copy.txt;
                if touch /in/written 2>/dev/null; then echo wrote-ro; else echo refused-ro; fi
        """,
    )
    run = dk.run(path)
    assert h.states(run) == {"copy": "succeeded"}
    assert (workdir / "out" / "copy.txt").read_text() == "the input\n"
    assert not (workdir / "data" / "written").exists()
    assert "refused-ro" in dk("logs", run["id"], "copy").stdout


def test_pull_never_of_a_missing_image_is_a_clear_error(dk, write, h):
    path = write(
        "missing.yaml",
        """
        name: missing
        tasks:
          - key: nothing
            type: container
            image: baton-test-no-such-image:404
            pull: never
            network: none
            retries: 2
        """,
    )
    run = dk.run(path, check=1)
    task = h.tasks(run)["nothing"]
    assert task["state"] == "failed"
    assert task["attempts"] == 1  # asking again would not find it
    assert task["error"] == (
        "the image baton-test-no-such-image:404 is not on the Docker engine and `pull` is "
        "never: build or load it there first, or set `pull: if_missing`"
    )


def test_an_engine_that_does_not_answer_is_a_clear_error(dk, write, h, workdir: Path):
    dk.env["DOCKER_HOST"] = f"unix://{workdir}/no-engine.sock"
    path = write(
        "noengine.yaml",
        f"""
        name: noengine
        tasks:
          - key: hello
            type: container
            image: {IMAGE}
            command: [echo, hi]
        """,
    )
    run = dk.run(path, check=1)
    error = h.tasks(run)["hello"]["error"]
    assert error.startswith(f"the Docker engine at unix://{workdir}/no-engine.sock does not answer")


def test_a_timeout_stops_and_removes_the_container(dk, write, h):
    path = write(
        "slow.yaml",
        f"""
        name: slow
        tasks:
          - key: sleeper
            type: container
            image: {IMAGE}
            pull: never
            network: none
            command: [sh, -c, "echo sleeping; sleep 300"]
            timeout: 2
        """,
    )
    run = dk.run(path, check=1)
    sleeper = h.tasks(run)["sleeper"]
    assert (sleeper["state"], sleeper["error_kind"]) == ("failed", "timeout")
    assert docker_kit.containers(**{"baton.run": run["id"]}) == []
    assert "sleeping" in dk("logs", run["id"], "sleeper").stdout


def test_cancel_stops_and_removes_the_container(dk, write, h):
    path = write(
        "long.yaml",
        f"""
        name: long
        tasks:
          - key: sleeper
            type: container
            image: {IMAGE}
            pull: never
            network: none
            command: [sleep, "300"]
        """,
    )
    proc = dk.start("run", path, "--json")
    rid = run_id_when_running(dk, h, proc)
    dk("runs", "cancel", rid)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, (out, err)
    assert json.loads(out)["state"] == "cancelled"
    assert docker_kit.containers(**{"baton.run": rid}) == []


def test_a_python_flow_with_args_and_a_network_of_its_own(dk, write, h, workdir: Path):
    network = f"baton-test-{uuid.uuid4().hex[:8]}"
    path = write(
        "pyflow.py",
        f"""
        import json
        from baton import container_task, flow, task

        @task
        def name() -> str:
            return "world"

        @task
        def save(greeting) -> None:
            with open("received.json", "w") as f:
                json.dump(greeting, f)

        @flow
        def greet():
            out = container_task(
                "{IMAGE}",
                key="greet",
                command=["sh", "-c", 'echo "hello $0 from $(hostname -i)"'],
                args=[name()],
                network="{network}",
                pull="never",
            )
            save(out)
            container_task(
                "{IMAGE}",
                key="limited",
                command="sleep 300",
                network="none",
                pull="never",
                resources={{"cpu": 0.5, "memory": "64Mi"}},
                wait_for=out,
            )
        """,
    )
    with docker_kit.network(network) as subnet:
        proc = dk.start("run", path, "--json")
        rid = run_id_when_running(dk, h, proc)
        # `limited` starts once `greet` ended (and its container was removed).
        (container,) = h.wait_until(
            lambda: (workdir / "received.json").exists() and docker_kit.running(rid),
            what="the limited container to run",
        )
        container.reload()
        host = container.attrs["HostConfig"]
        assert host["NetworkMode"] == "none"
        # The worker hands the task its resources: they limit the container.
        assert (host["NanoCpus"], host["Memory"]) == (500_000_000, 64 * 2**20)
        assert container.labels["baton.run"] == rid
        dk("runs", "cancel", rid)
        out, err = proc.communicate(timeout=30)
    run = json.loads(out)
    assert h.states(run) == {
        "name": "succeeded",
        "greet": "succeeded",
        "save": "succeeded",
        "limited": "cancelled",
    }, err
    greeting = json.loads((workdir / "received.json").read_text())
    assert greeting.startswith("hello world from "), greeting
    assert ipaddress.ip_address(greeting.removeprefix("hello world from ")) in subnet
    assert docker_kit.containers(**{"baton.run": rid}) == []


def test_resources_limit_the_container_and_gpus_are_asked_of_the_engine(
    docker_host, task_context, tmp_path: Path, monkeypatch, h
):
    # The task type called directly, with the resources and GPU ids a worker hands it.
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    (tmp_path / "shared").mkdir()
    ctx = task_context(
        attempt_id=f"limits-{uuid.uuid4().hex[:8]}",
        run_id=f"limits-{uuid.uuid4().hex[:8]}",
        resources=Resources(cpu=0.5, memory=64 * 2**20),
    )
    cfg = container.ContainerConfig(
        image=IMAGE,
        command=["sh", "-c", "until [ -e /shared/go ]; do sleep 0.05; done; echo done"],
        volumes=["shared:/shared"],
        network="none",
        pull="never",
    )
    ended: list[object] = []
    runner = threading.Thread(target=lambda: ended.append(container.execute(ctx, cfg)))
    runner.start()
    try:
        (running,) = h.wait_until(lambda: docker_kit.running(ctx.run_id), what="the container")
        running.reload()
        host = running.attrs["HostConfig"]
        assert (host["NanoCpus"], host["Memory"]) == (500_000_000, 64 * 2**20)
        assert running.labels == {"baton.attempt": ctx.attempt_id, "baton.run": ctx.run_id}
    finally:
        (tmp_path / "shared" / "go").touch()
        runner.join(timeout=30)
        ctx.close()
    assert ended == ["done"]
    assert docker_kit.containers(**{"baton.run": ctx.run_id}) == []
    assert not os.path.exists(docker_engine.record_path(ctx.work_dir, ctx.attempt_id))

    # This engine has no GPU runtime: that it refuses the request shows the request got there.
    gpu = task_context(
        attempt_id=f"gpu-{uuid.uuid4().hex[:8]}",
        resources=Resources(gpu=1),
        gpu_ids=("0",),
    )
    with pytest.raises(TaskFailed, match=f"could not start a container of {IMAGE}: .*gpu"):
        try:
            container.execute(gpu, msgspec.structs.replace(cfg, command=["true"]))
        finally:
            gpu.close()
    assert docker_kit.containers(**{"baton.attempt": gpu.attempt_id}) == []
