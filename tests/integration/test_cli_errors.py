"""Bad definitions and bad input: exit 2, a one-paragraph message naming the thing, no traceback."""

from __future__ import annotations

import re

import pytest

PY_FLOW = """
from baton import flow, task

@task
def double(n: int) -> int:
    return 2 * n

@flow
def numbers(n: int = 1, label: str = "x"):
    double(n)
"""


def bad(baton, *args: str) -> str:
    """Run `baton ARGS`, expecting exit 2 and a clean message; returns the message."""
    proc = baton(*args, check=2)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    message = proc.stderr.strip()
    assert message, "no message on stderr"
    assert "\n\n" not in message, f"more than one paragraph:\n{message}"
    return message


def line_numbers(message: str) -> list[int]:
    """Line numbers a message points at: `line N` or `file.yaml:N`."""
    return [int(n) for n in re.findall(r"(?:\bline |\.ya?ml:)(\d+)", message)]


def assert_nothing_recorded(baton) -> None:
    assert baton.json("runs", "list") == []


def test_cycle_names_the_cycle(baton, write):
    path = write(
        "cyclic.yaml",
        """
        name: cyclic
        tasks:
          - {key: start, type: shell, command: "true"}
          - {key: a, type: shell, command: "true", depends_on: [start, c]}
          - {key: b, type: shell, command: "true", depends_on: [a]}
          - {key: c, type: shell, command: "true", depends_on: [b]}
        """,
    )
    message = bad(baton, "run", path)
    assert "cyclic.yaml" in message
    assert "cycle" in message.lower()
    # The cycle a -> b -> c -> a, in some rotation, and not the innocent root.
    assert re.search(r"\ba\b.*\bb\b.*\bc\b|\bb\b.*\bc\b.*\ba\b|\bc\b.*\ba\b.*\bb\b", message), (
        message
    )
    assert_nothing_recorded(baton)


def test_unknown_upstream(baton, write):
    path = write(
        "up.yaml",
        """
        name: up
        tasks:
          - {key: first, type: shell, command: "true"}
          - {key: second, type: shell, command: "true", depends_on: [frist]}
        """,
    )
    message = bad(baton, "run", path)
    assert "up.yaml" in message
    assert "second" in message
    assert "frist" in message


def test_duplicate_key(baton, write):
    path = write(
        "dup.yaml",
        """
        name: dup
        tasks:
          - {key: twice, type: shell, command: "true"}
          - {key: other, type: shell, command: "true"}
          - {key: twice, type: shell, command: "true"}
        """,
    )
    message = bad(baton, "run", path)
    assert "dup.yaml" in message
    assert "twice" in message
    assert "duplicate" in message.lower()


def test_unknown_task_type(baton, write):
    path = write(
        "typ.yaml",
        """
        name: typ
        tasks:
          - {key: beam, type: teleport, command: "true"}
        """,
    )
    message = bad(baton, "run", path)
    assert "typ.yaml" in message
    assert "beam" in message
    assert "teleport" in message


def test_missing_python_function(baton, write):
    write("mylib.py", "def present():\n    return 1\n")
    path = write(
        "fn.yaml",
        """
        name: fn
        tasks:
          - {key: call_it, type: python, function: "mylib:nope"}
        """,
    )
    message = bad(baton, "run", path)
    assert "fn.yaml" in message
    assert "call_it" in message
    assert "nope" in message


def test_missing_python_module(baton, write):
    path = write(
        "mod.yaml",
        """
        name: mod
        tasks:
          - {key: call_it, type: python, function: "no_such_module_xyz:f"}
        """,
    )
    message = bad(baton, "run", path)
    assert "call_it" in message
    assert "no_such_module_xyz" in message


def test_malformed_yaml_names_the_line(baton, write):
    path = write(
        "broken.yaml",
        """
        name: broken
        tasks:
          - key: a
            type: shell
            command: "echo [
          - key: b
        """,
    )
    message = bad(baton, "run", path)
    assert "broken.yaml" in message
    # The unterminated string starts on line 5; the parser may only notice it later.
    numbers = line_numbers(message)
    assert numbers, f"no line number in: {message}"
    assert all(5 <= n <= 7 for n in numbers), message


def test_malformed_yaml_bad_mapping_line(baton, write):
    path = write(
        "colon.yaml",
        """
        name: colon
        tasks:
          - key: a: b
            type: shell
        """,
    )
    message = bad(baton, "run", path)
    assert line_numbers(message) == [3], message


def test_unknown_param(baton, write):
    path = write("numbers.py", PY_FLOW)
    message = bad(baton, "run", path, "-p", "nope=1")
    assert "nope" in message
    assert "numbers" in message
    assert_nothing_recorded(baton)


def test_ill_typed_param(baton, write):
    path = write("numbers.py", PY_FLOW)
    message = bad(baton, "run", path, "-p", "n=abc")
    assert re.search(r"\bn\b", message), message
    assert "abc" in message
    assert_nothing_recorded(baton)


