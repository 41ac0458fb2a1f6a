"""The effective-role rule and namespaces, with plain values."""

from __future__ import annotations

import pytest

import baton
from baton.errors import DefinitionError, InputError
from baton.model import namespaces, yaml_spec
from baton.model.access import Access, Grant, Visibility, higher

ANN = (Grant("operator", "namespace", "finance"), Grant("editor", "flow", "hr/pay"))


def test_the_effective_role_is_the_highest_of_the_global_role_and_matching_grants():
    assert Access("viewer", None, ANN).role_on("finance/orders") == "operator"
    assert Access("admin", None, ANN).role_on("finance/orders") == "admin"
    assert Access("viewer", None, ANN).role_on("hr/pay") == "editor"
    assert Access("viewer", None, ANN).role_on("hr/other") == "viewer"
    assert Access(None, None, ANN).role_on("hr/other") is None
    assert Access(None, None, ANN).role_on("orders") is None
    assert Access(None, None, ANN).highest() == "editor"
    assert Access(None).highest() is None


def test_a_token_limited_to_a_namespace_holds_nothing_outside_it():
    held = Access("admin", "finance", ANN)
    assert held.role_on("finance/orders") == "admin"
    assert held.role_on("hr/pay") is None
    assert held.role_on("orders") is None
    assert held.global_role is None
    assert held.highest() == "admin"
    assert held.visibility() == Visibility(namespaces=frozenset({"finance"}))
    assert Access(None, "hr", ANN).visibility() == Visibility(flows=frozenset({"hr/pay"}))
    assert Access(None, "hr", ANN).highest() == "editor"


def test_visibility():
    assert Access("viewer").visibility().everything
    assert Access(None, None, ANN).visibility() == Visibility(
        namespaces=frozenset({"finance"}), flows=frozenset({"hr/pay"})
    )
    assert Access(None).visibility() == Visibility()


def test_higher():
    assert higher(None, "viewer") == "viewer"
    assert higher("admin", "viewer") == "admin"
    assert higher(None, None) is None


def test_full_names():
    assert namespaces.full_name("finance", "orders") == "finance/orders"
    assert namespaces.full_name("default", "orders") == "orders"
    assert namespaces.full_name(None, "orders") == "orders"
    assert namespaces.namespace_of("finance/orders") == "finance"
    assert namespaces.namespace_of("orders") == "default"
    with pytest.raises(InputError, match=r"^flow: "):
        namespaces.check_flow_name("a/b/c")
    with pytest.raises(InputError, match=r"^ns: "):
        namespaces.check_namespace("a/b", "ns")


def test_yaml_and_decorator_namespaces():
    text = "name: orders\nnamespace: finance\ntasks:\n  - {key: a, type: shell, command: x}\n"
    assert yaml_spec.load_yaml_flow(text, file="f.yaml").name == "finance/orders"
    plain = text.replace("namespace: finance\n", "")
    assert yaml_spec.load_yaml_flow(plain, file="f.yaml").name == "orders"
    with pytest.raises(DefinitionError, match="namespace"):
        yaml_spec.load_yaml_flow(text.replace("finance", "a/b"), file="f.yaml")

    @baton.task
    def a() -> None:
        pass

    @baton.flow(name="orders", namespace="finance")
    def f() -> None:
        a()

    assert f.spec.name == "finance/orders"
    with pytest.raises(DefinitionError, match="namespace"):

        @baton.flow(namespace="a b")
        def g() -> None:
            a()
