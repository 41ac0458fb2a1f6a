"""Forgetting old history: finished runs with everything that hangs off them.

Runs are pruned by family: a run with no parent (or whose parent is gone) and every run made
from it, transitively (its sub-flow runs, its repairs, theirs...), all at once or not at
all. So no run left behind links (`parent_run_id`, `root_run_id`, `parent_task_run_id`,
`reused_from`) to one that is gone, and `runs show` of any of them reads the same as before.

A family is kept whole while any of its runs is not finished (not terminal), ended at or after
the cutoff, is the latest run of its flow (what `flows list` shows), or has a notification
still to send. With a family go its task runs, attempts, state events, shipped logs
(log_chunks), notifications and the cache entries of results its runs computed (expired
entries go at every prune: `Tx.prune_expired_cache`), and the results its task runs wrote to
the result store, unless a task run left (a cache hit served one) still reads them. The asset
tables stay (catalog,
links, materializations, check results, freshness): they are the assets' history, and
triggers read it; a materialization keeps its run id after the run is gone.

Each function takes a `Tx` and works on one batch: the caller commits batch by batch (and
removes what the runs left on disk), so no transaction holds the store for long.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from baton.model.states import RUN_TERMINAL
from baton.store.store import Tx

# What a prune removes, in the order it is deleted (what points at a row goes before it).
KINDS = (
    "log_chunks",
    "attempts",
    "state_events",
    "notifications",
    "escalations",
    "run_acks",
    "cache_entries",
    "task_runs",
    "runs",
)
_IN_MAX = 500  # ids in one IN (...) list
_TERMINAL = tuple(sorted(RUN_TERMINAL))

_WHERE = {
    "log_chunks": "attempt_id IN (SELECT id FROM attempts WHERE run_id IN ({}))",
    "attempts": "run_id IN ({})",
    "state_events": "run_id IN ({})",
    "notifications": "run_id IN ({})",
    "escalations": "run_id IN ({})",
    "run_acks": "run_id IN ({})",
    "cache_entries": "run_id IN ({})",  # results a pruned run computed: `cached_from` a gone run
    "task_runs": "run_id IN ({})",
    "runs": "id IN ({})",
}


class Batch(NamedTuple):
    """One batch: the runs pruned (or, dry, that would be), rows per kind, where the next
    batch starts (None: there is none), and how many families were kept."""

    run_ids: list[str]
    counts: dict[str, int]
    after: tuple[float, str] | None
    kept: int
    result_refs: list[str] = []  # result files no task run reads any more: the caller's to remove


def prune_batch(
    tx: Tx,
    *,
    before: float,
    flow: str | None = None,
    after: tuple[float, str] | None = None,
    limit: int = 100,
    dry_run: bool = False,
) -> Batch:
    """Prune up to `limit` families whose first run (of flow `flow`, if given) was created
    before `before` and after the cursor `after` (a batch's `after`), if every run of the
    family ended before `before`. Dry: count what would go, delete nothing."""
    tops = _tops(tx, before, flow, after, limit)
    if not tops:
        return Batch([], dict.fromkeys(KINDS, 0), None, 0)
    families = _families(tx, [t["id"] for t in tops])
    doomed: list[str] = []
    kept = 0
    blocked = _blocked(tx, [r for members in families.values() for r in members], before)
    for top in tops:
        ids = [r["id"] for r in families.get(top["id"], [])]
        if ids and not blocked.intersection(ids):
            doomed += ids
        else:
            kept += 1
    refs = _result_refs(tx, doomed)
    counts = _apply(tx, doomed, delete=not dry_run)
    if refs:  # those a surviving task run or cache entry still reads stay
        refs -= _still_read(tx, sorted(refs), gone=doomed if dry_run else ())
    last = tops[-1]
    more = (last["created_at"], last["id"]) if len(tops) == limit else None
    return Batch(doomed, counts, more, kept, sorted(refs))


def _result_refs(tx: Tx, run_ids: Sequence[str]) -> set[str]:
    """Where these runs' task runs wrote their results (not where a hit or repair read)."""
    refs: set[str] = set()
    for i in range(0, len(run_ids), _IN_MAX):
        part = list(run_ids[i : i + _IN_MAX])
        rows = _all(
            tx,
            f"SELECT result_ref FROM task_runs WHERE run_id IN ({','.join('?' * len(part))}) "
            "AND result_ref IS NOT NULL AND reused_from IS NULL AND cached_from_run IS NULL",
            part,
        )
        refs |= {str(r["result_ref"]) for r in rows}
    return refs


def _still_read(tx: Tx, refs: Sequence[str], gone: Sequence[str]) -> set[str]:
    """The refs a task run or cache entry outside the runs `gone` still reads."""
    read: set[str] = set()
    skip = f" AND run_id NOT IN ({','.join('?' * len(gone))})" if gone else ""
    for i in range(0, len(refs), _IN_MAX):
        part = list(refs[i : i + _IN_MAX])
        marks = ",".join("?" * len(part))
        for table in ("task_runs", "cache_entries"):
            rows = _all(
                tx,
                f"SELECT DISTINCT result_ref FROM {table} WHERE result_ref IN ({marks}){skip}",
                [*part, *gone],
            )
            read |= {str(r["result_ref"]) for r in rows}
    return read


def _all(tx: Tx, sql: str, params: Sequence[Any]) -> list[Any]:
    return list(tx._c.execute(sql, params).fetchall())  # the store's own connection


def _tops(
    tx: Tx, before: float, flow: str | None, after: tuple[float, str] | None, limit: int
) -> list[Any]:
    """Finished runs with no parent (or a parent that is gone) created before `before`,
    oldest first: a range of the (state, created_at) index."""
    sql = (
        "SELECT r.id, r.created_at FROM runs r "
        f"WHERE r.state IN ({','.join('?' * len(_TERMINAL))}) AND r.created_at < ? "
        "AND (r.parent_run_id IS NULL "
        "OR NOT EXISTS (SELECT 1 FROM runs p WHERE p.id = r.parent_run_id))"
    )
    params: list[Any] = [*_TERMINAL, before]
    if flow is not None:
        sql += " AND r.flow_name = ?"
        params.append(flow)
    if after is not None:
        sql += " AND (r.created_at > ? OR (r.created_at = ? AND r.id > ?))"
        params += [after[0], after[0], after[1]]
    return _all(tx, sql + " ORDER BY r.created_at, r.id LIMIT ?", [*params, limit])


def _families(tx: Tx, top_ids: Sequence[str]) -> dict[str, list[Any]]:
    """Each top run with every run made from it, transitively: id, flow_name, state,
    created_at, ended_at of each (the parent links are indexed)."""
    rows = _all(
        tx,
        "WITH RECURSIVE fam(top, id) AS ("
        f"SELECT id, id FROM runs WHERE id IN ({','.join('?' * len(top_ids))}) "
        "UNION ALL SELECT fam.top, r.id FROM runs r JOIN fam ON r.parent_run_id = fam.id) "
        "SELECT fam.top, r.id, r.flow_name, r.state, r.created_at, r.ended_at "
        "FROM fam JOIN runs r ON r.id = fam.id",
        list(top_ids),
    )
    out: dict[str, list[Any]] = {}
    for r in rows:
        out.setdefault(r["top"], []).append(r)
    return out


def _blocked(tx: Tx, runs: Sequence[Any], before: float) -> set[str]:
    """Which of these runs keep their family: not finished, ended at or after `before`,
    the latest run of their flow, or with a notification still to send."""
    blocked = {
        r["id"]
        for r in runs
        if r["state"] not in RUN_TERMINAL or (r["ended_at"] or r["created_at"]) >= before
    }
    for flow in sorted({r["flow_name"] for r in runs}):
        latest = _all(
            tx,
            "SELECT id FROM runs WHERE flow_name = ? ORDER BY created_at DESC, id DESC LIMIT 1",
            [flow],
        )
        blocked.update(r["id"] for r in latest)
    ids = [r["id"] for r in runs]
    for i in range(0, len(ids), _IN_MAX):
        part = ids[i : i + _IN_MAX]
        blocked.update(
            r["run_id"]
            for r in _all(
                tx,
                "SELECT DISTINCT run_id FROM notifications WHERE state = 'pending' "
                f"AND run_id IN ({','.join('?' * len(part))})",
                part,
            )
        )
    return blocked


def _apply(tx: Tx, run_ids: Sequence[str], *, delete: bool) -> dict[str, int]:
    """Delete (or count) the rows of each kind that belong to these runs."""
    counts = dict.fromkeys(KINDS, 0)
    for i in range(0, len(run_ids), _IN_MAX):
        part = list(run_ids[i : i + _IN_MAX])
        marks = ",".join("?" * len(part))
        for kind in KINDS:
            where = _WHERE[kind].format(marks)
            if delete:
                counts[kind] += tx._c.execute(f"DELETE FROM {kind} WHERE {where}", part).rowcount
            else:
                (row,) = _all(tx, f"SELECT count(*) AS n FROM {kind} WHERE {where}", part)
                counts[kind] += int(row["n"])
    return counts
