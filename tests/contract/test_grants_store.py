"""Grants, groups and the visibility filter, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from baton.api import grants
from baton.errors import ConflictError
from baton.model import yaml_spec
from baton.model.access import Grant, Visibility
from baton.store.store import Store
from store_rows import run_row

FLOWS = ("orders", "finance/orders", "finance/ledger", "finance2/x", "finance-x/y", "hr/pay")


def _define(store: Store, full: str) -> None:
    namespace, _, name = full.rpartition("/")
    ns = f"namespace: {namespace}\n" if namespace else ""
    spec = yaml_spec.load_yaml_flow(
        f"name: {name}\n{ns}tasks:\n  - {{key: a, type: shell, command: 'true'}}\n",
        file="test.yaml",
    )
    with store.transaction() as tx:
        tx.save_version(spec, 1.0)


@pytest.fixture
def flows(store: Store) -> Store:
    for i, full in enumerate(FLOWS):
        _define(store, full)
        with store.transaction() as tx:
            for j in range(3):
                tx.insert_run(run_row(f"{i}-{j}", flow_name=full, created_at=float(i * 10 + j)))
    return store


def test_a_flow_records_its_namespace(flows: Store):
    read = flows.read()
    assert read.flow("orders").namespace == "default"  # type: ignore[union-attr]
    assert read.flow("finance/orders").namespace == "finance"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("visible", "shown"),
    [
        (None, FLOWS),
        (Visibility(everything=True), FLOWS),
        (Visibility(), ()),
        (Visibility(namespaces=frozenset({"finance"})), ("finance/orders", "finance/ledger")),
        (Visibility(namespaces=frozenset({"default"})), ("orders",)),
        (
            Visibility(namespaces=frozenset({"hr"}), flows=frozenset({"finance/ledger"})),
            ("finance/ledger", "hr/pay"),
        ),
    ],
)
def test_lists_keep_the_visible_flows(flows: Store, visible: Visibility, shown: tuple[str]):
    read = flows.read()
    assert sorted(f.name for f in read.flow_rows(visible=visible)) == sorted(shown)
    runs = read.runs(visible=visible, limit=100)
    assert sorted({r.flow_name for r in runs}) == sorted(shown)
    assert len(runs) == 3 * len(shown)


def test_a_list_by_namespace_within_what_is_visible(flows: Store):
    read = flows.read()
    visible = Visibility(flows=frozenset({"finance/ledger", "hr/pay"}))
    assert [r.name for r in read.flow_rows(namespace="finance", visible=visible)] == [
        "finance/ledger"
    ]
    assert {r.flow_name for r in read.runs(namespace="finance2")} == {"finance2/x"}
    assert {r.flow_name for r in read.runs(namespace="default")} == {"orders"}


def test_grants_and_groups(store: Store):
    with store.transaction() as tx:
        mine = grants.add_grant(tx, role="operator", by="t", user="ann", namespace="finance")
        ours = grants.add_grant(tx, role="viewer", by="t", group="analysts", flow="hr/pay")
        grants.add_grant(tx, role="admin", by="t", group="others", namespace="x")
        assert tx.add_group_member("analysts", "ann", 1.0)
        assert not tx.add_group_member("analysts", "ann", 2.0)
    with pytest.raises(ConflictError, match="already holds operator"), store.transaction() as tx:
        grants.add_grant(tx, role="operator", by="t", user="ann", namespace="finance")
    read = store.read()
    assert read.grants_of("ann") == (
        Grant("operator", "namespace", "finance"),
        Grant("viewer", "flow", "hr/pay"),
    )
    assert read.grants_of("bob") == ()
    assert [r["id"] for r in read.grants(subject="analysts")] == [ours]
    assert [r["id"] for r in read.grants(scope="finance")] == [mine]
    with store.transaction() as tx:
        assert tx.remove_group_member("analysts", "ann")
        assert not tx.remove_group_member("analysts", "ann")
        assert tx.remove_grant(mine)
        assert not tx.remove_grant(mine)
    assert store.read().grants_of("ann") == ()
    assert store.read().group_members() == []
