"""Flow versions and deployments, and trigger cursors (assets: `store.assets`)."""

from __future__ import annotations

from collections.abc import Sequence

from baton.errors import NotFoundError
from baton.model.namespaces import namespace_of
from baton.model.spec import FlowSpec
from baton.store.base import Row, TxBase
from baton.store.records import FlowOverviewRow, FlowRow, many, one


class Flows(TxBase):
    """Flows and their versions, and what the scheduler reads and moves."""

    # -- flows ---------------------------------------------------------------------------

    def flow_version(self, name: str) -> str | None:
        """The latest version of a flow, None if the store has never seen it."""
        row = self._one("SELECT latest_version FROM flows WHERE name = ?", (name,))
        return None if row is None else str(row["latest_version"])

    def mark_deployed(self, name: str, now: float) -> None:
        self._c.execute("UPDATE flows SET deployed = 1, updated_at = ? WHERE name = ?", (now, name))

    def deployed_specs(self) -> list[FlowSpec]:
        """The latest version of every deployed flow."""
        rows = self._all(
            "SELECT v.spec FROM flows f JOIN flow_versions v ON v.id = f.latest_version "
            "WHERE f.deployed = 1 ORDER BY f.name"
        )
        return [FlowSpec.from_json(r["spec"]) for r in rows]

    def save_version(self, spec: FlowSpec, now: float, *, deployed: bool = False) -> str:
        """Store a flow version (its id: `spec.content_hash()`). The hash leaves out where
        the file was found: a deployed spec's path (relative to the project, where workers
        look) replaces the one a `baton run` stored for the same definition."""
        version = spec.content_hash()
        conflict = "DO UPDATE SET spec = excluded.spec" if deployed else "DO NOTHING"
        self._c.execute(
            "INSERT INTO flow_versions (id, flow_name, spec, created_at) VALUES (?, ?, ?, ?) "
            f"ON CONFLICT (id) {conflict}",
            (version, spec.name, spec.to_json(), now),
        )
        self._c.execute(
            "INSERT INTO flows (name, latest_version, paused, created_at, updated_at, namespace) "
            "VALUES (?, ?, 0, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "latest_version = excluded.latest_version, updated_at = excluded.updated_at "
            "WHERE flows.latest_version != excluded.latest_version",
            (spec.name, version, now, now, namespace_of(spec.name)),
        )
        return version

    def load_version(self, version_id: str) -> FlowSpec:
        row = self._one("SELECT spec FROM flow_versions WHERE id = ?", (version_id,))
        if row is None:
            raise NotFoundError(f"flow version '{version_id}' is not in the store")
        return FlowSpec.from_json(row["spec"])

    # -- scheduling ----------------------------------------------------------------------

    def flow(self, name: str) -> FlowRow | None:
        return one(FlowRow, self._one("SELECT * FROM flows WHERE name = ?", (name,)))

    def active_flows(self) -> list[FlowRow]:
        """Deployed, unpaused flows (what the scheduler looks at), by name."""
        rows = self._all("SELECT * FROM flows WHERE deployed = 1 AND paused = 0 ORDER BY name")
        return many(FlowRow, rows)

    def flows_overview(self) -> list[FlowOverviewRow]:
        """Every flow with its latest spec (JSON) and its latest run, by name."""
        rows = self._all(
            "SELECT f.name, f.deployed, f.paused, f.latest_version, v.spec, "
            "r.id AS last_run_id, r.state AS last_run_state, r.created_at AS last_run_at "
            "FROM flows f JOIN flow_versions v ON v.id = f.latest_version "
            "LEFT JOIN runs r ON r.id = (SELECT id FROM runs WHERE flow_name = f.name "
            "ORDER BY created_at DESC, id DESC LIMIT 1) ORDER BY f.name"
        )
        return many(FlowOverviewRow, rows)

    def set_paused(self, name: str, paused: bool) -> bool:
        """Pause or unpause a flow's schedule and triggers; False if there is no such flow."""
        cur = self._c.execute("UPDATE flows SET paused = ? WHERE name = ?", (int(paused), name))
        return cur.rowcount == 1

    def trigger_cursor(self, flow: str, trigger_id: str) -> Row | None:
        """Where a trigger has got to (`cursor`, JSON) and when it moved (`updated_at`)."""
        return self._one(
            "SELECT cursor, updated_at FROM trigger_state WHERE flow_name = ? AND trigger_id = ?",
            (flow, trigger_id),
        )

    def set_trigger_cursor(
        self, flow: str, trigger_id: str, old: str | None, new: str, now: float
    ) -> bool:
        """Compare-and-set a trigger's cursor from `old` (None: it has none yet) to `new`;
        False if another scheduler moved it first."""
        if old is None:
            cur = self._c.execute(
                "INSERT INTO trigger_state (flow_name, trigger_id, cursor, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (flow_name, trigger_id) DO NOTHING",
                (flow, trigger_id, new, now),
            )
        else:
            cur = self._c.execute(
                "UPDATE trigger_state SET cursor = ?, updated_at = ? "
                "WHERE flow_name = ? AND trigger_id = ? AND cursor = ?",
                (new, now, flow, trigger_id, old),
            )
        return cur.rowcount == 1

    def runs_ended_since(self, flow: str, states: Sequence[str], since: float) -> list[Row]:
        """A flow's runs that ended in one of `states` at or after `since`, oldest first."""
        marks = ",".join("?" * len(states))
        return self._all(
            f"SELECT id, flow_name, state, ended_at FROM runs WHERE flow_name = ? "
            f"AND state IN ({marks}) AND ended_at >= ? ORDER BY ended_at, id",
            (flow, *states, since),
        )

    def event_trigger_infos(self, flow: str, since: float) -> list[str]:
        """The trigger_info (JSON) of a flow's event-triggered runs created since `since`
        (labelled by kind, model.run_trigger.EVENT_KINDS; `event` by an older baton)."""
        rows = self._all(
            "SELECT trigger_info FROM runs WHERE flow_name = ? "
            "AND trigger IN ('event', 'file', 'asset', 'flow') "
            "AND created_at >= ? AND trigger_info IS NOT NULL",
            (flow, since),
        )
        return [r["trigger_info"] for r in rows]

    def runs_for_logical_dates(self, flow: str, first: float, last: float) -> list[Row]:
        """A flow's runs with a logical date from `first` to `last`, oldest first."""
        return self._all(
            "SELECT id, state, logical_date, parent_run_id, created_at FROM runs "
            "WHERE flow_name = ? AND logical_date >= ? AND logical_date <= ? "
            "ORDER BY logical_date, created_at, id",
            (flow, first, last),
        )
