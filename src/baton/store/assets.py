"""The asset catalog, lineage links, materializations, check results and freshness states.

`sync_catalog` writes what a deployed flow says of its assets, in the deploy's transaction;
`record_materializations` what its tasks write, in the transaction that ends their attempt;
`report_materialization` what is written outside baton. The reads are what the scheduler's
asset triggers, the CLI, the API and the UI show; each is an index range (see the indexes in
`schema.py`), so a catalog of 10,000 assets and 20,000 links answers a page or a lineage
hop in one query.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from baton.errors import DefinitionError
from baton.store.base import TxBase
from baton.store.records import (
    AssetLinkRow,
    AssetRow,
    AssetStateRow,
    CheckResultRow,
    MaterializationRow,
    many,
    one,
)

if TYPE_CHECKING:  # only deploys pass specs
    from baton.model.assets import AssetSpec

INPUT, OUTPUT = "input", "output"  # an asset link's kind
_IN_MAX = 500  # names in one IN (...) list
_BARE = (
    "INSERT INTO assets (name, created_at, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO NOTHING"
)


class Materialization(msgspec.Struct, frozen=True, gc=False):
    """A write of an asset by a task's attempt, to record (`record_materializations`)."""

    asset: str
    flow_name: str
    run_id: str
    task_key: str
    task_run_id: int
    attempt: int
    attempt_id: str
    metadata: str | None  # JSON object, secrets masked
    data_version: str | None
    at: float
    partition: str | None = None


class CheckRecord(msgspec.Struct, frozen=True, gc=False):
    """A check's result, to record (`record_check_results`): one field per column of
    `asset_check_results` but the id."""

    asset: str
    check_name: str
    severity: str  # error | warn
    passed: bool
    at: float
    run_id: str | None = None
    task_key: str | None = None
    task_run_id: int | None = None
    attempt: int | None = None
    materialization_id: int | None = None
    metadata: str | None = None  # JSON object, secrets masked
    failing_rows: str | None = None  # JSON list, at most 20 rows
    error: str | None = None  # why the check could not run (it then failed)
    duration: float | None = None


_CHECK_COLUMNS = tuple(CheckRecord.__struct_fields__)


def _chunks(names: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(names), _IN_MAX):
        yield names[i : i + _IN_MAX]


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


