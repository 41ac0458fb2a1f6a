"""Running one asset check (`execution.checks`): sql checks on a real SQLite file, python
checks called with their keyword arguments, and what a check that cannot say records."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import baton
from baton.engine.planner import CheckRun
from baton.execution import checks
from baton.execution.secrets import Secrets
from baton.model.assets import AssetSpec, CheckSpec
from baton.model.spec import FlowSpec, TaskSpec

SECRET = "s3cr3t-pa55word"


def secrets() -> Secrets:
    return Secrets({}, {"BATON_SECRET_DB_PW": SECRET})


def run(
    check: CheckSpec,
    target: checks.Target | None = None,
    functions: dict[str, Callable[..., Any]] | None = None,
) -> CheckRun:
    def load(ref: str) -> Callable[..., Any]:
        if functions is None or ref not in functions:
            raise baton.errors.DefinitionError(f"cannot import module for '{ref}'")
        return functions[ref]

    return checks.run_check(
        check, target or checks.Target("w.orders", {}), secrets=secrets(), load_function=load
    )


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A SQLite file with 25 orders, 23 of them without an amount; its URL."""
    path = tmp_path / "w.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER, amount REAL, note TEXT, raw BLOB)")
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            [
                (i, None if i > 2 else 9.5, "x" * 5000 if i == 3 else "n", b"\x01")
                for i in range(25)
            ],
        )
    return f"sqlite:///{path}"


def sql(query: str, url: str, **fields: Any) -> CheckSpec:
    return CheckSpec(name="c", sql=query, url=url, **fields)


# -- sql -----------------------------------------------------------------------------------


def test_a_sql_check_with_no_failing_rows_passes(db: str) -> None:
    r = run(sql("SELECT * FROM orders WHERE id < 0", db))
    assert (r.passed, r.failing_rows, r.metadata, r.error) == (True, (), None, None)
    assert (r.asset, r.name, r.severity) == ("w.orders", "c", "error")
    assert r.duration >= 0 and r.at > 0


def test_a_sql_check_keeps_at_most_20_failing_rows_as_json(db: str) -> None:
    r = run(sql("SELECT * FROM orders WHERE amount IS NULL ORDER BY id", db, severity="warn"))
    assert not r.passed and r.severity == "warn" and r.error is None
    assert r.failing_rows is not None and len(r.failing_rows) == checks.MAX_ROWS
    assert r.metadata == {"more_failing_rows": True}
    first = r.failing_rows[0]
    assert first["id"] == 3 and first["amount"] is None and first["raw"] == "01"
    assert len(first["note"]) == checks.MAX_VALUE and first["note"].endswith("…")
    json.dumps(list(r.failing_rows), allow_nan=False)  # what is recorded is JSON
    assert "20+ failing row(s)" in checks.line(r)


def test_a_sql_check_changes_nothing(db: str) -> None:
    r = run(sql("DELETE FROM orders RETURNING id", db))
    assert not r.passed
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (25,)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("SELECT * FROM nowhere", "its query failed: OperationalError: no such table: nowhere"),
        ("UPDATE orders SET amount = 1 WHERE 0", "its query returns no rows"),
    ],
)
def test_a_sql_check_that_cannot_run_fails_with_its_error(db: str, query: str, says: str) -> None:
    r = run(sql(query, db))
    assert not r.passed and r.failing_rows is None
    assert r.error is not None and says in r.error and "\n" not in r.error


