"""The scheduler: turns the schedules and event triggers of deployed flows into runs.

`Scheduler.tick()` does what is due now and says when to look again; `baton server` and
`baton scheduler` call it in a loop while they hold the `scheduler` lock (`timers`). Its
clock is the store's (`Tx.now`: PostgreSQL's own on a cluster store), so a server whose
clock jumps or disagrees with another's fires nothing early, late or twice; it is
injectable, so tests move time by hand instead of sleeping.

Each trigger of each flow keeps a cursor in the store (`trigger_state`), so a new scheduler
(a restart, another machine) carries on where the last one stopped:

- A schedule's cursor is the last logical date it created a run for. Runs are created
  first, then the cursor moves: a scheduler killed in between creates the same logical dates
  again, which the store refuses (one run per flow and logical date), so nothing fires twice
  and nothing is lost. Two schedulers ticking at once are kept apart the same way.
- Event runs have no logical date, so the store cannot refuse a second one. Each firing has
  a key (the file's path, mtime and size; the asset event; the upstream run) that its run
  records in `trigger_info["key"]`; before creating runs, the scheduler skips keys a run
  already has. So a scheduler killed between creating a run and moving the cursor does not
  fire it again. The cursor itself moves by compare-and-set.

What fires, and when a trigger is first seen (the first tick after `baton deploy` adds it):

- schedule: the runs `Schedule.missed_runs` names, by the flow's catch-up policy. Without a
  cursor that is the latest complete interval (or, with catch-up and a `start`, every one
  since `start`); after a pause, every missed one with catch-up, else only the latest, as
  in Airflow.
- file: once per file matching the glob (relative to the flow file's folder) that is new or
  whose mtime or size changed. Files already there when the trigger is first seen fire too:
  a landing folder's backlog is work to do, and deploying should not silently skip it.
- asset, assets (all of), flow: the asset updates or runs that ended since the flow was
  deployed (its `updated_at`). An all-of trigger fires when every asset it names has been
  updated since it last fired; the latest update of each is what it passes on. An asset
  trigger of a partitioned flow runs the partitions the write maps to
  (`scheduling.partition_triggers`), each its own firing (the key names the partition).

Each tick also evaluates the freshness of the catalog's assets (`scheduling.freshness`,
on the same clock): a write is seen at the next tick, and becoming stale is told once.
"""

from __future__ import annotations

import glob
import json
import math
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from baton.engine.service import Compiled, Engine
from baton.errors import BatonError, ConflictError
from baton.execution import loader
from baton.model import run_trigger, triggers
from baton.model.params import coerce_params
from baton.model.schedules import Schedule, parse_schedule
from baton.model.spec import FlowSpec
from baton.model.times import iso
from baton.scheduling import partition_triggers
from baton.scheduling.freshness import Evaluator
from baton.store.records import FlowRow

SCHEDULE = "schedule"  # the trigger_state id of a flow's schedule
SETTLE = 300.0  # seconds an asset update or run end may take to be committed after its time
MAX_RUNS_PER_TICK = 500  # per flow: a catch-up of years is spread over several ticks
EVENT_POLL = 1.0  # seconds between looks at asset updates and run ends
FILE_POLL = 2.0  # seconds between scans of a file trigger's glob


class Firing(NamedTuple):
    """One event that starts one run: its key (see the module docstring) and trigger_info."""

    key: str
    info: dict[str, Any]


# What a look at a trigger found: its firings, and its cursor after them (unchanged: no write).
Fired = tuple[list[Firing], dict[str, Any] | None]


class Look(NamedTuple):
    """What a firing function looks at besides its trigger: where its cursor stands."""

    spec: FlowSpec
    flow: FlowRow  # the deployed flow (its `updated_at`: when a new trigger starts looking)
    cursor: dict[str, Any] | None
    now: float


class Poll(NamedTuple):
    """How the scheduler fires one kind of trigger: what it does at each look, and how
    often it looks (seconds)."""

    fire: Callable[[Scheduler, Any, Look], Fired]
    every: float


