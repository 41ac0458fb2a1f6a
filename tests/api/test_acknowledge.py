"""`POST /api/v1/runs/{id}/acknowledge`: recorded once, audited, hostile input refused."""

from __future__ import annotations

import asyncio
import json

import httpx
from fastapi import FastAPI

from baton.api.auth import create_token
from baton.store.store import Store

FAILED = [("a", "failed", "default", None)]


def test_an_operator_acknowledges_a_run_once_and_it_is_audited(client_for, store, add_run):
    add_run("0123456789abcdef", "failed", FAILED)
    ann = client_for("operator", "ann")
    r = ann.post("/api/v1/runs/0123456/acknowledge", json={"comment": "on it"})
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["run_id"] == "0123456789abcdef"
    assert (first["acknowledged_by"], first["comment"]) == ("ann", "on it")
    assert first["already_acknowledged"] is False
    # No body at all is fine too; the first acknowledgement stands.
    again = client_for("admin", "bob").post("/api/v1/runs/0123456789abcdef/acknowledge")
    assert again.status_code == 200, again.text
    assert again.json() == first | {"already_acknowledged": True}
    entries = store.read().audit(action="runs.acknowledge")
    assert [(e["actor"], e["outcome"], e["object_id"]) for e in entries] == [
        ("bob", "ok", "0123456789abcdef"),
        ("ann", "ok", "0123456"),
    ]


def test_bad_input_is_refused_naming_the_field_and_changes_nothing(client_for, store, add_run):
    add_run("abcdabcdabcdabcd", "failed", FAILED)
    op = client_for("operator")
    for body, status in (
        ({"comment": "x" * 2001}, 422),
        ({"comment": 5}, 422),
        ({"comment": "ok", "by": "mallory"}, 422),
        ([1, 2], 422),
        ({"comment": "nul\x00byte"}, 422),
    ):
        r = op.post("/api/v1/runs/abcdabcdabcdabcd/acknowledge", json=body)
        assert r.status_code == status, (body, r.text)
        assert "comment" in r.text or "by" in r.text or "body" in r.text, r.text
        assert "Traceback" not in r.text
    r = op.post(
        "/api/v1/runs/abcdabcdabcdabcd/acknowledge",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert store.read().run_ack("abcdabcdabcdabcd") is None
    missing = op.post("/api/v1/runs/nosuchrun/acknowledge", json={})
    assert missing.status_code == 404
    assert "no run 'nosuchrun'" in missing.text


def test_200_concurrent_acknowledgements_record_one(app: FastAPI, store: Store, add_run):
    add_run("c0ffeec0ffeec0ff", "failed", FAILED)
    tokens = []
    with store.transaction() as tx:
        for i in range(4):
            tokens.append(create_token(tx, f"user{i}", "operator")[1])

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/api/v1/runs/c0ffeec0ffeec0ff/acknowledge",
                        json={"comment": f"call {i}"},
                        headers={"Authorization": f"Bearer {tokens[i % 4]}"},
                    )
                    for i in range(200)
                )
            )

    answers = asyncio.run(main())
    assert [r.status_code for r in answers] == [200] * 200
    ok = [r.json() for r in answers]
    assert sum(not a["already_acknowledged"] for a in ok) == 1  # one call recorded it
    recorded = store.read().run_ack("c0ffeec0ffeec0ff")
    assert recorded is not None
    assert {(a["acknowledged_by"], a["comment"]) for a in ok} == {
        (recorded["acknowledged_by"], recorded["comment"])
    }
    audited = store.read().audit(action="runs.acknowledge", limit=500)
    assert len(audited) == len(ok)
    assert all(json.loads(e["detail"])["method"] == "POST" for e in audited)