def test_a_named_connection_is_read_as_the_sql_task_reads_it(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    check = CheckSpec(name="c", sql="SELECT 1 AS bad", conn="warehouse")
    r = run(check)
    assert r.error is not None and "BATON_CONN_WAREHOUSE (connection 'warehouse') is not set" in (
        r.error
    )
    monkeypatch.setenv("BATON_CONN_WAREHOUSE", db)
    assert run(check).failing_rows == ({"bad": 1},)


def test_secrets_in_a_sql_check_are_resolved_and_masked(tmp_path: Path) -> None:
    url = "postgresql://u:${secret:DB_PW}@127.0.0.1:1/db?connect_timeout=1"
    r = run(sql(f"SELECT '{SECRET}' AS leak", url))
    assert r.error is not None and r.error.startswith(
        "cannot connect to postgresql+psycopg://u:***@"
    )
    assert SECRET not in r.error
    r = run(sql("SELECT '${secret:DB_PW}' AS leak", f"sqlite:///{tmp_path / 'x.db'}"))
    assert r.failing_rows == ({"leak": "***"},)


# -- python --------------------------------------------------------------------------------


def test_a_python_check_gets_asset_metadata_and_partition_by_keyword() -> None:
    seen: dict[str, Any] = {}

    def enough_rows(*, asset: str, metadata: dict[str, Any], partition: str | None) -> Any:
        seen.update(asset=asset, metadata=dict(metadata), partition=partition)
        metadata["rows"] = -1  # its own copy
        return baton.CheckResult(metadata["rows"] < 0, {"min": 10, "password": SECRET})

    target = checks.Target("w.orders", {"rows": 42}, "2024-01-01")
    r = run(CheckSpec(name="rows", python="m:f"), target, {"m:f": enough_rows})
    assert seen == {"asset": "w.orders", "metadata": {"rows": 42}, "partition": "2024-01-01"}
    assert target.metadata == {"rows": 42}
    assert (r.passed, r.metadata, r.failing_rows, r.error) == (
        True,
        {"min": 10, "password": "***"},
        None,
        None,
    )


@pytest.mark.parametrize("value", [True, False])
def test_a_python_check_may_return_a_bool(value: bool) -> None:
    r = run(CheckSpec(name="b", python="m:f"), functions={"m:f": lambda **_: value})
    assert (r.passed, r.metadata, r.error) == (value, None, None)


async def _async_check(**_: Any) -> bool:
    return True


def test_an_async_python_check_is_awaited() -> None:
    assert run(CheckSpec(name="b", python="m:f"), functions={"m:f": _async_check}).passed


@pytest.mark.parametrize(
    ("fn", "says"),
    [
        (lambda **_: 1, "m:f returned int 1: return True, False or baton.CheckResult"),
        (lambda **_: None, "m:f returned NoneType None"),
        (
            lambda **_: baton.CheckResult(True, {"when": object()}),
            "its CheckResult metadata is not JSON",
        ),
        (lambda **_: baton.CheckResult(True, {"x": float("nan")}), "not JSON"),
        (lambda: True, "TypeError: "),
    ],
)
def test_a_python_check_returning_anything_else_failed(fn: Any, says: str) -> None:
    r = run(CheckSpec(name="b", python="m:f"), functions={"m:f": fn})
    assert not r.passed and r.error is not None and says in r.error


def test_a_raising_python_check_failed_with_its_error_one_line_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def boom(**_: Any) -> bool:
        raise ValueError(f"cannot reach db with {SECRET}\nsecond line")

    r = run(CheckSpec(name="b", python="m:f"), functions={"m:f": boom})
    assert not r.passed
    assert r.error == "ValueError: cannot reach db with *** second line"
    assert "in boom" in capsys.readouterr().out  # the traceback, for the attempt's log


def test_a_python_check_that_cannot_be_imported_failed() -> None:
    r = run(CheckSpec(name="b", python="nowhere:f"))
    assert not r.passed and r.error == "cannot import module for 'nowhere:f'"


# -- what an attempt runs ------------------------------------------------------------------


def test_of_task_lists_the_outputs_declared_with_checks_in_outputs_order() -> None:
    c = CheckSpec(name="c", python="m:f")
    spec = FlowSpec(
        name="f",
        tasks=(TaskSpec(key="t", type="shell", outputs=("w.b", "w.a", "w.none", "w.undeclared")),),
        assets=(
            AssetSpec(name="w.a", checks=(c,)),
            AssetSpec(name="w.b", checks=(c,)),
            AssetSpec(name="w.none"),
        ),
    )
    assert [a.name for a in checks.of_task(spec, spec.tasks[0])] == ["w.b", "w.a"]
    assert checks.of_task(spec, TaskSpec(key="u", type="shell")) == ()


def test_run_all_logs_one_line_per_check_and_blocking_error_names_them() -> None:
    lines: list[str] = []
    functions = {"m:ok": lambda **_: True, "m:no": lambda **_: False}
    ran = checks.run_all(
        [
            (
                (
                    CheckSpec(name="ok", python="m:ok"),
                    CheckSpec(name="soft", python="m:no", severity="warn"),
                ),
                checks.Target("w.a", {}),
            ),
            ((CheckSpec(name="hard", python="m:no"),), checks.Target("w.b", {})),
        ],
        secrets=Secrets.empty(),
        load_function=functions.__getitem__,
        log=lines.append,
    )
    assert [(r.asset, r.name, r.passed) for r in ran] == [
        ("w.a", "ok", True),
        ("w.a", "soft", False),
        ("w.b", "hard", False),
    ]
    assert [line.split(" in ")[0] for line in lines] == [
        "check ok of asset w.a: passed",
        "check soft of asset w.a: failed (warn)",
        "check hard of asset w.b: failed (error)",
    ]
    error = checks.blocking_error(ran)
    assert error is not None and error.startswith("asset 'w.b' failed check 'hard':")
    assert "soft" not in error
    assert checks.blocking_error(ran[:2]) is None


def test_wide_failing_rows_are_kept_within_a_size(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wide.db'}"

    def select(columns: int, width: int) -> str:
        return "SELECT " + ", ".join(f"'{'v' * width}' AS c{i}" for i in range(columns))

    r = run(sql(select(300, 2000), url))  # one row over the size, its values cut or not
    assert not r.passed and r.failing_rows == () and r.metadata == {"more_failing_rows": True}
    one = select(100, 900)
    r = run(sql(f"{one} UNION ALL {one} UNION ALL {one}", url))
    assert r.failing_rows is not None and len(r.failing_rows) == 2
    assert len(json.dumps(list(r.failing_rows))) <= checks.MAX_ROWS_JSON
