"""A connection lost while a store opens (after connecting, while it checks the schema) is an
outage a patient client waits out, not a failure of its command."""

from __future__ import annotations

import pytest

from baton.errors import StoreUnavailable
from baton.store import waiting
from baton.store.store import Store


class CutOffOnce(Store):
    """A store whose first connection is terminated by the server as it checks the schema."""

    cut = 0

    def _ensure_schema(self) -> None:
        if CutOffOnce.cut == 0:
            CutOffOnce.cut += 1
            self._conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        super()._ensure_schema()


@pytest.mark.postgres
def test_a_connection_lost_while_opening_is_unavailable_and_waited_out(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store(pg_url).close()  # the schema exists
    CutOffOnce.cut = 0
    with pytest.raises(StoreUnavailable, match="cannot connect to"):
        CutOffOnce(pg_url)
    CutOffOnce.cut = 0
    monkeypatch.setattr(waiting, "Store", CutOffOnce)
    monkeypatch.setattr(waiting, "BACKOFF_MIN", 0.01)
    said: list[str] = []
    store = waiting.open_store(pg_url, 10, said.append)
    store.close()
    assert len(said) == 1 and "cannot connect to" in said[0], said
