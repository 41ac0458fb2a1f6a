"""The API's own state: tokens, the audit log (the API's and the CLI's), and the notification
outbox."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baton.store.base import Row, TxBase


class Admin(TxBase):
    """Tokens, audit entries and notifications to send."""

    # -- API: tokens, audit log, notifications --------------------------------------------

    def insert_token(self, token: Mapping[str, Any]) -> None:
        """A token: id, user_name, role (or None), secret_hash, description, created_at,
        expires_at (or None: never), namespace (or None: any)."""
        self._c.execute(
            "INSERT INTO tokens (id, user_name, role, secret_hash, description, created_at, "
            "expires_at, namespace) VALUES (:id, :user_name, :role, :secret_hash, "
            ":description, :created_at, :expires_at, :namespace)",
            {"expires_at": None, "namespace": None, **token},
        )

    def token(self, token_id: str) -> Row | None:
        return self._one("SELECT * FROM tokens WHERE id = ?", (token_id,))

    def tokens(self, *, include_revoked: bool = False) -> list[Row]:
        sql = "SELECT * FROM tokens"
        if not include_revoked:
            sql += " WHERE revoked_at IS NULL"
        return self._all(sql + " ORDER BY created_at, id")

    def revoke_token(self, token_id: str, now: float) -> bool:
        cur = self._c.execute(
            "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, token_id)
        )
        return cur.rowcount == 1

    def touch_token(self, token_id: str, now: float, every: float) -> bool:
        """Record that a token was used at `now`, unless that was recorded less than `every`
        seconds before (a compare-and-set: of many requests at once, one writes). Whether
        this call wrote."""
        cur = self._c.execute(
            "UPDATE tokens SET last_used_at = ? WHERE id = ? "
            "AND (last_used_at IS NULL OR last_used_at <= ?)",
            (now, token_id, now - every),
        )
        return cur.rowcount == 1

    def users(self, now: float) -> list[Row]:
        """Each user holding a token that works at `now` (not revoked, not expired): user_name
        and role (None for a token without a global role), one row per distinct pair."""
        return self._all(
            "SELECT DISTINCT user_name, role FROM tokens WHERE revoked_at IS NULL "
            "AND (expires_at IS NULL OR expires_at > ?) ORDER BY user_name",
            (now,),
        )

    def add_audit(self, entry: Mapping[str, Any]) -> None:
        """An audit entry: at, actor, token_id, role, action, object_type, object_id,
        outcome, status, remote, detail (JSON or None)."""
        self._c.execute(
            "INSERT INTO audit_log (at, actor, token_id, role, action, object_type, object_id, "
            "outcome, status, remote, detail) VALUES (:at, :actor, :token_id, :role, :action, "
            ":object_type, :object_id, :outcome, :status, :remote, :detail)",
            entry,
        )

    def audit(
        self,
        *,
        limit: int = 50,
        before_id: int | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: float | None = None,
    ) -> list[Row]:
        """Audit entries, newest first; `before_id` pages back; `since`: at or after."""
        where: list[str] = []
        params: list[Any] = []
        filters = (("id <", before_id), ("actor =", actor), ("action =", action), ("at >=", since))
        for column, value in filters:
            if value is not None:
                where.append(f"{column} ?")
                params.append(value)
        sql = "SELECT * FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._all(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))

    def enqueue_notifications(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Notifications to send: key, flow_name, run_id, event, channel, payload (JSON),
        next_at, created_at, and `asset` for an asset's (run_id then may be None). A key
        already queued is left as it is (one per event)."""
        self._c.executemany(
            "INSERT INTO notifications (key, flow_name, run_id, asset, event, channel, payload, "
            "state, attempts, next_at, created_at) VALUES (:key, :flow_name, :run_id, :asset, "
            ":event, :channel, :payload, 'pending', 0, :next_at, :created_at) "
            "ON CONFLICT (key) DO NOTHING",
            [r if "asset" in r else {**r, "asset": None} for r in rows],
        )

    def due_notifications(
        self, now: float, limit: int = 100, run_ids: Sequence[str] | None = None
    ) -> list[Row]:
        """Pending notifications due at `now`, of these runs only when `run_ids` is given."""
        where = ""
        if run_ids is not None:
            if not run_ids:
                return []
            where = f" AND run_id IN ({','.join('?' * len(run_ids))})"
        return self._all(
            f"SELECT * FROM notifications WHERE state = 'pending' AND next_at <= ?{where} "
            "ORDER BY next_at, id LIMIT ?",
            (now, *(run_ids or ()), limit),
        )

    def claim_notification(self, notification_id: int, attempts: int, until: float) -> bool:
        """Take a pending notification to send it: counts the attempt and holds it until
        `until` (then another process may try, should this one die). False if another
        process took it first (its `attempts` changed)."""
        cur = self._c.execute(
            "UPDATE notifications SET attempts = attempts + 1, next_at = ? "
            "WHERE id = ? AND state = 'pending' AND attempts = ?",
            (until, notification_id, attempts),
        )
        return cur.rowcount == 1

    def drop_notifications(self, run_id: str, event: str, after: float) -> None:
        """Delete a run's pending notifications of `event` due after `after`, never tried
        (the SLA notices of a run that ended in time)."""
        self._c.execute(
            "DELETE FROM notifications WHERE run_id = ? AND event = ? AND state = 'pending' "
            "AND attempts = 0 AND next_at > ?",
            (run_id, event, after),
        )

    def next_notification_at(self) -> float | None:
        row = self._one("SELECT min(next_at) AS t FROM notifications WHERE state = 'pending'")
        return None if row is None or row["t"] is None else float(row["t"])

    def update_notification(self, notification_id: int, fields: Mapping[str, Any]) -> None:
        """Set some of state, attempts, next_at, sent_at, error."""
        allowed = {"state", "attempts", "next_at", "sent_at", "error"}
        assert set(fields) <= allowed, set(fields) - allowed
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        self._c.execute(
            f"UPDATE notifications SET {sets} WHERE id = :id", {**fields, "id": notification_id}
        )

    def notifications(self, run_id: str) -> list[Row]:
        return self._all("SELECT * FROM notifications WHERE run_id = ? ORDER BY id", (run_id,))
