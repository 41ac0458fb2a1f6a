"""`container` tasks without an engine: fields, volumes, limits from resources, the error of a
failed container, the record of an attempt's containers. tests/integration/test_task_container.py
runs real containers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import baton
from baton import tasks
from baton.errors import DefinitionError
from baton.model.resources import Resources
from baton.model.spec import TaskSpec
from baton.tasks import container, docker_engine


def config(**fields: object) -> container.ContainerConfig:
    found = tasks.config_of(TaskSpec(key="t", type="container", config=fields))
    assert isinstance(found, container.ContainerConfig)
    return found


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"command": ["echo"]}, "missing required field 'image'"),
        ({"image": ""}, "image"),
        ({"image": "x", "imgae": "y"}, "unknown field 'imgae'"),
        ({"image": "x", "pull": "sometimes"}, "pull"),
        ({"image": "x", "backend": "podman"}, "backend"),
        ({"image": "x", "workdir": "relative/dir"}, "workdir"),
        ({"image": "x", "volumes": ["/data"]}, "`volumes` entry '/data' is not host:container"),
        ({"image": "x", "volumes": ["data:rel"]}, "the container path must be absolute"),
        ({"image": "x", "volumes": ["data:/d:rx"]}, "the mode must be ro or rw, not 'rx'"),
        ({"image": "x", "volumes": "data:/d"}, "volumes"),
        ({"image": "x", "env": {"A": 1}}, "env"),
        ({"image": "x", "args": [{"a": 1}]}, "args"),
        ({"image": "x", "command": ""}, "command"),
    ],
)
def test_bad_fields_are_definition_errors_naming_the_field(
    fields: dict[str, object], named: str
) -> None:
    with pytest.raises(DefinitionError) as caught:
        config(**fields)
    assert caught.value.task == "t"
    assert named in caught.value.message, caught.value.message


def test_defaults() -> None:
    cfg = config(image="alpine:3")
    assert (cfg.pull, cfg.backend, cfg.skip_exit_code, cfg.network) == (
        "if_missing",
        "docker",
        99,
        None,
    )


def test_a_command_string_is_split_without_a_shell() -> None:
    assert container._argv("echo 'a b' $HOME") == ["echo", "a b", "$HOME"]
    assert container._argv(["sleep", 3]) == ["sleep", "3"]
    assert container._argv(None) is None


def test_volumes_from_the_flow_folder(task_context, tmp_path: Path) -> None:
    cfg = config(image="x", volumes=["data:/in:ro", "/abs/out:/out", "../up:/up:rw"])
    assert container._binds(task_context(), cfg) == [
        f"{tmp_path / 'data'}:/in:ro",
        "/abs/out:/out:rw",
        f"{tmp_path.parent / 'up'}:/up:rw",
    ]


def test_limits_from_the_task_s_resources(task_context) -> None:
    assert container.limits(task_context()) == {}
    need = Resources(cpu=1.5, memory=512 * 2**20, gpu=2)
    assert container.limits(task_context(resources=need, gpu_ids=("1", "3"))) == {
        "nano_cpus": 1_500_000_000,
        "mem_limit": 512 * 2**20,
        "device_requests": [{"capabilities": [["gpu"]], "device_ids": ["1", "3"]}],
    }
    # No ids handed out (a worker that does not count GPUs): as many as the task needs.
    assert container.limits(task_context(resources=Resources(gpu=1))) == {
        "device_requests": [{"capabilities": [["gpu"]], "count": 1}]
    }


def test_the_error_of_a_failed_container() -> None:
    assert container.failure(2, []) == "the container exited with code 2"
    assert container.failure(137, ["a", "b"]) == (
        "the container exited with code 137; its last lines:\na\nb"
    )


def test_records_name_the_engine_and_are_forgotten(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/some.sock")
    work = str(tmp_path)
    docker_engine.record(work, "att1", docker_engine.container_name("att1"))
    with open(docker_engine.record_path(work, "att1")) as f:
        assert f.read() == "unix:///tmp/some.sock\tbaton-att1\n"
    docker_engine.forget(work, "att1")
    docker_engine.forget(work, "att1")  # twice is fine
    assert not os.path.exists(docker_engine.record_path(work, "att1"))
    docker_engine.remove_recorded(work, "never-recorded")  # nothing to do, no SDK needed


def test_container_task_outside_a_flow_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match="only be created inside a @flow"):
        baton.container_task("alpine:3", key="hello")


def test_a_python_flow_s_container_task() -> None:
    @baton.flow
    def hello() -> None:
        baton.container_task(
            "alpine:3", key="hi", command=["echo", "hi"], volumes=["d:/d:ro"], pull="never"
        )

    (task,) = hello.spec.tasks
    assert (task.type, task.config) == (
        "container",
        {
            "image": "alpine:3",
            "command": ["echo", "hi"],
            "args": [],
            "volumes": ["d:/d:ro"],
            "pull": "never",
            "skip_exit_code": 99,
        },
    )


def test_the_tail_of_output_fed_in_pieces() -> None:
    tail = container.Tail(2)
    for piece in (b"one\ntw", b"o\n\n  \nthr", b"ee"):
        tail.feed(piece)
    assert tail.lines() == ["two", "three"]  # an unfinished last line counts
    tail.feed(b"\nfour\n")
    assert tail.lines() == ["three", "four"]
    assert container.Tail(3).lines() == []
