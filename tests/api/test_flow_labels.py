"""`GET /api/v1/flows`: each flow's tags and owner, and `?tag=` (repeatable, every one) and
`?owner=` (exact) filters; bad filters are 422s naming the field."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def labelled(name: str, tags: str = "", owner: str = "") -> str:
    head = f"name: {name}\n" + (f"tags: [{tags}]\n" if tags else "")
    head += f"owner: {owner}\n" if owner else ""
    return head + "tasks:\n  - {key: a, type: shell, command: 'true'}\n"


def test_list_shows_and_filters_tags_and_owner(client_for, define):
    made = define(labelled("ledger", "finance, daily", "data-team@example.com"))
    assert (made["tags"], made["owner"]) == (["finance", "daily"], "data-team@example.com")
    define(labelled("payroll", "finance", "hr@example.com"))
    define(labelled("plain"))
    viewer = client_for("viewer")

    def names(**query: object) -> list[str]:
        r = viewer.get("/api/v1/flows", params=query)
        assert r.status_code == 200, r.text
        return [f["name"] for f in r.json()["items"]]

    items = {f["name"]: f for f in viewer.get("/api/v1/flows").json()["items"]}
    assert (items["plain"]["tags"], items["plain"]["owner"]) == ([], None)
    assert items["payroll"]["tags"] == ["finance"]
    assert names(tag="finance") == ["ledger", "payroll"]
    assert names(tag=["finance", "daily"]) == ["ledger"]
    assert names(owner="hr@example.com") == ["payroll"]
    assert names(owner="hr@example.com", tag="daily") == []
    assert names(tag="finance", search="led") == ["ledger"]
    assert names(owner="") == ["ledger", "payroll", "plain"]
    assert names(tag="finance", limit=1) == ["ledger"]
    cursor = viewer.get("/api/v1/flows", params={"tag": "finance", "limit": 1}).json()
    assert names(tag="finance", limit=1, cursor=cursor["next_cursor"]) == ["payroll"]
    assert viewer.get("/api/v1/flows/ledger").json()["owner"] == "data-team@example.com"

    for query, field in [
        ({"tag": "no spaces"}, ["query", "tag", 0]),
        ({"tag": "x" * 51}, ["query", "tag", 0]),
        ({"tag": [f"t{i}" for i in range(21)]}, ["query", "tag"]),
        ({"owner": "o" * 201}, ["query", "owner"]),
    ]:
        r = viewer.get("/api/v1/flows", params=query)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == field, r.text

    with ThreadPoolExecutor(16) as pool:
        found = list(pool.map(lambda _: names(tag="finance", owner="hr@example.com"), range(150)))
    assert found == [["payroll"]] * 150


def test_bad_tags_or_owner_are_refused_naming_the_field(client_for):
    editor = client_for("editor")
    for text, field in [
        (labelled("f", "'a b'"), "'tags'"),
        ("name: f\ntags: finance\ntasks: [{key: a, type: shell, command: 'true'}]\n", "'tags'"),
        ("name: f\nowner: [x]\ntasks: [{key: a, type: shell, command: 'true'}]\n", "'owner'"),
    ]:
        r = editor.post("/api/v1/flows", content=text, headers={"Content-Type": "text/yaml"})
        assert r.status_code == 422 and field in r.json()["detail"], r.text
    assert editor.get("/api/v1/flows").json()["items"] == []
