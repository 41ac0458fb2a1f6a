from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from baton.execution import cache_keys
from baton.execution.cache_keys import CacheKeyError, PythonCode, ScriptFile, SqlText

FLOW = """\
import json
import msgspec
import helpers

RATE = 2


def scale(x):
    return x * RATE


def task_fn(x):
    return helpers.double(scale(x))


def other_task(x):
    return x + 1
"""

HELPERS = """\
def double(x):
    return 2 * x
"""

DEFINITION = json.dumps({"key": "load", "type": "python", "config": {"function": "f:load"}})


@pytest.fixture(autouse=True)
def restore_imports() -> Iterator[None]:
    """Modules are imported from temp folders here: forget them and their path after."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def load(path: Path, function: str = "task_fn") -> Callable[..., Any]:
    """A function of the module in `path`, imported afresh under a new name, as a new
    worker process would import it after an edit."""
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(f"flow_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    fn: Callable[..., Any] = getattr(module, function)
    return fn


def fingerprint(path: Path, function: str = "task_fn") -> str:
    return cache_keys.code_fingerprint(PythonCode(load(path, function)))


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    write(tmp_path / "helpers.py", HELPERS)
    write(tmp_path / "unrelated.py", "X = 1\n")
    return write(tmp_path / "flow.py", FLOW)


# -- Python code ---------------------------------------------------------------------------


def test_a_fingerprint_is_a_sha256_and_repeats(flow: Path) -> None:
    first = fingerprint(flow)
    assert len(first) == 64 and int(first, 16) >= 0
    assert fingerprint(flow) == first


def test_editing_the_function_changes_it(flow: Path) -> None:
    before = fingerprint(flow)
    flow.write_text(FLOW.replace("helpers.double(scale(x))", "helpers.double(scale(x)) + 1"))
    assert fingerprint(flow) != before


def test_editing_a_locally_imported_module_changes_it(flow: Path) -> None:
    before = fingerprint(flow)
    (flow.parent / "helpers.py").write_text(HELPERS.replace("2 * x", "3 * x + 0"))
    assert fingerprint(flow) != before


def test_a_same_module_helper_and_constant_count_but_another_task_does_not(flow: Path) -> None:
    before = fingerprint(flow)
    flow.write_text(FLOW.replace("return x + 1", "return x + 100"))
    assert fingerprint(flow) == before
    flow.write_text(FLOW.replace("return x * RATE", "return x * RATE * 1"))
    assert fingerprint(flow) != before
    flow.write_text(FLOW.replace("RATE = 2", "RATE = 3"))
    assert fingerprint(flow) != before


def test_a_module_constant_counts_by_its_text_not_its_value(tmp_path: Path) -> None:
    """A value computed at import differs in every process: keying it would never hit."""
    text = """\
        import uuid
        STARTED = uuid.uuid4().hex
        CONFIG = {"rate": 2}

        def task_fn():
            return STARTED, CONFIG["rate"]
        """
    flow = write(tmp_path / "flow.py", text)
    first, second = load(flow), load(flow)
    assert first() != second()
    assert cache_keys.code_fingerprint(PythonCode(first)) == cache_keys.code_fingerprint(
        PythonCode(second)
    )
    before = fingerprint(flow)
    write(flow, text.replace('"rate": 2', '"rate": 3'))
    assert fingerprint(flow) != before


def test_an_edit_of_the_same_size_is_seen_by_its_mtime(flow: Path) -> None:
    """Modules are read once per (path, mtime, size), as Python reads .pyc files."""
    helpers = flow.parent / "helpers.py"
    before = fingerprint(flow)
    stat = helpers.stat()
    helpers.write_text(HELPERS.replace("2 * x", "4 * x"))
    os.utime(helpers, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert helpers.stat().st_size == stat.st_size
    assert fingerprint(flow) != before


def test_third_party_and_unimported_modules_stay_out(flow: Path) -> None:
    fn = load(flow)
    assert cache_keys.local_modules(fn) == ["helpers.py"]
    before = cache_keys.code_fingerprint(PythonCode(fn))
    # A file beside the flow that it does not import is not its code.
    (flow.parent / "unrelated.py").write_text("X = 2  # edited\n")
    assert cache_keys.code_fingerprint(PythonCode(fn)) == before


def test_a_package_walk_follows_relative_and_absolute_imports(tmp_path: Path) -> None:
    write(tmp_path / "proj" / "__init__.py", "")
    write(tmp_path / "proj" / "util.py", "from .sub.deep import VALUE\n")
    write(tmp_path / "proj" / "sub" / "__init__.py", "")
    write(tmp_path / "proj" / "sub" / "deep.py", "import proj.util\nVALUE = 1\n")
    write(tmp_path / "proj" / "extra.py", "")
    write(tmp_path / "proj" / "never.py", "")
    flows = write(
        tmp_path / "proj" / "flows.py",
        """\
        import os
        from . import util
        from proj import extra

        def task_fn():
            from proj.sub import deep  # loaded when called: still its code
            return util.VALUE + deep.VALUE
        """,
    )
    sys.path.insert(0, str(tmp_path))
    from_package = importlib.import_module("proj.flows").task_fn
    assert cache_keys.local_modules(from_package) == [
        "proj/__init__.py",
        "proj/extra.py",
        "proj/sub/__init__.py",
        "proj/sub/deep.py",
        "proj/util.py",
    ]
    # The root is where absolute imports are looked for (the folder on sys.path): with the
    # package itself as root, `proj.x` is no file under it, and only relative imports count.
    assert cache_keys.local_modules(from_package, root=str(tmp_path / "proj")) == [
        "sub/__init__.py",
        "sub/deep.py",
        "util.py",
    ]
    before = cache_keys.code_fingerprint(PythonCode(from_package))
    (tmp_path / "proj" / "sub" / "deep.py").write_text("import proj.util\nVALUE = 22\n")
    assert cache_keys.code_fingerprint(PythonCode(from_package)) != before
    assert flows.exists()


def test_the_walk_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(6):
        write(tmp_path / f"m{i}.py", f"import m{i + 1}\nimport m0\n")  # a chain and a cycle
    write(tmp_path / "m6.py", "")
    flow = write(tmp_path / "flow.py", "import m0\n\ndef task_fn():\n    return m0\n")
    fn = load(flow)
    assert cache_keys.local_modules(fn) == [f"m{i}.py" for i in range(7)]
    monkeypatch.setattr(cache_keys, "MAX_IMPORT_DEPTH", 2)
    assert cache_keys.local_modules(fn) == ["m0.py", "m1.py"]
    monkeypatch.setattr(cache_keys, "MAX_IMPORT_DEPTH", 8)
    monkeypatch.setattr(cache_keys, "MAX_LOCAL_MODULES", 3)
    assert cache_keys.local_modules(fn) == ["m0.py", "m1.py", "m2.py"]


def test_a_decorated_task_is_fingerprinted_by_its_function(tmp_path: Path) -> None:
    flow = write(
        tmp_path / "flow.py",
        """\
        from baton import task

        @task(retries=1)
        def task_fn(x):
            return x
        """,
    )
    decorated = load(flow)
    plain = decorated.fn  # type: ignore[attr-defined]
    assert cache_keys.code_fingerprint(PythonCode(decorated)) == cache_keys.code_fingerprint(
        PythonCode(plain)
    )


def test_a_function_without_source_is_refused() -> None:
    namespace: dict[str, Any] = {}
    exec("def made(x):\n    return x\n", namespace)
    with pytest.raises(CacheKeyError, match=r"cannot read the source of .*made.*include_code"):
        cache_keys.code_fingerprint(PythonCode(namespace["made"]))


# -- scripts and SQL -----------------------------------------------------------------------


def test_a_script_is_keyed_by_its_bytes(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_bytes(b"echo one\n")
    before = cache_keys.code_fingerprint(ScriptFile(str(script)))
    assert cache_keys.code_fingerprint(ScriptFile(str(script))) == before
    script.write_bytes(b"echo two\n")
    assert cache_keys.code_fingerprint(ScriptFile(str(script))) != before
    with pytest.raises(CacheKeyError, match=r"cannot read the script .*missing\.sh"):
        cache_keys.code_fingerprint(ScriptFile(str(tmp_path / "missing.sh")))


def test_sql_is_keyed_by_its_text_whatever_its_line_endings(tmp_path: Path) -> None:
    one = cache_keys.code_fingerprint(SqlText("SELECT 1\nFROM t"))
    assert cache_keys.code_fingerprint(SqlText("SELECT 1\r\nFROM t")) == one
    assert cache_keys.code_fingerprint(SqlText("SELECT 2\nFROM t")) != one
    # The kinds keep apart: a script file holding that text is another code.
    script = tmp_path / "q.sql"
    script.write_text("SELECT 1\nFROM t")
    assert cache_keys.code_fingerprint(ScriptFile(str(script))) != one


# -- the default key -----------------------------------------------------------------------


def key(
    definition: str = DEFINITION,
    code: str | None = "c0de",
    inputs: dict[str, Any] | None = None,
    partition: str | None = "2024-05-01",
) -> str:
    if inputs is None:
        inputs = {"upstream.extract": [1, 2], "params.day": "2024-05-01"}
    return cache_keys.default_key(definition, code, inputs, partition)


def test_the_default_key_changes_with_each_part() -> None:
    base = key()
    assert len(base) == 64 and key() == base
    assert key(code="c0dd") != base
    assert key(code=None) != base
    assert key(inputs={"upstream.extract": [1, 3], "params.day": "2024-05-01"}) != base
    assert key(inputs={"upstream.extract": [1, 2], "params.day": "2024-05-02"}) != base
    assert key(inputs={"upstream.extract": [1, 2]}) != base
    assert key(partition="2024-05-02") != base
    assert key(partition=None) != base
    changed = json.dumps({"key": "load", "type": "python", "config": {"function": "f:other"}})
    assert key(definition=changed) != base


def test_the_default_key_ignores_order() -> None:
    base = key(inputs={"a": {"x": 1, "y": [1, {"p": 1, "q": 2}]}, "b": None})
    swapped = key(inputs={"b": None, "a": {"y": [1, {"q": 2, "p": 1}], "x": 1}})
    assert swapped == base
    definition = json.loads(DEFINITION)
    reordered = json.dumps(dict(reversed(list(definition.items()))))
    assert key(definition=reordered) == key()
    assert key(inputs={"s": {"c", "a", "b"}}) == key(inputs={"s": {"b", "c", "a"}})


def test_how_a_task_runs_does_not_enter_the_default_key() -> None:
    definition = json.loads(DEFINITION)
    for field, value in [
        ("retry", {"retries": 3}),
        ("timeout", 60),
        ("queue", "gpu"),
        ("pool", "db"),
        ("priority", 5),
        ("trigger_rule", "all_done"),
        ("cache", {"ttl": 60, "refresh": True}),
    ]:
        assert key(definition=json.dumps({**definition, field: value})) == key(), field
    assert key(definition=json.dumps({**definition, "map_over": "x"})) != key()


def test_an_input_json_cannot_encode_is_named() -> None:
    with pytest.raises(CacheKeyError) as caught:
        key(inputs={"upstream.extract": [1], "upstream.frame": object()})
    message = str(caught.value)
    assert message.startswith("input 'upstream.frame' (object) cannot enter the task's cache key")
    assert "cache_key function or a key template" in message
    with pytest.raises(CacheKeyError, match=r"input 'upstream\.counts' \(dict\)"):
        key(inputs={"upstream.counts": {1: "a"}})


def test_a_definition_that_is_no_json_is_refused() -> None:
    with pytest.raises(CacheKeyError, match="the task definition to key its cache is not JSON"):
        key(definition="{key: load")


STABLE = """\
import json, sys
from baton.execution import cache_keys
flow = sys.argv[1]
sys.path.insert(0, flow.rsplit("/", 1)[0])
import importlib.util
spec = importlib.util.spec_from_file_location("flow", flow)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
code = cache_keys.code_fingerprint(cache_keys.PythonCode(module.task_fn))
inputs = {"upstream.tags": {"beta", "alpha", "gamma", "delta"}, "params": {"b": 1.1, "a": [0.1]}}
print(json.dumps([code, cache_keys.default_key(sys.argv[2], code, inputs, "p1")]))
"""


def test_keys_are_the_same_in_another_process(flow: Path) -> None:
    """Another hash seed (set iteration order), another working directory, another process."""
    code = fingerprint(flow)
    inputs = {
        "params": {"a": [0.1], "b": 1.1},
        "upstream.tags": {"delta", "gamma", "alpha", "beta"},
    }
    expected = [code, cache_keys.default_key(DEFINITION, code, inputs, "p1")]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", STABLE, str(flow), DEFINITION],
        capture_output=True,
        text=True,
        env=env,
        cwd=flow.parent,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == expected


# -- custom and template keys --------------------------------------------------------------


def by_day(params: dict[str, Any]) -> str:
    return str(params["day"])


def test_a_custom_key_calls_the_function_with_what_it_names() -> None:
    values = {"params": {"day": "2024-05-01"}, "partition": None, "upstream": {}}
    base = cache_keys.custom_key(by_day, values, identity="etl/load")
    other_params = {**values, "params": {"day": "2024-05-01", "unused": 1}}
    assert cache_keys.custom_key(by_day, other_params, identity="etl/load") == base
    next_day = {**values, "params": {"day": "2024-05-02"}}
    assert cache_keys.custom_key(by_day, next_day, identity="etl/load") != base
    assert cache_keys.custom_key(by_day, values, identity="etl/report") != base
    assert cache_keys.custom_key(by_day, values, identity="etl/load", code="c0de") != base


def test_a_custom_key_with_kwargs_gets_every_value() -> None:
    seen: dict[str, Any] = {}

    def everything(**values: Any) -> str:
        seen.update(values)
        return "k"

    cache_keys.custom_key(everything, {"params": {}, "partition": "p"}, identity="f/t")
    assert seen == {"params": {}, "partition": "p"}


def test_a_custom_key_must_return_a_str() -> None:
    with pytest.raises(CacheKeyError) as caught:
        cache_keys.custom_key(lambda params: 20240501, {"params": {}}, identity="f/t")
    assert "returned int 20240501: it must return a str" in str(caught.value)


def test_a_custom_key_asking_for_an_unknown_value_is_told_what_there_is() -> None:
    def wants(params: dict[str, Any], nonsense: str) -> str:
        return ""

    with pytest.raises(CacheKeyError) as caught:
        cache_keys.custom_key(wants, {"params": {}, "partition": None}, identity="f/t")
    assert "asks for 'nonsense', which is not given to a cache key;" in str(caught.value)
    assert str(caught.value).endswith("it may ask for: params, partition")


def test_an_error_in_the_users_function_is_its_own() -> None:
    def broken(params: dict[str, Any]) -> str:
        raise KeyError("day")

    with pytest.raises(KeyError):
        cache_keys.custom_key(broken, {"params": {}}, identity="f/t")


def test_a_template_key_is_the_rendered_text_and_the_task() -> None:
    base = cache_keys.template_key("2024-05-01", identity="etl/load")
    assert cache_keys.template_key("2024-05-01", identity="etl/load") == base
    assert cache_keys.template_key("2024-05-02", identity="etl/load") != base
    assert cache_keys.template_key("2024-05-01", identity="etl/report") != base
    assert cache_keys.template_key("2024-05-01", identity="etl/load", code="c") != base
    # A custom key returning the same text is another kind of key.
    same_text = cache_keys.custom_key(lambda: "2024-05-01", {}, identity="etl/load")
    assert same_text != base