class Scheduler:
    """Creates the runs schedules and event triggers of deployed, unpaused flows call for.

    Args:
        engine: creates the runs (its store is where cursors are kept).
        clock: the current UNIX time (default: the store's clock); tests pass a fake one.
        project_dir: where relative flow sources (and so file globs) are found; default cwd.
        report: called with a line for each run created and each problem with a flow.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], float] | None = None,
        project_dir: str | None = None,
        report: Callable[[str], object] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock or engine.store.clock
        self.project_dir = project_dir
        self.report = report or (lambda line: None)
        self._schedules: dict[str, Schedule] = {}  # by flow version
        self._next: dict[tuple[str, str], tuple[str, float]] = {}  # (flow, trigger): version, t
        self._problems: dict[str, str] = {}  # the last problem reported for each flow
        self._last_tick = -math.inf
        self.freshness = Evaluator(engine.store, self.report)

    def tick(self) -> float | None:
        """Create every run due now; the UNIX time something is next due (None: nothing)."""
        now = self.clock()
        if now < self._last_tick:
            # The clock went back: due times computed before are in its future. Look at
            # everything again (the cursors and the store keep dates from firing twice).
            self._next.clear()
        self._last_tick = now
        due: list[float] = []
        for flow in self.engine.store.read().active_flows():
            try:
                due += self._flow(flow, now)
            except BatonError as exc:  # one broken flow does not hold the others up
                self._problem(flow.name, str(exc))
            else:
                self._problems.pop(flow.name, None)
        # Every tick: a new write is seen at once, and a tick with nothing new costs two
        # small queries (see `scheduling.freshness`).
        fresh_until = self.freshness.tick(now)
        if fresh_until is not None and fresh_until > now:
            due.append(fresh_until)
        return min(due, default=None)

    def _flow(self, flow: FlowRow, now: float) -> list[float]:
        """Do what is due for one flow; when each of its schedule and triggers is next due."""
        c = self.engine.compiled(flow.latest_version)
        if c.spec.schedule is None and not c.spec.triggers:
            return []
        params = coerce_params(c.spec.params, {}, flow=c.spec.name)
        due: list[float] = []
        if c.spec.schedule is not None:
            if self._is_due(flow, SCHEDULE, now):
                nxt = self._schedule(c, params, now)
                self._next[flow.name, SCHEDULE] = (c.version_id, nxt or math.inf)
            due.append(self._next[flow.name, SCHEDULE][1])
        for trigger in triggers.validate_triggers(c.spec.triggers):
            poll = FIRINGS[trigger.kind]
            if poll is None:
                continue  # the API creates those runs
            tid = trigger.id
            if self._is_due(flow, tid, now):
                self._event_trigger(flow, c, params, trigger, poll, now)
                self._next[flow.name, tid] = (c.version_id, now + poll.every)
            due.append(self._next[flow.name, tid][1])
        return [t for t in due if t < math.inf]

    def _is_due(self, flow: FlowRow, tid: str, now: float) -> bool:
        """Whether to look at a trigger now: at its due time, or as soon as it is redeployed
        (cached times are this process's own: a new scheduler looks at everything once)."""
        version, at = self._next.get((flow.name, tid), ("", 0.0))
        return version != flow.latest_version or now >= at

    # -- schedules -----------------------------------------------------------------------

    def _schedule(self, c: Compiled, params: Mapping[str, Any], now: float) -> float | None:
        """Create the schedule's missed runs; when it next fires."""
        name = c.spec.name
        schedule = self._parsed(c)
        row = self.engine.store.read().trigger_cursor(name, SCHEDULE)
        old = row["cursor"] if row else None
        last = json.loads(old)["last"] if old else None
        since = None if last is None else _at(last)
        dates = schedule.missed_runs(since, _at(now))[:MAX_RUNS_PER_TICK]
        for logical in dates:
            interval = schedule.data_interval_starting(logical)
            try:
                run_id = self.engine.create_run(
                    c.version_id,
                    params,
                    trigger="schedule",
                    logical_date=logical.timestamp(),
                    data_interval=(interval.start.timestamp(), interval.end.timestamp()),
                )
            except ConflictError as exc:  # another scheduler, a backfill, we before a restart
                if c.spec.partitions is not None:  # or a run of its partition is going
                    self.report(f"flow {name}: no run for {iso(logical.timestamp())}: {exc}")
                continue
            self.report(f"flow {name}: run {run_id} for {iso(logical.timestamp())} (schedule)")
        if dates:
            new = json.dumps({"last": dates[-1].timestamp()})
            with self.engine.store.transaction() as tx:
                tx.set_trigger_cursor(name, SCHEDULE, old, new, now)
            if len(dates) == MAX_RUNS_PER_TICK:
                return now  # more to catch up at once
        nxt = schedule.next_after(_at(now))
        return None if nxt is None else nxt.timestamp()

    def _parsed(self, c: Compiled) -> Schedule:
        s = self._schedules.get(c.version_id)
        if s is None:
            assert c.spec.schedule is not None
            s = self._schedules[c.version_id] = parse_schedule(c.spec.schedule)
        return s

    # -- event triggers ------------------------------------------------------------------

    def _event_trigger(
        self,
        flow: FlowRow,
        c: Compiled,
        params: Mapping[str, Any],
        trigger: triggers.Trigger,
        poll: Poll,
        now: float,
    ) -> None:
        name, tid = c.spec.name, trigger.id
        row = self.engine.store.read().trigger_cursor(name, tid)
        old = row["cursor"] if row else None
        cursor = json.loads(old) if old else None
        moved_at = row["updated_at"] if row else flow.updated_at
        firings, new = poll.fire(self, trigger, Look(c.spec, flow, cursor, now))
        if firings:
            # A run whose cursor move was lost (killed in between) has fired already.
            done = self._fired_keys(name, moved_at - SETTLE)
            for f in firings:
                if f.key in done:
                    continue
                kind, info = run_trigger.event_kind(f.info), {**f.info, "key": f.key}
                run_id = self.engine.create_run(
                    c.version_id,
                    params,
                    trigger=kind,
                    trigger_info=info,
                    partition=f.info.get("partition"),
                )
                self.report(f"flow {name}: run {run_id} ({f.info['type']} trigger: {f.key})")
        if new != cursor:
            with self.engine.store.transaction() as tx:
                tx.set_trigger_cursor(name, tid, old, json.dumps(new, sort_keys=True), now)

    def _fired_keys(self, flow: str, since: float) -> set[str]:
        infos = self.engine.store.read().event_trigger_infos(flow, since)
        return {str(json.loads(i).get("key")) for i in infos}

    def _files(self, trigger: triggers.FileTrigger, look: Look) -> Fired:
        """Files new or changed since the last scan; the cursor is every file's mtime and
        size (a file that goes away and comes back fires again)."""
        source = loader.source_path(look.spec, self.project_dir)
        base = os.path.dirname(source) if source else self.project_dir or os.getcwd()
        found: dict[str, list[int]] = {}
        for path in glob.glob(os.path.join(base, trigger.glob), recursive=True):
            try:
                st = os.stat(path)
            except OSError:  # gone since the glob saw it
                continue
            if stat.S_ISREG(st.st_mode):
                found[os.path.abspath(path)] = [st.st_mtime_ns, st.st_size]
        seen = (look.cursor or {}).get("seen", {})
        changed = sorted((v[0], p) for p, v in found.items() if seen.get(p) != v)
        firings = [
            Firing(f"file:{p}:{found[p][0]}:{found[p][1]}", {"type": triggers.FILE, "path": p})
            for _, p in changed
        ]
        return firings, {"seen": found}

    def _asset(self, trigger: triggers.AssetTrigger, look: Look) -> Fired:
        return self._asset_updates((trigger.asset,), False, look)

    def _all_assets(self, trigger: triggers.AllAssetsTrigger, look: Look) -> Fired:
        return self._asset_updates(trigger.assets, True, look)

    def _asset_updates(self, assets: Sequence[str], all_of: bool, look: Look) -> Fired:
        """Updates of the assets since the cursor: one firing each, or, for all of them,
        one each time every asset has been updated (the cursor keeps those still waiting)."""
        cursor = look.cursor
        since, seen = _window(cursor, look.flow)
        waiting = dict((cursor or {}).get("waiting", {}))
        firings = []
        consumed = False
        for e in self.engine.store.read().materializations_since(assets, since):
            if e.id in seen:
                continue
            seen[e.id] = e.at
            consumed = True
            update: dict[str, Any] = {
                "asset": e.asset,
                "flow": e.flow_name,
                "run_id": e.run_id,
                "task": e.task_key,
                "at": iso(e.at),
            }
            if not all_of and look.spec.partitions is not None:
                for key in partition_triggers.keys_for(self.engine, look.spec.partitions, e):
                    info = {"type": triggers.ASSET, **update, "partition": key}
                    firings.append(Firing(f"asset:{e.id}:{key}", info))
                continue
            if not all_of:
                firings.append(Firing(f"asset:{e.id}", {"type": triggers.ASSET, **update}))
                continue
            waiting[e.asset] = update
            if all(a in waiting for a in assets):
                info = {"type": triggers.ASSETS, "assets": {a: waiting[a] for a in assets}}
                firings.append(Firing(f"assets:{e.id}", info))
                waiting = {}
        if not consumed:
            return firings, cursor  # nothing new: nothing to write
        new = _advanced(since, seen, look.now)
        if all_of:
            new["waiting"] = waiting
        return firings, new

    def _runs_ended(self, trigger: triggers.FlowTrigger, look: Look) -> Fired:
        """Runs of the upstream flow that ended in one of the trigger's states since the
        cursor."""
        since, seen = _window(look.cursor, look.flow)
        upstream = trigger.flow
        runs = self.engine.store.read().runs_ended_since(upstream, trigger.ends, since)
        firings = []
        for r in runs:
            if r["id"] in seen:
                continue
            seen[r["id"]] = r["ended_at"]
            info = {"type": triggers.FLOW, "flow": upstream, "run_id": r["id"], "state": r["state"]}
            firings.append(Firing(f"run:{r['id']}", info))
        if not firings:
            return firings, look.cursor
        return firings, _advanced(since, seen, look.now)

    def _problem(self, flow: str, message: str) -> None:
        if self._problems.get(flow) != message:
            self._problems[flow] = message
            self.report(f"flow {flow}: not scheduled: {message}")


# The one table from trigger kind to how the scheduler fires it (None: it does not, the API
# does). A new kind of trigger is a class in model.triggers and an entry here.
FIRINGS: dict[str, Poll | None] = {
    triggers.FILE: Poll(Scheduler._files, FILE_POLL),
    triggers.ASSET: Poll(Scheduler._asset, EVENT_POLL),
    triggers.ASSETS: Poll(Scheduler._all_assets, EVENT_POLL),
    triggers.FLOW: Poll(Scheduler._runs_ended, EVENT_POLL),
    triggers.WEBHOOK: None,
}


def trigger_id(trigger: Mapping[str, Any]) -> str:
    """A trigger's id in `trigger_state` (see `model.triggers.Trigger.id`)."""
    return triggers.parse_trigger(1, trigger).id


def _window(cursor: dict[str, Any] | None, flow: FlowRow) -> tuple[float, dict[Any, float]]:
    """Where an event cursor stands: the time `since` which events are still looked at
    (first seen: the flow's deploy time; everything before was consumed), and the events
    since then already consumed, with their time."""
    if cursor is None:
        return float(flow.updated_at), {}
    return float(cursor["since"]), {k: t for k, t in cursor["seen"]}


def _advanced(since: float, seen: Mapping[Any, float], now: float) -> dict[str, Any]:
    """The cursor after consuming `seen`. Events are looked at by time, not id, and for
    SETTLE seconds: one recorded earlier may be committed after a later one was consumed
    (ids and times are taken before commit). Older ones are all visible by now, so the
    window starts there and forgets what it consumed before."""
    since = max(since, now - SETTLE)
    return {"since": since, "seen": sorted([k, t] for k, t in seen.items() if t >= since)}


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
