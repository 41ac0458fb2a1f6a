"""The outbox's bookkeeping: claims, backoff, giving up. Real SQLite store, fake times;
the channels are real too, but nothing listens (sending fails at once)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton.errors import InputError
from baton.execution.secrets import Secrets
from baton.notify import outbox
from baton.settings import Settings
from baton.store.store import Row, Store


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=str(tmp_path), database_url=f"sqlite:///{tmp_path}/baton.db")


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    s = Store(settings.database_url)
    yield s
    s.close()


def enqueue(store: Store, channel: dict[str, object], key: str = "r1:failure:0") -> None:
    with store.transaction() as tx:
        tx.enqueue_notifications(
            [
                {
                    "key": key,
                    "flow_name": "etl",
                    "run_id": "r1",
                    "event": "failure",
                    "channel": json.dumps(channel),
                    "payload": json.dumps({"event": "failure", "flow": "etl", "run_id": "r1"}),
                    "next_at": 0.0,
                    "created_at": 0.0,
                }
            ]
        )


def the_row(store: Store) -> Row:
    (row,) = store.read().notifications("r1")
    return row


def test_a_failing_notification_is_retried_with_backoff_then_given_up(
    store: Store, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    enqueue(store, {"on": ["failure"], "webhook": f"http://127.0.0.1:{closed_port()}/T0K3N"})
    enqueue(
        store, {"on": ["failure"], "webhook": "http://x"}, key="r1:failure:0"
    )  # same key: ignored
    now = 0.0
    waits = []
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        due = outbox.deliver_due(store, settings, now, secrets=Secrets.empty)
        row = the_row(store)
        assert row["attempts"] == attempt
        assert "onnect" in row["error"]  # connection refused, as the OS words it
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert err.startswith("baton: notification failure of run r1 (webhook 127.0.0.1) failed:")
        assert "T0K3N" not in err  # a webhook's URL may hold its token: only the host shows
        if row["state"] == "failed":
            assert err.rstrip().endswith(f"giving up after {attempt} attempts")
            assert due is None
            break
        waits.append(row["next_at"] - now)
        assert due == row["next_at"]
        # Not due yet: nothing is sent, nothing changes.
        outbox.deliver_due(store, settings, row["next_at"] - 0.01, secrets=Secrets.empty)
        assert the_row(store)["attempts"] == attempt
        now = row["next_at"]
    assert waits == list(outbox.BACKOFF)
    assert the_row(store)["state"] == "failed"


def test_a_claimed_notification_is_not_claimed_again(store: Store, settings: Settings) -> None:
    enqueue(store, {"on": ["failure"], "email": ["a@b.c"]})
    other = Store(settings.database_url)
    try:
        row = the_row(store)
        with store.transaction() as tx:
            assert tx.claim_notification(row["id"], row["attempts"], 100.0)
        with other.transaction() as tx:
            assert not tx.claim_notification(row["id"], row["attempts"], 100.0)
        # Held until the claim ends: a sender that died mid-send is replaced then.
        assert other.read().due_notifications(99.0) == []
        assert [r["id"] for r in other.read().due_notifications(100.0)] == [row["id"]]
    finally:
        other.close()


def test_nothing_is_sent_unmasked_when_the_secrets_cannot_be_read(
    store: Store, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    enqueue(store, {"on": ["failure"], "email": ["a@b.c"]})

    def broken() -> Secrets:
        raise InputError("secrets file /x/secrets.yaml:3: not valid YAML")

    outbox.deliver_due(store, settings, 0.0, secrets=broken)
    row = the_row(store)
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert row["error"] == "secrets file /x/secrets.yaml:3: not valid YAML"
    assert "retrying in 5s" in capsys.readouterr().err


def test_due_notifications_can_be_limited_to_runs(store: Store) -> None:
    enqueue(store, {"on": ["failure"], "email": ["a@b.c"]})
    assert len(store.read().due_notifications(1.0, run_ids=["r1", "r2"])) == 1
    assert store.read().due_notifications(1.0, run_ids=["r2"]) == []
    assert store.read().due_notifications(1.0, run_ids=[]) == []


@pytest.mark.parametrize(
    ("channel", "shown"),
    [
        ({"email": ["a@b.c", "d@e.f"]}, "email to a@b.c, d@e.f"),
        ({"webhook": "https://hooks.slack.com/services/T/B/secret"}, "webhook hooks.slack.com"),
        ({"webhook": "${secret:HOOK}"}, "webhook ${secret:HOOK}"),
    ],
)
def test_a_channel_is_named_without_its_secrets(channel: dict[str, object], shown: str) -> None:
    assert outbox.describe(channel) == shown
