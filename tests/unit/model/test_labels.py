"""A flow's tags and owner: from YAML and `@flow(...)`, checked, and absent from the hash of
a flow that has none."""

from __future__ import annotations

import msgspec
import pytest

from baton import flow, task
from baton.errors import DefinitionError
from baton.model.spec import FlowSpec
from baton.model.yaml_spec import load_yaml_flow

PLAIN_HASH = "4f379ce167957edc"  # computed at commit cd3ca31, before tags and owner
PLAIN = """
name: plain
tasks:
  - {key: a, type: shell, command: "true"}
"""


def test_yaml_tags_and_owner():
    spec = load_yaml_flow(
        "tags: [finance, daily, finance]\nowner: ' data-team@example.com '\n" + PLAIN,
        file="f.yaml",
    )
    assert spec.tags == ("finance", "daily")
    assert spec.owner == "data-team@example.com"
    assert FlowSpec.from_json(spec.to_json()) == spec


def test_a_flow_without_them_keeps_its_hash():
    spec = load_yaml_flow(PLAIN, file="f.yaml")
    assert "tags" not in spec.to_json() and "owner" not in spec.to_json()
    assert spec.content_hash() == PLAIN_HASH
    tagged = msgspec.structs.replace(spec, tags=("x",))
    assert tagged.content_hash() != spec.content_hash()


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        ("tags: finance\n", "'tags' must be a list", 2),
        ("tags: [ok, 'bad tag']\n", "'tags' entry 'bad tag'", 2),
        ("tags: [" + ", ".join(f"t{i}" for i in range(21)) + "]\n", "at most 20", 2),
        ("tags: [" + "x" * 51 + "]\n", "'tags' entry", 2),
        ("tags: [1]\n", "'tags' entry 1", 2),
        ("owner: [a]\n", "'owner' must be a string", 2),
        ("owner: " + "o" * 201 + "\n", "'owner' has 201", 2),
    ],
)
def test_bad_yaml_names_the_field_and_line(text: str, field: str, line: int):
    with pytest.raises(DefinitionError) as info:
        load_yaml_flow("\n" + text + PLAIN, file="f.yaml")
    assert field in info.value.message
    assert info.value.line == line
    assert str(info.value).startswith(f"f.yaml:{line}")


@task
def noop() -> None:
    pass


def test_decorator_tags_and_owner():
    @flow(tags=["finance", "daily"], owner="data-team@example.com")
    def tagged() -> None:
        noop()

    assert tagged.spec.tags == ("finance", "daily")
    assert tagged.spec.owner == "data-team@example.com"


@pytest.mark.parametrize(
    ("options", "field"),
    [({"tags": "finance"}, "'tags'"), ({"tags": ["a b"]}, "'tags'"), ({"owner": 3}, "'owner'")],
)
def test_decorator_rejects_bad_ones(options: dict[str, object], field: str):
    with pytest.raises(DefinitionError, match=field) as info:

        @flow(**options)  # type: ignore[call-overload]
        def bad() -> None:
            noop()

    assert info.value.flow == "bad"
