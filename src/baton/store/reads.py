"""Reads for the API and the UI: run history, cluster and metrics counts, flow and run pages."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

import msgspec

from baton.model import labels
from baton.model.access import Visibility
from baton.model.states import TASK_TERMINAL
from baton.store.base import Row, TxBase, like_anywhere, like_escape
from baton.store.claims import ATTEMPT_EVENT, ATTEMPTS_NAMED
from baton.store.grants import visible_sql
from baton.store.records import AttemptRow, FlowOverviewRow, RunRow, many, one


class Reads(TxBase):
    """Queries that change nothing, for what the API and the UI show."""

    # -- history -------------------------------------------------------------------------

    def events(self, run_id: str) -> list[Row]:
        """A run's and its task runs' state events, oldest first (its attempts' are
        `attempt_events`)."""
        return self._all(
            "SELECT * FROM state_events WHERE run_id = ? AND to_state NOT LIKE ? ORDER BY id",
            (run_id, ATTEMPT_EVENT + "%"),
        )

    # -- API queries (cluster, metrics) ---------------------------------------------------

    def queue_counts(self) -> list[Row]:
        """Task runs queued and running per queue (queues with either), by queue name. A
        range of the claim index (it starts with state): live work, not the history."""
        return self._all(
            "SELECT queue, sum(CASE WHEN state = 'queued' THEN 1 ELSE 0 END) AS queued, "
            "sum(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS running FROM task_runs "
            "WHERE state IN ('queued', 'running') GROUP BY queue ORDER BY queue"
        )

    def served_queues(self) -> set[str]:
        """The queues the workers not stopped serve."""
        rows = self._all("SELECT queues FROM workers WHERE stopped_at IS NULL")
        return {q for r in rows for q in json.loads(r["queues"])}

    def run_state_counts(self) -> dict[str, int]:
        """How many runs are in each state (states with none are left out)."""
        rows = self._all("SELECT state, count(*) AS n FROM runs GROUP BY state")
        return {r["state"]: int(r["n"]) for r in rows}

    def task_state_counts(self, states: Collection[str]) -> dict[str, int]:
        """How many task runs are in each of `states` (a range of the claim index each, so
        ask for the live states: the finished ones are all of history)."""
        marks = ",".join("?" * len(states))
        rows = self._all(
            f"SELECT state, count(*) AS n FROM task_runs WHERE state IN ({marks}) GROUP BY state",
            tuple(states),
        )
        return {r["state"]: int(r["n"]) for r in rows}

    def queued_times(self, run_id: str) -> dict[int, list[float]]:
        """When each task run of a run was queued, each time (oldest first): a retry is
        queued again, so attempt N waited from the last of these before it started."""
        out: dict[int, list[float]] = {}
        for r in self._all(
            "SELECT task_run_id, at FROM state_events WHERE run_id = ? AND to_state = ? "
            "AND task_run_id IS NOT NULL ORDER BY id",
            (run_id, "queued"),
        ):
            out.setdefault(int(r["task_run_id"]), []).append(float(r["at"]))
        return out

    def live_worker_count(self, heartbeat_since: float) -> int:
        """Workers not stopped that have heartbeated at or after `heartbeat_since`."""
        row = self._one(
            "SELECT count(*) AS n FROM workers WHERE stopped_at IS NULL AND heartbeat_at >= ?",
            (heartbeat_since,),
        )
        return int(row["n"]) if row else 0

    def lock_expiry(self, name: str) -> float | None:
        """When the named lock expires (its holder renews it each round), None if unheld."""
        row = self._one("SELECT expires_at FROM locks WHERE name = ?", (name,))
        return None if row is None else float(row["expires_at"])

    def last_event_id(self) -> int:
        """The id of the newest state event (0 if none): where a reader of new events starts."""
        row = self._one("SELECT max(id) AS id FROM state_events")
        return 0 if row is None or row["id"] is None else int(row["id"])

    def task_ends(self, after_id: int, settled: float, span: int) -> tuple[int, list[Row]]:
        """Task runs that ended after running, from the state events after `after_id`: where
        the next read starts, and rows of `state` (terminal), `started_at`, `ended_at`, and
        for a task that caches `cache_key` and, a hit, `cached_from_run`.

        Only events stamped at or before `settled` are read, so one that a transaction still
        open has numbered but not committed is not skipped for good (unless that transaction
        takes longer than now - settled); at most `span` events are read at once. A range of the
        primary key: the cost is what happened since the last read, not all of history.
        """
        row = self._one(
            "SELECT max(id) AS id FROM (SELECT id FROM state_events WHERE id > ? AND at <= ? "
            "ORDER BY id LIMIT ?) AS e",
            (after_id, settled, span),
        )
        upto = after_id if row is None or row["id"] is None else int(row["id"])
        if upto == after_id:
            return after_id, []
        marks = ",".join("?" * len(TASK_TERMINAL))
        rows = self._all(
            "SELECT e.to_state AS state, t.started_at, t.ended_at, t.cache_key, "
            "t.cached_from_run FROM state_events e "
            "JOIN task_runs t ON t.id = e.task_run_id WHERE e.id > ? AND e.id <= ? "
            f"AND e.from_state IN ('running', 'waiting') AND e.to_state IN ({marks}) "
            "AND t.started_at IS NOT NULL AND t.ended_at IS NOT NULL",
            (after_id, upto, *TASK_TERMINAL),
        )
        return upto, rows

    # -- API queries (flows, runs) --------------------------------------------------------

    def flow_names(self, *, visible: Visibility | None = None, limit: int = 500) -> list[str]:
        """The names of the flows `visible` holds (None: all), in order: a filter's choices."""
        condition, params = visible_sql("name", visible)
        where = f" WHERE {condition}" if condition else ""
        rows = self._all(f"SELECT name FROM flows{where} ORDER BY name LIMIT ?", (*params, limit))
        return [str(r["name"]) for r in rows]

    def flow_rows(
        self,
        *,
        name: str | None = None,
        search: str | None = None,
        paused: bool | None = None,
        after: str | None = None,
        limit: int = 500,
        visible: Visibility | None = None,
        namespace: str | None = None,
        tags: Sequence[str] = (),
        owner: str | None = None,
    ) -> list[FlowOverviewRow]:
        """Flows as `flows_overview` has them, by name: one `name`, or those whose name
        holds `search` (any case), paused or not, after the name `after` (a page's last),
        of those `visible` holds (None: all), having every one of `tags` and the `owner`."""
        if not tags and owner is None:
            return self._flow_rows(name, search, paused, after, limit, visible, namespace, [])
        # Tags and owner live in the stored spec: a LIKE on its JSON narrows the rows in SQL
        # (no schema change), the decoded spec decides, and short pages are topped up.
        likes = [f'%"{like_escape(t)}"%' for t in tags]
        if owner is not None:
            likes.append(f'%"owner":{like_escape(msgspec.json.encode(owner).decode())}%')
        found: list[FlowOverviewRow] = []
        while len(found) < limit:
            batch = self._flow_rows(name, search, paused, after, limit, visible, namespace, likes)
            found += [r for r in batch if labels.matches(r.spec, tags, owner)]
            if len(batch) < limit:
                break
            after = batch[-1].name
        return found[:limit]

    def _flow_rows(
        self,
        name: str | None,
        search: str | None,
        paused: bool | None,
        after: str | None,
        limit: int,
        visible: Visibility | None,
        namespace: str | None,
        likes: list[str],
    ) -> list[FlowOverviewRow]:
        condition, params = visible_sql("f.name", visible)
        where: list[str] = [condition] if condition else []
        if namespace is not None:
            condition, more = visible_sql("f.name", Visibility.of_namespace(namespace))
            where.append(str(condition))
            params += more
        if name is not None:
            where.append("f.name = ?")
            params.append(name)
        if search:
            where.append("lower(f.name) LIKE ? ESCAPE '\\'")
            params.append(like_anywhere(search))
        for like in likes:
            where.append("v.spec LIKE ? ESCAPE '\\'")
            params.append(like)
        if paused is not None:
            where.append("f.paused = ?")
            params.append(int(paused))
        if after is not None:
            where.append("f.name > ?")
            params.append(after)
        rows = self._all(
            "SELECT f.name, f.deployed, f.paused, f.latest_version, v.spec, "
            "r.id AS last_run_id, r.state AS last_run_state, r.created_at AS last_run_at "
            "FROM flows f JOIN flow_versions v ON v.id = f.latest_version "
            "LEFT JOIN runs r ON r.id = (SELECT id FROM runs WHERE flow_name = f.name "
            "ORDER BY created_at DESC, id DESC LIMIT 1)"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY f.name LIMIT ?",
            (*params, limit),
        )
        return many(FlowOverviewRow, rows)

    def recent_runs(self, flows: Sequence[str], per_flow: int) -> list[Row]:
        """The latest `per_flow` runs (id, flow_name, state, created_at) of each flow, newest
        first. One query per 100 flows, a LIMIT per flow on its (flow_name, created_at)
        index: a window over all their runs sorted every run (20 ms for 10,000 runs, 1 ms
        this way)."""
        one = (
            "SELECT * FROM (SELECT id, flow_name, state, created_at FROM runs "
            "WHERE flow_name = ? ORDER BY created_at DESC, id DESC LIMIT ?) r{i}"
        )
        out: list[Row] = []
        names = list(flows)
        for start in range(0, len(names), 100):
            chunk = names[start : start + 100]
            out += self._all(
                " UNION ALL ".join(one.format(i=i) for i in range(len(chunk)))
                + " ORDER BY flow_name, created_at DESC, id DESC",
                tuple(v for name in chunk for v in (name, per_flow)),
            )
        return out

    def flow_versions(self, name: str) -> list[Row]:
        """A flow's versions (id, created_at), newest first."""
        return self._all(
            "SELECT id, created_at FROM flow_versions WHERE flow_name = ? "
            "ORDER BY created_at DESC, id",
            (name,),
        )

    def delete_flow(self, name: str) -> bool:
        """Forget a flow and where its triggers got to; its versions and runs stay (they are
        history, and runs still going need their version). False if there is no such flow."""
        self._c.execute("DELETE FROM trigger_state WHERE flow_name = ?", (name,))
        return self._c.execute("DELETE FROM flows WHERE name = ?", (name,)).rowcount == 1

    def runs_from(self, run_id: str) -> list[Row]:
        """The runs made from this one (sub-flow runs and repairs): id, parent_task_run_id."""
        return self._all(
            "SELECT id, parent_task_run_id FROM runs WHERE parent_run_id = ? "
            "ORDER BY created_at, id",
            (run_id,),
        )

    def attempt(self, task_run_id: int, number: int) -> AttemptRow | None:
        return one(
            AttemptRow,
            self._one(
                "SELECT * FROM attempts WHERE task_run_id = ? AND number = ?",
                (task_run_id, number),
            ),
        )

    def attempt_states(self, attempt_ids: Sequence[str]) -> dict[str, str]:
        """The state of each of these attempts, by id (those the store knows)."""
        if not attempt_ids:
            return {}
        rows = self._all(
            f"SELECT id, state FROM attempts WHERE id IN ({','.join('?' * len(attempt_ids))})",
            attempt_ids,
        )
        return {r["id"]: r["state"] for r in rows}

    # -- UI queries -----------------------------------------------------------------------

    def task_states(self, run_ids: Sequence[str], keys: Sequence[str] | None) -> list[Row]:
        """run_id, task_key, map_index and state of these tasks (None: all) in these runs (a
        runs grid, a DAG's colours): a fifth of the cost of whole task runs for 1,000."""
        if not run_ids or (keys is not None and not keys):
            return []
        of_keys = "" if keys is None else f"AND task_key IN ({','.join('?' * len(keys))})"
        return self._all(
            "SELECT run_id, task_key, map_index, state FROM task_runs "
            f"WHERE run_id IN ({','.join('?' * len(run_ids))}) {of_keys}",
            (*run_ids, *(keys or ())),
        )

    def task_attempts(self, task_run_id: int) -> list[AttemptRow]:
        """One task run's attempts, first first, each with its worker's name (`worker`)."""
        rows = self._all(
            f"{ATTEMPTS_NAMED} WHERE a.task_run_id = ? ORDER BY a.number", (task_run_id,)
        )
        return many(AttemptRow, rows)

    def run_rows(self, run_ids: Sequence[str]) -> list[RunRow]:
        """These runs, oldest first (those that exist)."""
        if not run_ids:
            return []
        rows = self._all(
            f"SELECT * FROM runs WHERE id IN ({','.join('?' * len(run_ids))}) "
            "ORDER BY created_at, id",
            tuple(run_ids),
        )
        return many(RunRow, rows)

    def running_tasks(self, limit: int) -> list[Row]:
        """What workers run now: worker_id, run_id, task_key, map_index, started_at of the
        running attempts, oldest first."""
        return self._all(
            "SELECT a.worker_id, a.run_id, t.task_key, t.map_index, a.started_at "
            "FROM attempts a JOIN task_runs t ON t.id = a.task_run_id "
            "WHERE a.state = 'running' ORDER BY a.started_at LIMIT ?",
            (limit,),
        )

    def waiting_approvals(
        self, mark: str, limit: int, visible: Visibility | None = None
    ) -> list[Row]:
        """Task runs waiting for a decision, oldest first, with their run's flow and
        version: those whose deferred state starts with the key `mark` (an approval task
        writes it first, so no column or migration is needed to find them), of the flows
        `visible` holds (None: all). A range of the claim index (state), like every
        live-state count."""
        condition, params = visible_sql("r.flow_name", visible)
        return self._all(
            "SELECT t.id, t.run_id, t.task_key, t.map_index, t.resume_attempt, t.defer_state, "
            "r.flow_name, r.version_id FROM task_runs t JOIN runs r ON r.id = t.run_id "
            "WHERE t.state = 'waiting' AND t.defer_state LIKE ?"
            + (f" AND {condition}" if condition else "")
            + " ORDER BY t.id LIMIT ?",
            ('{"' + mark + '":%', *params, limit),
        )
