"""A flow version is its definition: `baton run` then `baton deploy` of an unchanged file
registers one version, whatever path each records for the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

PY_FLOW = """
from baton import flow, task

@task
def a():
    return 1

@flow
def hello():
    a()
"""

YAML_FLOW = """
name: greet
tasks:
  - {key: a, type: shell, command: 'echo hi'}
"""


def versions(sql: Callable[..., list[Any]], workdir: Path, flow: str) -> list[tuple[str, str]]:
    """(version id, stored spec) of a flow's versions."""
    url = f"sqlite:///{workdir / '.baton' / 'baton.db'}"
    rows = sql(url, ("SELECT id, spec FROM flow_versions WHERE flow_name = ?", (flow,)))
    return [(r[0], r[1]) for r in rows]


def test_run_then_deploy_of_an_unchanged_file_is_one_version(
    baton: Any, write: Callable[[str, str], str], sql: Callable[..., list[Any]], workdir: Path
) -> None:
    (workdir / "flows").mkdir()
    py = write("flows/hello.py", PY_FLOW)
    yml = write("flows/greet.yaml", YAML_FLOW)
    for path, name in ((py, "hello"), (yml, "greet")):
        first = baton.run(path)
        assert first["state"] == "succeeded"
        baton.run(path)
        (only,) = versions(sql, workdir, name)
        # A file deployed alone, then its whole folder: the same definition each time.
        for target in (path, "flows"):
            deployed = {d["flow"]: d for d in baton.json("deploy", target)}
            assert deployed[name]["version"] == only[0]
            assert deployed[name]["changed"] is False, deployed[name]
        (after,) = versions(sql, workdir, name)
        assert after[0] == only[0]
        # The deployed path (relative to the project) is what workers look for.
        assert f'"path":"{Path(path).name}"' in after[1], after[1]
        baton.run(path)
        assert [v[0] for v in versions(sql, workdir, name)] == [only[0]]


def test_a_changed_definition_is_a_new_version(
    baton: Any, write: Callable[[str, str], str], sql: Callable[..., list[Any]], workdir: Path
) -> None:
    path = write("hello.py", PY_FLOW)
    baton.run(path)
    write("hello.py", PY_FLOW.replace("return 1", "return 2"))
    baton.run(path)
    assert len(versions(sql, workdir, "hello")) == 2
