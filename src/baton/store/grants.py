"""Grants and groups (who holds which role on which namespace or flow), and the filter that
lists only the flows a caller may see (`model.access` decides; this reads and filters)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from baton.errors import ConflictError
from baton.model.access import Grant, Visibility
from baton.model.namespaces import DEFAULT
from baton.store.base import Row, TxBase


class Grants(TxBase):
    """Grants, group members, and what a user holds through them."""

    def add_grant(self, grant: Mapping[str, Any]) -> int:
        """A grant: subject_kind, subject, role, scope_kind, scope, created_at, created_by.
        Its id; the same grant twice is a ConflictError."""
        row = self._one(
            "INSERT INTO grants (subject_kind, subject, role, scope_kind, scope, created_at, "
            "created_by) VALUES (:subject_kind, :subject, :role, :scope_kind, :scope, "
            ":created_at, :created_by) ON CONFLICT DO NOTHING RETURNING id",
            grant,
        )
        if row is None:
            raise ConflictError(
                f"{grant['subject_kind']} '{grant['subject']}' already holds {grant['role']} "
                f"on {grant['scope_kind']} '{grant['scope']}'"
            )
        return int(row["id"])

    def grant(self, grant_id: int) -> Row | None:
        return self._one("SELECT * FROM grants WHERE id = ?", (grant_id,))

    def grants(self, *, subject: str | None = None, scope: str | None = None) -> list[Row]:
        """Every grant, oldest first; or those of one subject, or on one scope."""
        where, params = [], []
        for column, value in (("subject", subject), ("scope", scope)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = "SELECT * FROM grants" + (" WHERE " + " AND ".join(where) if where else "")
        return self._all(sql + " ORDER BY id", params)

    def remove_grant(self, grant_id: int) -> bool:
        return self._c.execute("DELETE FROM grants WHERE id = ?", (grant_id,)).rowcount == 1

    def grants_of(self, user: str) -> tuple[Grant, ...]:
        """What `user` holds: its own grants and its groups', in one query."""
        rows = self._all(
            "SELECT role, scope_kind, scope FROM grants WHERE (subject_kind = 'user' AND "
            "subject = ?) OR (subject_kind = 'group' AND subject IN "
            "(SELECT group_name FROM group_members WHERE user_name = ?)) ORDER BY id",
            (user, user),
        )
        return tuple(Grant(r["role"], r["scope_kind"], r["scope"]) for r in rows)

    def add_group_member(self, group: str, user: str, now: float) -> bool:
        """Whether `user` joined `group` (False: it was in it already)."""
        cur = self._c.execute(
            "INSERT INTO group_members (group_name, user_name, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (group, user, now),
        )
        return cur.rowcount == 1

    def remove_group_member(self, group: str, user: str) -> bool:
        cur = self._c.execute(
            "DELETE FROM group_members WHERE group_name = ? AND user_name = ?", (group, user)
        )
        return cur.rowcount == 1

    def groups_of(self, user: str) -> frozenset[str]:
        """The groups `user` is a member of."""
        rows = self._all("SELECT group_name FROM group_members WHERE user_name = ?", (user,))
        return frozenset(r["group_name"] for r in rows)

    def group_members(self, group: str | None = None) -> list[Row]:
        sql = "SELECT group_name, user_name, created_at FROM group_members"
        params: tuple[str, ...] = ()
        if group is not None:
            sql += " WHERE group_name = ?"
            params = (group,)
        return self._all(sql + " ORDER BY group_name, user_name", params)


def visible_sql(column: str, visible: Visibility | None) -> tuple[str | None, list[Any]]:
    """A WHERE condition on `column` (a flow's full name) that keeps the flows `visible` holds
    (None: no condition), and its params. A namespace is a range of names (`ns/` up to `ns0`,
    '0' following '/'), which an index on the names serves; byte order on both databases."""
    if visible is None or visible.everything:
        return None, []
    terms: list[str] = []
    params: list[Any] = []
    for namespace in sorted(visible.namespaces):
        if namespace == DEFAULT:
            terms.append(f"{column} NOT LIKE ?")  # a param: psycopg reads a bare % itself
            params.append("%/%")
        else:
            terms.append(f"({column} >= ? AND {column} < ?)")
            params += [f"{namespace}/", f"{namespace}0"]
    if visible.flows:
        terms.append(f"{column} IN ({','.join('?' * len(visible.flows))})")
        params += sorted(visible.flows)
    return ("(" + " OR ".join(terms) + ")" if terms else "1 = 0"), params