class Assets(TxBase):
    """Assets: the catalog and its history."""

    # -- writes --------------------------------------------------------------------------

    def sync_catalog(
        self, flow: str, specs: Sequence[AssetSpec], links: Sequence[AssetLinkRow], now: float
    ) -> None:
        """Make the catalog say what deployed flow `flow` says now: its declared assets
        (`specs`) upserted, bare rows for the assets its tasks write that nobody declares,
        its lineage links replaced by `links`. An asset it declared before and no longer does
        keeps its history and loses its entry (a bare row again).

        Raises:
            DefinitionError: another deployed flow declares one of these assets.
        """
        names = [s.name for s in specs]
        for chunk in _chunks(names):
            taken = self._all(
                f"SELECT name, declared_by FROM assets WHERE name IN ({_marks(chunk)}) "
                "AND declared_by IS NOT NULL AND declared_by != ? ORDER BY name",
                (*chunk, flow),
            )
            if taken:
                r = taken[0]
                raise DefinitionError(
                    f"asset '{r['name']}' is declared by flows '{r['declared_by']}' and "
                    f"'{flow}': declare it in one (the other can still read or write it)",
                    flow=flow,
                )
        dropped = [
            r["name"]
            for r in self._all("SELECT name FROM assets WHERE declared_by = ?", (flow,))
            if r["name"] not in set(names)
        ]
        for chunk in _chunks(dropped):
            self._c.execute(
                "UPDATE assets SET description = NULL, owner = NULL, tags = '[]', "
                "freshness = NULL, checks = '[]', notifications = '[]', declared_by = NULL, "
                f"updated_at = ? WHERE name IN ({_marks(chunk)})",
                (now, *chunk),
            )
        for chunk in _chunks([*names, *dropped]):
            self._c.execute(f"DELETE FROM asset_tags WHERE asset IN ({_marks(chunk)})", chunk)
        self._c.executemany(
            "INSERT INTO assets (name, description, owner, tags, freshness, checks, "
            "notifications, declared_by, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "description = excluded.description, owner = excluded.owner, "
            "tags = excluded.tags, freshness = excluded.freshness, checks = excluded.checks, "
            "notifications = excluded.notifications, declared_by = excluded.declared_by, "
            "updated_at = excluded.updated_at",
            [
                (
                    s.name,
                    s.description,
                    s.owner,
                    _json(s.tags),
                    None if s.freshness is None else _json(s.freshness),
                    _json(s.checks),
                    _json(s.notifications),
                    flow,
                    now,
                    now,
                )
                for s in specs
            ],
        )
        self._c.executemany(
            "INSERT INTO asset_tags (asset, tag) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(s.name, t) for s in specs for t in s.tags],
        )
        outputs = sorted({li.asset for li in links if li.kind == OUTPUT} - set(names))
        self._c.executemany(_BARE, [(a, now, now) for a in outputs])
        self._c.execute("DELETE FROM asset_links WHERE flow_name = ?", (flow,))
        self._c.executemany(
            "INSERT INTO asset_links (flow_name, task_key, asset, kind) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [(flow, li.task_key, li.asset, li.kind) for li in links],
        )

    def record_materializations(self, rows: Sequence[Materialization]) -> None:
        """Writes of assets by tasks; an asset the catalog does not know gets a bare row
        (a `baton run` of a flow never deployed)."""
        self._c.executemany(_BARE, sorted({(r.asset, r.at, r.at) for r in rows}))
        self._c.executemany(
            "INSERT INTO asset_materializations (asset, flow_name, run_id, task_key, "
            "task_run_id, attempt, attempt_id, partition, metadata, data_version, source, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'task', ?)",
            [
                (
                    r.asset,
                    r.flow_name,
                    r.run_id,
                    r.task_key,
                    r.task_run_id,
                    r.attempt,
                    r.attempt_id,
                    r.partition,
                    r.metadata,
                    r.data_version,
                    r.at,
                )
                for r in rows
            ],
        )

    def report_materialization(
        self,
        asset: str,
        metadata: Mapping[str, Any],
        partition: str | None,
        data_version: str | None,
        reported_by: str | None,
        now: float,
    ) -> MaterializationRow:
        """A write of `asset` outside baton (source `external`); it fires asset triggers
        like any other. The caller has masked `metadata`."""
        self._c.execute(_BARE, (asset, now, now))
        row = self._one(
            "INSERT INTO asset_materializations (asset, partition, metadata, data_version, "
            "source, reported_by, at) VALUES (?, ?, ?, ?, 'external', ?, ?) RETURNING *",
            (asset, partition, json.dumps(dict(metadata)), data_version, reported_by, now),
        )
        assert row is not None
        return MaterializationRow(**row)

    def materialization_ids(self, attempt_id: str, assets: Sequence[str]) -> dict[str, int]:
        """The materializations of these assets an attempt recorded (what its checks are
        of): each the newest of its asset's (index `(asset, id)` read backwards)."""
        out = {}
        for asset in assets:
            row = self._one(
                "SELECT id FROM asset_materializations WHERE asset = ? AND attempt_id = ? "
                "ORDER BY id DESC LIMIT 1",
                (asset, attempt_id),
            )
            if row is not None:
                out[asset] = row["id"]
        return out

    def record_check_results(self, rows: Sequence[CheckRecord]) -> list[CheckResultRow]:
        """Check results, as recorded (with their ids: a failure's notification names it)."""
        sql = (
            f"INSERT INTO asset_check_results ({', '.join(_CHECK_COLUMNS)}) "
            f"VALUES ({_marks(_CHECK_COLUMNS)}) RETURNING *"
        )
        out = []
        for r in rows:
            values = [getattr(r, c) for c in _CHECK_COLUMNS]
            values[_CHECK_COLUMNS.index("passed")] = int(r.passed)
            row = self._one(sql, values)
            assert row is not None
            out.append(CheckResultRow(**row))
        return out

    def set_asset_states(self, rows: Sequence[AssetStateRow]) -> None:
        """Freshness as evaluated now (one row per asset, replaced)."""
        self._c.executemany(
            "INSERT INTO asset_state (asset, state, since, last_update, due, evaluated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (asset) DO UPDATE SET "
            "state = excluded.state, since = excluded.since, "
            "last_update = excluded.last_update, due = excluded.due, "
            "evaluated_at = excluded.evaluated_at",
            [(r.asset, r.state, r.since, r.last_update, r.due, r.evaluated_at) for r in rows],
        )

    # -- reads ---------------------------------------------------------------------------

    def assets_with_freshness(self) -> list[AssetRow]:
        """The catalog entries with a freshness policy (what the timers evaluate)."""
        return many(
            AssetRow, self._all("SELECT * FROM assets WHERE freshness IS NOT NULL ORDER BY name")
        )

    def check_failure_counts(self) -> list[tuple[str, str, int]]:
        """(asset, check, failed results recorded): the metrics' counter."""
        rows = self._all(
            "SELECT asset, check_name, COUNT(*) AS n FROM asset_check_results WHERE passed = 0 "
            "GROUP BY asset, check_name ORDER BY asset, check_name"
        )
        return [(r["asset"], r["check_name"], r["n"]) for r in rows]

    def freshness_flags(self) -> list[tuple[str, bool]]:
        """(asset, whether it was last evaluated stale) of every asset with a freshness
        policy the scheduler evaluated, by name (the metrics' gauge)."""
        rows = self._all("SELECT asset, state FROM asset_state ORDER BY asset")
        return [(r["asset"], r["state"] == "stale") for r in rows]

    def materializations_since(
        self, assets: Sequence[str], since: float
    ) -> list[MaterializationRow]:
        """Writes of these assets recorded at or after `since`, oldest first (what asset
        triggers read)."""
        if not assets:
            return []
        return many(
            MaterializationRow,
            self._all(
                f"SELECT * FROM asset_materializations WHERE asset IN ({_marks(assets)}) "
                "AND at >= ? ORDER BY at, id",
                (*assets, since),
            ),
        )

    def asset(self, name: str) -> AssetRow | None:
        return one(AssetRow, self._one("SELECT * FROM assets WHERE name = ?", (name,)))

    def asset_page(
        self,
        *,
        tag: str | None = None,
        stale: bool | None = None,
        q: str | None = None,
        owner: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[AssetRow]:
        """Catalog entries by name, after name `after`: with tag `tag`, stale or not,
        whose name or description contains `q` (any case), owned by `owner`."""
        where: list[str] = []
        params: list[Any] = []
        if after is not None:
            where.append("a.name > ?")
            params.append(after)
        if tag is not None:
            where.append("EXISTS (SELECT 1 FROM asset_tags t WHERE t.asset = a.name AND t.tag = ?)")
            params.append(tag)
        if stale is not None:
            exists = "EXISTS (SELECT 1 FROM asset_state s WHERE s.asset = a.name AND s.state = ?)"
            where.append(exists if stale else f"NOT {exists}")
            params.append("stale")
        if q:
            pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(
                "(LOWER(a.name) LIKE ? ESCAPE '\\' OR LOWER(a.description) LIKE ? ESCAPE '\\')"
            )
            params += [pattern + "%", pattern + "%"]
        if owner is not None:
            where.append("a.owner = ?")
            params.append(owner)
        sql = "SELECT a.* FROM assets a"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return many(AssetRow, self._all(sql + " ORDER BY a.name LIMIT ?", (*params, limit)))

    def materializations(
        self, name: str, *, before_id: int | None = None, limit: int = 50
    ) -> list[MaterializationRow]:
        """An asset's writes, newest first, older than id `before_id`."""
        before = "" if before_id is None else " AND id < ?"
        params = (name,) if before_id is None else (name, before_id)
        return many(
            MaterializationRow,
            self._all(
                f"SELECT * FROM asset_materializations WHERE asset = ?{before} "
                "ORDER BY id DESC LIMIT ?",
                (*params, limit),
            ),
        )

    def last_materializations(self, names: Sequence[str]) -> dict[str, MaterializationRow]:
        """The latest write of each of these assets that has one."""
        out: dict[str, MaterializationRow] = {}
        for chunk in _chunks(sorted(set(names))):
            # One index lookup per catalogued asset (every written asset is catalogued).
            rows = self._all(
                "SELECT m.* FROM assets a JOIN asset_materializations m ON m.id = "
                "(SELECT id FROM asset_materializations WHERE asset = a.name "
                f"ORDER BY id DESC LIMIT 1) WHERE a.name IN ({_marks(chunk)})",
                chunk,
            )
            out.update((r.asset, r) for r in many(MaterializationRow, rows))
        return out

    def check_results(
        self, name: str, *, before_id: int | None = None, limit: int = 50
    ) -> list[CheckResultRow]:
        """An asset's check results, newest first, older than id `before_id`."""
        before = "" if before_id is None else " AND id < ?"
        params = (name,) if before_id is None else (name, before_id)
        return many(
            CheckResultRow,
            self._all(
                f"SELECT * FROM asset_check_results WHERE asset = ?{before} "
                "ORDER BY id DESC LIMIT ?",
                (*params, limit),
            ),
        )

    def asset_links(self, assets: Sequence[str], kind: str | None = None) -> list[AssetLinkRow]:
        """The deployed tasks reading or writing (`kind`; None: both) these assets."""
        out: list[AssetLinkRow] = []
        for chunk in _chunks(sorted(set(assets))):
            by_kind = "" if kind is None else " AND kind = ?"
            params = (*chunk,) if kind is None else (*chunk, kind)
            rows = self._all(
                f"SELECT * FROM asset_links WHERE asset IN ({_marks(chunk)}){by_kind} "
                "ORDER BY asset, kind, flow_name, task_key",
                params,
            )
            out += many(AssetLinkRow, rows)
        return out

    def task_links(self, flow: str, task_keys: Sequence[str]) -> list[AssetLinkRow]:
        """What these tasks of deployed flow `flow` read and write."""
        out: list[AssetLinkRow] = []
        for chunk in _chunks(sorted(set(task_keys))):
            rows = self._all(
                f"SELECT * FROM asset_links WHERE flow_name = ? AND task_key IN ({_marks(chunk)}) "
                "ORDER BY task_key, kind, asset",
                (flow, *chunk),
            )
            out += many(AssetLinkRow, rows)
        return out

    def asset_states(self, names: Sequence[str]) -> dict[str, AssetStateRow]:
        """The freshness of these assets that have been evaluated."""
        out: dict[str, AssetStateRow] = {}
        for chunk in _chunks(sorted(set(names))):
            rows = self._all(f"SELECT * FROM asset_state WHERE asset IN ({_marks(chunk)})", chunk)
            out.update((r.asset, r) for r in many(AssetStateRow, rows))
        return out

    def last_check_results(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], CheckResultRow]:
        """The latest result of each of these (asset, check) that has one."""
        out: dict[tuple[str, str], CheckResultRow] = {}
        wanted = sorted(set(pairs))
        one_ = (
            "SELECT (SELECT id FROM asset_check_results WHERE asset = ? AND check_name = ? "
            "ORDER BY id DESC LIMIT 1)"
        )
        # One index lookup per pair (index `(asset, check_name, id)` read backwards).
        for i in range(0, len(wanted), _IN_MAX // 2):
            chunk = wanted[i : i + _IN_MAX // 2]
            rows = self._all(
                "SELECT * FROM asset_check_results WHERE id IN "
                f"({' UNION ALL '.join([one_] * len(chunk))})",
                [v for pair in chunk for v in pair],
            )
            out.update(((r.asset, r.check_name), r) for r in many(CheckResultRow, rows))
        return out

    def lineage_hop(self, assets: Sequence[str], kind: str) -> list[AssetLinkRow]:
        """Every link of the deployed tasks that have a `kind` link to one of these assets
        (theirs included): one lineage hop in one query per chunk of names."""
        out: list[AssetLinkRow] = []
        for chunk in _chunks(sorted(set(assets))):
            rows = self._all(
                "SELECT DISTINCT o.* FROM asset_links l JOIN asset_links o "
                "ON o.flow_name = l.flow_name AND o.task_key = l.task_key "
                f"WHERE l.asset IN ({_marks(chunk)}) AND l.kind = ? "
                "ORDER BY o.flow_name, o.task_key, o.kind, o.asset",
                (*chunk, kind),
            )
            out += many(AssetLinkRow, rows)
        return out

    # -- freshness (what `scheduling.freshness` reads between full passes) ---------------

    def freshness_catalog_mark(self) -> tuple[int, float]:
        """(how many assets have a freshness policy, their latest `updated_at`): changes
        whenever a deploy adds, changes or drops a policy (each upsert stamps `updated_at`)."""
        row = self._one(
            "SELECT COUNT(*) AS n, MAX(updated_at) AS at FROM assets WHERE freshness IS NOT NULL"
        )
        assert row is not None
        return int(row["n"]), float(row["at"] or 0.0)

    def materialized_since(self, since: float) -> dict[str, float]:
        """The assets written at or after `since`, each with its latest write's time (index
        `at`: a range of the recent writes)."""
        rows = self._all(
            "SELECT asset, MAX(at) AS at FROM asset_materializations WHERE at >= ? GROUP BY asset",
            (since,),
        )
        return {r["asset"]: float(r["at"]) for r in rows}

    def materialized_after(self, after_id: int) -> list[tuple[int, str, float]]:
        """(id, asset, time) of the writes with an id above `after_id`, by id (the primary
        key: only the new rows are read)."""
        rows = self._all(
            "SELECT id, asset, at FROM asset_materializations WHERE id > ? ORDER BY id",
            (after_id,),
        )
        return [(int(r["id"]), r["asset"], float(r["at"])) for r in rows]

    def last_materialization_id(self) -> int:
        """The highest write id (0: none yet): where reading new writes by id starts."""
        row = self._one("SELECT MAX(id) AS id FROM asset_materializations")
        return int(row["id"] or 0) if row else 0

    def prune_asset_states(self) -> None:
        """Forget the freshness of assets that no longer have a policy (nor a catalog
        entry), so that none stays `stale` in the metrics and the catalog's filters."""
        self._c.execute(
            "DELETE FROM asset_state WHERE asset NOT IN "
            "(SELECT name FROM assets WHERE freshness IS NOT NULL)"
        )
