"""`flow_rows` by tags and owner, on SQLite and PostgreSQL: every tag asked for, the exact
owner, pages topped up past rows the spec's text matched but its fields do not."""

from __future__ import annotations

import msgspec

from baton.model.spec import FlowSpec, TaskSpec
from baton.store.store import Store


def _save(store: Store, name: str, tags: tuple[str, ...] = (), owner: str | None = None) -> None:
    task = TaskSpec(key="a", type="shell", config={"command": "echo finance_x"})
    spec = FlowSpec(name=name, tags=tags, owner=owner, tasks=(task,))
    with store.transaction() as tx:
        tx.save_version(spec, 1.0)


def test_tags_and_owner_filter_flow_rows(store: Store):
    _save(store, "a", ("finance", "daily"), "data@example.com")
    _save(store, "b", ("finance",), "Data@example.com")
    _save(store, "c", ("daily",))
    _save(store, "d", (), '"ops" team\\ ünï')
    # Text that looks like a tag or an owner, but in a task's config: the spec decides.
    for i in range(7):
        spec = FlowSpec(
            name=f"e{i}",
            tasks=(TaskSpec(key="a", type="shell", config={"finance": "x", "owner": "o"}),),
        )
        with store.transaction() as tx:
            tx.save_version(spec, 1.0)
    _save(store, "z", ("finance",))
    read = store.read()

    def names(**query: object) -> list[str]:
        return [r.name for r in read.flow_rows(**query)]  # type: ignore[arg-type]

    assert names(tags=["finance"]) == ["a", "b", "z"]
    assert names(tags=["finance", "daily"]) == ["a"]
    assert names(tags=["daily"], search="C") == ["c"]
    assert names(owner="data@example.com") == ["a"]  # exact: case counts
    assert names(owner='"ops" team\\ ünï') == ["d"]
    assert names(owner="o") == []
    assert names(tags=["fin%"]) == names(tags=["finance_"]) == []  # no wildcards
    # A page of 2 past the seven config-only matches still finds both.
    assert names(tags=["finance"], limit=2) == ["a", "b"]
    assert names(tags=["finance"], limit=2, after="b") == ["z"]
    stored = msgspec.json.decode(read.flow_rows(name="a")[0].spec)
    assert (stored["tags"], stored["owner"]) == (["finance", "daily"], "data@example.com")
