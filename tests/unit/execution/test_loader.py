from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton.errors import DefinitionError, InputError
from baton.execution import loader

TWO_FLOWS = """\
from baton import flow, task


@task
def greet(name: str) -> str:
    return "hi " + name


@flow
def first(name: str = "x"):
    greet(name)


@flow(name="second")
def other():
    greet("y")
    greet("z")
"""


@pytest.fixture(autouse=True)
def restore_imports(tmp_path: Path) -> Iterator[None]:
    """The loader imports user modules and extends sys.path: undo both after each test.
    Only the test's own modules are forgotten: a library first imported meanwhile (PyYAML,
    with its C extension, which cannot be imported twice) must stay as it is."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        if str(getattr(sys.modules[name], "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


def unique(stem: str) -> str:
    return f"{stem}_{uuid.uuid4().hex[:8]}"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_python_file_with_two_flows(tmp_path: Path) -> None:
    module = unique("flows")
    path = write(tmp_path, f"{module}.py", TWO_FLOWS)
    flows = loader.load_file(str(path))
    assert sorted(f.spec.name for f in flows) == ["first", "second"]
    for f in flows:
        assert f.spec.source is not None
        assert f.spec.source.path == str(path)
        assert len(f.spec.source.code_hash) == 16
        assert f"{module}:greet" in f.functions
    second = loader.pick(flows, "second", file=str(path))
    assert [t.key for t in second.spec.tasks] == ["greet", "greet__1"]
    assert second.load_function(f"{module}:greet")("you") == "hi you"


def test_pick_needs_a_name_when_a_file_has_several_flows(tmp_path: Path) -> None:
    path = write(tmp_path, f"{unique('flows')}.py", TWO_FLOWS)
    flows = loader.load_file(str(path))
    with pytest.raises(InputError, match="several flows") as err:
        loader.pick(flows, None, file=str(path))
    assert "first" in str(err.value) and "second" in str(err.value)
    assert "--flow" in str(err.value)
    with pytest.raises(InputError, match="no flow 'third'") as err:
        loader.pick(flows, "third", file=str(path))
    assert "first" in str(err.value) and "second" in str(err.value)


def test_pick_the_only_flow(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"{unique('one')}.py",
        """\
        from baton import flow, task

        @task
        def t():
            return 1

        @flow
        def only():
            t()
        """,
    )
    flows = loader.load_file(str(path))
    assert loader.pick(flows, None, file=str(path)).spec.name == "only"


def test_a_file_without_flows(tmp_path: Path) -> None:
    path = write(tmp_path, f"{unique('empty')}.py", "X = 1\n")
    flows = loader.load_file(str(path))
    assert list(flows) == []
    with pytest.raises(DefinitionError, match="defines no flow") as err:
        loader.pick(flows, None, file=str(path))
    assert err.value.file == str(path)


def test_a_yaml_flow_calling_a_python_function(tmp_path: Path) -> None:
    helpers = unique("helpers")
    write(tmp_path, f"{helpers}.py", "def present():\n    return 5\n")
    path = write(
        tmp_path,
        "flow.yaml",
        f"""\
        name: yflow
        tasks:
          - key: run_it
            type: python
            function: {helpers}:present
        """,
    )
    (lf,) = loader.load_file(str(path))
    assert lf.spec.name == "yflow"
    assert lf.spec.source is not None and lf.spec.source.path == str(path)
    assert lf.load_function(f"{helpers}:present")() == 5


def test_a_yaml_task_naming_a_missing_function(tmp_path: Path) -> None:
    helpers = unique("helpers")
    write(tmp_path, f"{helpers}.py", "def present():\n    return 5\n")
    path = write(
        tmp_path,
        "flow.yml",
        f"""\
        name: yflow
        tasks:
          - key: ok
            type: python
            function: {helpers}:present
          - key: run_it
            type: python
            function: {helpers}:absent
            depends_on: ok
        """,
    )
    with pytest.raises(DefinitionError) as err:
        loader.load_file(str(path))
    e = err.value
    assert (e.file, e.flow, e.task) == (str(path), "yflow", "run_it")
    assert f"{helpers}:absent" in str(e)
    assert "not found" in str(e)


def test_a_yaml_task_naming_a_missing_module(tmp_path: Path) -> None:
    missing = unique("no_such_module")
    path = write(
        tmp_path,
        "flow.yaml",
        f"""\
        name: yflow
        tasks:
          - key: run_it
            type: python
            function: {missing}:f
        """,
    )
    with pytest.raises(DefinitionError, match=f"cannot import module '{missing}'") as err:
        loader.load_file(str(path))
    assert err.value.task == "run_it"
    assert err.value.file == str(path)


def test_an_unknown_suffix(tmp_path: Path) -> None:
    path = write(tmp_path, "flow.txt", "name: x\n")
    with pytest.raises(InputError, match=r"\.py, \.yaml or \.yml"):
        loader.load_file(str(path))


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        loader.load_file(str(tmp_path / "nope.py"))
    with pytest.raises(InputError, match=r"is a folder: give the flow's file"):
        loader.load_file(str(tmp_path))


def test_an_error_importing_the_flow_module_names_the_file(tmp_path: Path) -> None:
    module = unique("broken")
    path = write(tmp_path, f"{module}.py", "import baton\nraise RuntimeError('kaput')\n")
    with pytest.raises(DefinitionError) as err:
        loader.load_file(str(path))
    assert err.value.file == str(path)
    assert str(path) in str(err.value)
    assert "RuntimeError: kaput" in str(err.value)
    assert module not in sys.modules


def test_an_import_error_inside_the_flow_module(tmp_path: Path) -> None:
    path = write(tmp_path, f"{unique('broken')}.py", "import definitely_not_installed_xyz\n")
    with pytest.raises(DefinitionError, match="definitely_not_installed_xyz") as err:
        loader.load_file(str(path))
    assert err.value.file == str(path)


def test_a_bad_flow_inside_the_module_names_file_flow_and_task(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"{unique('bad')}.py",
        """\
        from baton import flow, task

        @task
        def t(x):
            return x

        @flow
        def bad():
            t({1, 2})
        """,
    )
    with pytest.raises(DefinitionError) as err:
        loader.load_file(str(path))
    assert (err.value.file, err.value.flow, err.value.task) == (str(path), "bad", "t")


def test_for_run_finds_the_functions_again(tmp_path: Path) -> None:
    module = unique("flows")
    path = write(tmp_path, f"{module}.py", TWO_FLOWS)
    spec = loader.pick(loader.load_file(str(path)), "first", file=str(path)).spec
    lf = loader.for_run(spec)
    assert lf.spec is spec
    assert lf.load_function(f"{module}:greet")("me") == "hi me"


def test_import_function_unwraps_tasks(tmp_path: Path) -> None:
    module = unique("flows")
    write(tmp_path, f"{module}.py", TWO_FLOWS)
    sys.path.insert(0, str(tmp_path))
    fn = loader.import_function(f"{module}:greet")
    assert fn("x") == "hi x"
    assert not isinstance(fn, loader.Task)
    with pytest.raises(DefinitionError, match="is not a function"):
        loader.import_function(f"{module}:__name__")
