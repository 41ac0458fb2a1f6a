"""The dialect layer's pure parts: URLs and placeholder translation."""

from __future__ import annotations

import pytest

from baton.errors import StoreError
from baton.store import dialect


@pytest.mark.parametrize(
    ("sqlite_sql", "psycopg_sql"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s"),
        ("UPDATE t SET x = :x_1 WHERE id = :id", "UPDATE t SET x = %(x_1)s WHERE id = %(id)s"),
        (
            "SELECT '?', ':no', \"a?\" FROM t WHERE c = ?",
            "SELECT '?', ':no', \"a?\" FROM t WHERE c = %s",
        ),
        ("SELECT 'it''s ?' WHERE a = ?", "SELECT 'it''s ?' WHERE a = %s"),
        ("SELECT '50%' AS p, a % 2 FROM t", "SELECT '50%%' AS p, a %% 2 FROM t"),
        ("SELECT x::text, :y::int", "SELECT x::text, %(y)s::int"),
        ("SELECT a:b, ':'", "SELECT a%(b)s, ':'"),  # not valid SQL: shows the rule's limit
        ("BEGIN", "BEGIN"),
    ],
)
def test_translate(sqlite_sql: str, psycopg_sql: str) -> None:
    assert dialect.translate(sqlite_sql) == psycopg_sql


def test_translate_caches_each_text() -> None:
    sql = "SELECT ? AS cached"
    assert dialect.translate(sql) is dialect.translate(sql)


@pytest.mark.parametrize(
    ("url", "libpq", "sqlalchemy"),
    [
        (
            "postgresql://u@h:5432/db",
            "postgresql://u@h:5432/db",
            "postgresql+psycopg://u@h:5432/db",
        ),
        (
            "postgresql+psycopg://u@h/db?options=-csearch_path%3Ds",
            "postgresql://u@h/db?options=-csearch_path%3Ds",
            "postgresql+psycopg://u@h/db?options=-csearch_path%3Ds",
        ),
        ("postgres://u@h/db", "postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_postgres_urls(url: str, libpq: str, sqlalchemy: str) -> None:
    d = dialect.for_url(url)
    assert isinstance(d, dialect.Postgres)
    assert (d.libpq_url(), d.sqlalchemy_url()) == (libpq, sqlalchemy)


def test_sqlite_urls() -> None:
    d = dialect.for_url("sqlite:////abs/baton.db")
    assert isinstance(d, dialect.SQLite)
    assert (d.path, d.sqlalchemy_url()) == ("/abs/baton.db", "sqlite:////abs/baton.db")
    assert dialect.for_url("sqlite:///rel/baton.db").path == "rel/baton.db"  # type: ignore[union-attr]
    with pytest.raises(StoreError, match="names no file"):
        dialect.for_url("sqlite://")


def test_an_unsupported_url_names_the_supported_ones() -> None:
    with pytest.raises(StoreError, match=r"sqlite:///PATH .* postgresql://"):
        dialect.for_url("mysql://u@h/db")
