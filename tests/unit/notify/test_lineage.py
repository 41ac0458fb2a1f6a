"""The OpenLineage sinks and settings: what a misconfigured or failing sink says (never the
URL's password), and how the settings are read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baton.errors import InputError
from baton.notify import lineage
from baton.settings import Settings

PASSWORD = "pa55-W0rd-x"


def settings(tmp_path: Path, **fields: object) -> Settings:
    return Settings(home=str(tmp_path), database_url=f"sqlite:///{tmp_path}/b.db", **fields)  # type: ignore[arg-type]


def test_the_file_sink_appends_one_line_per_event(tmp_path: Path) -> None:
    path = tmp_path / "ol.jsonl"
    s = settings(tmp_path, openlineage_file=str(path))
    lineage.send(s, "file", {"eventType": "START", "n": 1}, timeout=1.0)
    lineage.send(s, "file", {"eventType": "COMPLETE", "n": "é"}, timeout=1.0)
    lines = path.read_text().splitlines()
    assert [json.loads(x) for x in lines] == [
        {"eventType": "START", "n": 1},
        {"eventType": "COMPLETE", "n": "é"},
    ]


def test_a_file_sink_that_cannot_be_written_says_what_to_do(tmp_path: Path) -> None:
    s = settings(tmp_path, openlineage_file=str(tmp_path / "missing" / "ol.jsonl"))
    with pytest.raises(lineage.LineageError, match=r"BATON_OPENLINEAGE_FILE .*make its folder"):
        lineage.send(s, "file", {}, timeout=1.0)


@pytest.mark.parametrize(("sink", "name"), [("http", "URL"), ("file", "FILE")])
def test_a_sink_not_configured_here_is_named(tmp_path: Path, sink: str, name: str) -> None:
    with pytest.raises(lineage.LineageError, match=f"BATON_OPENLINEAGE_{name} is not set"):
        lineage.send(settings(tmp_path), sink, {}, timeout=1.0)


def test_an_unknown_sink_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(lineage.LineageError, match="unknown OpenLineage sink 'kafka'"):
        lineage.send(settings(tmp_path), "kafka", {}, timeout=1.0)


def test_an_unreachable_receiver_is_named_without_its_password(tmp_path: Path) -> None:
    url = f"http://user:{PASSWORD}@127.0.0.1:1"  # port 1: nothing listens
    with pytest.raises(lineage.LineageError) as caught:
        lineage.send(settings(tmp_path, openlineage_url=url), "http", {}, timeout=1.0)
    assert str(caught.value).startswith("OpenLineage receiver http://127.0.0.1:1: ")
    assert PASSWORD not in str(caught.value) and "user" not in str(caught.value)


def test_sinks_follow_the_settings(tmp_path: Path) -> None:
    assert lineage.sinks(settings(tmp_path)) == []
    assert not settings(tmp_path).openlineage
    both = settings(tmp_path, openlineage_url="http://m", openlineage_file="/x")
    assert lineage.sinks(both) == ["http", "file"] and both.openlineage


def test_settings_from_the_environment(tmp_path: Path) -> None:
    base = {"BATON_HOME": str(tmp_path)}
    s = Settings.from_env(base)
    assert (s.openlineage_url, s.openlineage_file, s.openlineage_namespace) == (
        None,
        None,
        "baton",
    )
    s = Settings.from_env(
        base
        | {
            "BATON_OPENLINEAGE_URL": "https://u:p@marquez:5000/",
            "BATON_OPENLINEAGE_FILE": "ol.jsonl",
            "BATON_OPENLINEAGE_NAMESPACE": "prod",
        }
    )
    assert s.openlineage_url == "https://u:p@marquez:5000"
    assert s.openlineage_file is not None and Path(s.openlineage_file).is_absolute()
    assert s.openlineage_namespace == "prod"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BATON_OPENLINEAGE_URL", f"marquez:{PASSWORD}@5000"),
        ("BATON_OPENLINEAGE_URL", f"ftp://u:{PASSWORD}@host"),
        ("BATON_OPENLINEAGE_URL", f"http://u:{PASSWORD}@"),
        ("BATON_OPENLINEAGE_URL", f"http://u:{PASSWORD}@[::1"),
        ("BATON_OPENLINEAGE_NAMESPACE", "x" * 201),
        ("BATON_OPENLINEAGE_NAMESPACE", "a\nb"),
    ],
)
def test_bad_settings_are_refused_naming_them(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(InputError, match=name) as caught:
        Settings.from_env({"BATON_HOME": str(tmp_path), name: value})
    assert PASSWORD not in str(caught.value)