def test_ill_typed_param_yaml(baton, write):
    path = write(
        "typed.yaml",
        """
        name: typed
        params:
          count: {type: integer, default: 3}
        tasks:
          - {key: a, type: shell, command: "echo {{ params.count }}"}
        """,
    )
    message = bad(baton, "run", path, "-p", "count=three")
    assert "count" in message
    assert "three" in message


@pytest.mark.parametrize("name", ["missing.py", "missing.yaml"])
def test_file_that_does_not_exist(baton, name):
    message = bad(baton, "run", name)
    assert name in message


def test_unknown_flow_name(baton, write):
    path = write(
        "two.py",
        """
        from baton import flow, task

        @task
        def one():
            return 1

        @flow
        def alpha():
            one()

        @flow
        def beta():
            one()
        """,
    )
    message = bad(baton, "run", path, "--flow", "gamma")
    assert "gamma" in message
    assert "two.py" in message
    run = baton.run(path, "--flow", "beta")
    assert run["flow"] == "beta"
    assert run["state"] == "succeeded"


def test_python_file_that_fails_to_import(baton, write):
    path = write(
        "boom.py",
        """
        from baton import flow, task
        raise RuntimeError("kaboom at import")
        """,
    )
    message = bad(baton, "run", path)
    assert "boom.py" in message
    assert "kaboom at import" in message


def test_flows_show_reports_bad_definition(baton, write):
    path = write(
        "cyc.yaml",
        """
        name: cyc
        tasks:
          - {key: x, type: shell, command: "true", depends_on: [y]}
          - {key: y, type: shell, command: "true", depends_on: [x]}
        """,
    )
    message = bad(baton, "flows", "show", path)
    assert "cycle" in message.lower()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- just\n- a list\n", None),
        ("name: empty\n", "tasks"),
        ("name: nokey\ntasks:\n  - {type: shell, command: 'true'}\n", "key"),
        ("name: nocmd\ntasks:\n  - {key: lonely, type: shell}\n", "lonely"),
        (
            "name: rule\ntasks:\n"
            "  - {key: r, type: shell, command: 'true', trigger_rule: sometimes}\n",
            "sometimes",
        ),
        ("name: neg\ntasks:\n  - {key: n, type: shell, command: 'true', retries: -1}\n", "retries"),
        (
            "name: mo\ntasks:\n  - {key: m, type: shell, command: 'true', map_over: ghost}\n",
            "ghost",
        ),
        ("name: tab\ntasks:\n\t- {key: t, type: shell, command: 'true'}\n", None),
    ],
    ids=["list", "no-tasks", "no-key", "no-command", "bad-rule", "neg-retries", "map-over", "tab"],
)
def test_other_bad_yaml(baton, write, text, expected):
    path = write("bad.yaml", text)
    message = bad(baton, "run", path)
    assert "bad.yaml" in message
    if expected:
        assert expected in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("@task(trigger_rule='sometimes')\ndef t():\n    pass\n", "sometimes"),
        (
            "@task\ndef t():\n    return 1\n\n@flow\ndef f():\n    x = t() + 1\n",
            "'f'",
        ),
        (
            "@task\ndef t(x):\n    return 1\n\n@flow\ndef f():\n    t(object())\n",
            "JSON",
        ),
        ("@task(isolation='fork')\ndef t():\n    pass\n", "fork"),
    ],
    ids=["bad-rule", "compute-on-ref", "non-json-arg", "bad-isolation"],
)
def test_bad_python_definitions(baton, write, body, expected):
    path = write("badpy.py", "from baton import flow, task\n\n" + body)
    message = bad(baton, "run", path)
    assert "badpy.py" in message
    assert expected in message


@pytest.mark.parametrize(
    ("param", "expected"),
    [("n", "n"), ("=3", None), ("flag=maybe", "maybe"), ("items=[1,", "items")],
)
def test_bad_param_syntax(baton, write, param, expected):
    path = write(
        "p.py",
        """
        from baton import flow, task

        @task
        def t(n, flag, items):
            return n

        @flow
        def p(n: int = 1, flag: bool = False, items: list = []):
            t(n, flag, items)
        """,
    )
    message = bad(baton, "run", path, "-p", param)
    if expected:
        assert expected in message


def test_arguments_whose_bytes_are_not_utf8_are_refused(baton, write):
    # Python reads such bytes as lone surrogates: `--json` crashed printing one, and a run
    # that stored one broke its API answer and its page (500) for good.
    path = write("numbers.py", PY_FLOW)
    assert bad(baton, "run", path, "-p", "label=\udcff") == (
        "error: params: the value given is not valid UTF-8 text"
    )
    token = "secret-token-\udcff"
    message = bad(baton, "runs", "list", "--server", "http://127.0.0.1:9", "--token", token)
    assert message == "error: token: the value given is not valid UTF-8 text"
    assert "not valid UTF-8" in bad(baton, "runs", "list", "--flow", "x\udcff")
    assert baton.json("runs", "list") == []  # nothing was written
