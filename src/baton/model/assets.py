"""Assets: named data (a table, a file, a model) that tasks read (`inputs`) and write
(`outputs`), declared with a catalog entry, quality checks and a freshness promise. Pure.

A flow declares them under a top-level `assets:` list (an asset in a task's `outputs` but not
declared here is still an asset, just without a catalog entry):

    assets:
      - name: warehouse.orders
        description: One row per order.
        owner: data-team@example.com
        tags: [sales, daily]
        freshness: {cron: "0 7 * * *", timezone: Europe/Paris, max_lag: 1h}
        checks:
          - {name: no_null_ids, sql: "SELECT * FROM orders WHERE id IS NULL", conn: warehouse}
          - {name: enough_rows, python: "checks:enough_rows", severity: warn}
        notifications:
          - {on: [stale, check_failed], email: data-team@example.com}

- `name`: segments of letters, digits, `_` or `-` joined by `.`; at most 300 characters.
- `freshness`: `{max_lag: 6h}` (stale once the last materialization is older than that) or
  `{cron, timezone, max_lag}` (updated by each cron tick, `max_lag` of grace, default 0).
  Durations are read by `model.durations`; cron and zone are checked as schedules are.
- a check: `sql` (the dbt-test convention: the query returns the failing rows) with `conn` (a
  named connection) or `url`; or `python: module:function`, called with the keyword arguments
  `asset` (its name), `metadata` (the checked materialization's, `{}` if none) and
  `partition` (its key, or None), returning a bool or a `CheckResult`. `severity`: `error`
  (default: a failure fails the producing task, `error_kind: check`, and records no
  materialization) or `warn` (recorded and notified). `execution.checks` runs them.

Errors are reported through a `Locator`, so that the YAML parser can point at the line of
the bad field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NoReturn

import msgspec

from baton.errors import DefinitionError
from baton.model import durations, names, notifications
from baton.model.yaml_fields import Locator, kind, show

NAME = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
MAX_NAME = 300
NAME_RULE = (
    "letters, digits, '_' or '-' in segments joined by '.' (e.g. warehouse.orders),"
    f" at most {MAX_NAME} characters"
)
FIELDS = ("name", "description", "owner", "tags", "freshness", "checks", "notifications")
FRESHNESS_FIELDS = ("max_lag", "cron", "timezone")
CHECK_FIELDS = ("name", "sql", "python", "conn", "url", "severity", "description")
SEVERITIES = ("error", "warn")
EVENTS = ("stale", "check_failed")  # what an asset's notification entries may want
MAX_TAG = 100
MAX_OWNER = 200
MAX_CHECK_NAME = 200

Severity = Literal["error", "warn"]

_CHECK_NAME = re.compile(r"[A-Za-z0-9_-]+")
_FUNCTION = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_<][\w.<>]*")
_CONN = re.compile(r"\w+")  # as the sql task reads it: BATON_CONN_<NAME>


# The options of `model.spec.Spec`, repeated: spec.py imports this module for FlowSpec.assets.
class FreshnessSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """How recent an asset must be: `max_lag` seconds, or each `cron` tick (in `timezone`)
    with `max_lag` seconds of grace."""

    max_lag: Annotated[float, msgspec.Meta(ge=0)] | None = None
    cron: str | None = None
    timezone: str = "UTC"


class CheckSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A data-quality test of one asset: `sql` (with `conn` or `url`) or `python`."""

    name: str
    sql: str | None = None
    python: str | None = None
    conn: str | None = None
    url: str | None = None
    severity: Severity = "error"
    description: str | None = None


class AssetSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """An asset's catalog entry, as a flow declares it."""

    name: str
    description: str | None = None
    owner: str | None = None
    tags: tuple[str, ...] = ()
    freshness: FreshnessSpec | None = None
    checks: tuple[CheckSpec, ...] = ()
    notifications: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What a Python check returns when a bool says too little.

    Args:
        passed: whether the asset passed the check.
        metadata: JSON values recorded with the result (counts, ratios, ...).
    """

    passed: bool
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Built by user code, read by the runner later: a wrong type is said where it is made.
        if not isinstance(self.passed, bool):
            raise TypeError(f"CheckResult 'passed' must be True or False, got {self.passed!r}")
        if not isinstance(self.metadata, Mapping) or not all(
            isinstance(k, str) for k in self.metadata
        ):
            raise TypeError(
                f"CheckResult 'metadata' must be a mapping with string keys, got {self.metadata!r}"
            )
        object.__setattr__(self, "metadata", dict(self.metadata))


def is_name(value: object) -> bool:
    """Whether `value` is a valid asset name."""
    return isinstance(value, str) and len(value) <= MAX_NAME and bool(NAME.fullmatch(value))


def parse_assets(data: dict[str, Any], locator: Locator) -> list[AssetSpec]:
    """The `assets:` entries of a loaded flow mapping, checked; [] when there are none.

    Raises:
        DefinitionError: through `locator`, at the line of the bad entry or field.
    """
    items = _Reader(locator).mappings(data, "assets", "a list of asset mappings with 'name'")
    first_lines: dict[str, int | None] = {}
    declared = []
    for i, item in enumerate(items):
        asset = _Asset(locator, item, i + 1).spec()
        line = locator.key_line(item, "name")
        if asset.name in first_lines:
            locator.fail(
                f"asset '{asset.name}' is declared twice (first on line {first_lines[asset.name]})",
                line=line,
            )
        first_lines[asset.name] = line
        declared.append(asset)
    return declared


def check_task_assets(item: dict[str, Any], key: str, locator: Locator) -> None:
    """Each name in a task's `inputs` and `outputs` (already lists of strings) is an asset
    name: a name no trigger or lineage query could match is a typo to catch now."""
    for field_ in ("inputs", "outputs"):
        value = item.get(field_)
        for name in [value] if isinstance(value, str) else value or ():
            if not is_name(name):
                locator.fail(
                    f"'{field_}' names {show(name)}, which is not an asset name: use {NAME_RULE}",
                    line=locator.key_line(item, field_),
                    task=key,
                )


class _Reader:
    """Typed reads of one mapping's fields; errors name `where` and the field's line."""

    def __init__(self, locator: Locator, where: str = "") -> None:
        self.locator, self.where = locator, where

    def fail(self, message: str, line: int | None) -> NoReturn:
        self.locator.fail(f"{self.where}: {message}" if self.where else message, line=line)

    def unknown(self, item: dict[str, Any], allowed: tuple[str, ...], what: str = "") -> None:
        for key in item:
            if not isinstance(key, str):
                self.fail(
                    f"field names must be strings, got {key!r}", self.locator.key_line(item, key)
                )
            if key not in allowed:
                self.fail(
                    f"unknown field '{what}{key}' (allowed: {', '.join(allowed)})"
                    + names.did_you_mean(key, allowed),
                    self.locator.key_line(item, key),
                )

    def mappings(self, item: dict[str, Any], field_: str, expected: str) -> list[dict[str, Any]]:
        items = item.get(field_)
        if items is None:
            return []
        if not isinstance(items, list):
            self.fail(f"'{field_}' must be {expected}, got {kind(items)}", self.line(item, field_))
        for i, entry in enumerate(items):
            if not isinstance(entry, dict):
                self.fail(
                    f"each entry of '{field_}' must be a mapping, got {kind(entry)}",
                    self.locator.item_line(items, i),
                )
        return items

    def text(
        self, item: dict[str, Any], field_: str, *, limit: int | None = None, label: str = ""
    ) -> str | None:
        """A non-empty string of at most `limit` characters, or None when absent or null."""
        value = item.get(field_)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > (limit or len(value)):
            longest = f" of at most {limit} characters" if limit else ""
            self.fail(
                f"'{label or field_}' must be a non-empty string{longest}, got {show(value)}",
                self.line(item, field_),
            )
        return value

    def line(self, item: dict[str, Any], field_: str) -> int | None:
        return self.locator.key_line(item, field_)


class _Asset(_Reader):
    """One entry of `assets:`, the `number`-th (1-based)."""

    def __init__(self, locator: Locator, item: dict[str, Any], number: int) -> None:
        name = item.get("name")
        super().__init__(locator, f"asset '{name}'" if is_name(name) else f"asset {number}")
        self.item = item

    def spec(self) -> AssetSpec:
        item = self.item
        self.unknown(item, FIELDS)
        if "name" not in item:
            close = names.closest("name", item)
            hint = f" (is '{close}' a typo?)" if close else ""
            self.fail(f"no 'name'{hint}", self.locator.line_of(item))
        if not is_name(item["name"]):
            self.fail(
                f"'name' must be {NAME_RULE}, got {show(item['name'])}", self.line(item, "name")
            )
        description = self.text(item, "description")
        return AssetSpec(
            name=item["name"],
            description=description,
            owner=self.text(item, "owner", limit=MAX_OWNER),
            tags=self.tags(),
            freshness=self.freshness(),
            checks=self.checks(),
            notifications=self.notifications(),
        )

    def tags(self) -> tuple[str, ...]:
        value = self.item.get("tags")
        if value is None:
            return ()
        tags = [value] if isinstance(value, str) else value
        ok = isinstance(tags, list) and all(
            isinstance(t, str) and t.strip() and len(t) <= MAX_TAG for t in tags
        )
        if not ok:
            self.fail(
                f"'tags' must be a list of non-empty strings of at most {MAX_TAG} characters,"
                f" got {show(value)}",
                self.line(self.item, "tags"),
            )
        for i, tag in enumerate(tags):
            if tag in tags[:i]:
                self.fail(f"'tags' lists {tag!r} twice", self.line(self.item, "tags"))
        return tuple(tags)

    def freshness(self) -> FreshnessSpec | None:
        value = self.item.get("freshness")
        if value is None:
            return None
        line = self.line(self.item, "freshness")
        if not isinstance(value, dict):
            self.fail(
                f"'freshness' must be a mapping such as {{max_lag: 6h}} or {{cron: '0 7 * * *',"
                f" timezone: Europe/Paris, max_lag: 1h}}, got {kind(value)}",
                line,
            )
        self.unknown(value, FRESHNESS_FIELDS, "freshness.")
        cron = self.text(value, "cron", label="freshness.cron")
        if "max_lag" not in value and cron is None:
            self.fail(
                "'freshness' needs 'max_lag' (e.g. max_lag: 6h) or 'cron' (e.g. cron: '0 7 * * *')",
                line,
            )
        max_lag = None
        if value.get("max_lag") is not None or ("max_lag" in value and cron is None):
            try:  # with a cron, 0 is no grace: the update is due at the tick itself
                max_lag = durations.parse(
                    value.get("max_lag"), "freshness.max_lag", allow_zero=cron is not None
                )
            except DefinitionError as exc:
                self.fail(exc.message, self.line(value, "max_lag"))
        timezone = self.text(value, "timezone", label="freshness.timezone")
        if cron is None:
            if timezone is not None:
                self.fail(
                    "'freshness.timezone' is the zone of 'freshness.cron': give a cron too,"
                    " or drop it",
                    self.line(value, "timezone"),
                )
            return FreshnessSpec(max_lag=max_lag)
        cron = self.cron(value, cron)
        zone = self.timezone(value, cron, timezone)
        return FreshnessSpec(max_lag=max_lag, cron=cron, timezone=zone)

    def cron(self, value: dict[str, Any], cron: str) -> str:
        from baton.model import schedules  # croniter costs ~50 ms: only cron users pay it

        if cron.strip().startswith("every"):
            every = cron.strip().removeprefix("every").strip()
            self.fail(
                f"'freshness.cron' {cron!r} is an interval: write max_lag: {every} instead",
                self.line(value, "cron"),
            )
        try:  # the expression in the canonical form schedules keep (aliases lower-cased)
            return schedules.Schedule(cron).expression
        except DefinitionError as exc:
            self.fail(f"'freshness.cron': {exc.message}", self.line(value, "cron"))

    def timezone(self, value: dict[str, Any], cron: str, timezone: str | None) -> str:
        from baton.model import schedules

        if timezone is None:
            return "UTC"
        try:  # the cron alone was valid: what fails now is the zone
            return schedules.Schedule(cron, timezone=timezone).timezone
        except DefinitionError as exc:
            self.fail(f"'freshness.timezone': {exc.message}", self.line(value, "timezone"))

    def checks(self) -> tuple[CheckSpec, ...]:
        items = self.mappings(self.item, "checks", "a list of check mappings")
        first_lines: dict[str, int | None] = {}
        checks = []
        for i, item in enumerate(items):
            check = _Check(self, item, i + 1).spec()
            line = self.line(item, "name")
            if check.name in first_lines:
                self.fail(
                    f"check '{check.name}' is defined twice (first on line"
                    f" {first_lines[check.name]})",
                    line,
                )
            first_lines[check.name] = line
            checks.append(check)
        return tuple(checks)

    def notifications(self) -> tuple[dict[str, Any], ...]:
        items = self.mappings(self.item, "notifications", "a list of notification mappings")
        entries = []
        for i, item in enumerate(items):
            line = self.locator.item_line(items, i)
            events = item.get("on")
            wanted = [events] if isinstance(events, str) else events
            if not isinstance(wanted, list) or not wanted or any(e not in EVENTS for e in wanted):
                self.fail(
                    f"notification {i + 1}: 'on' must name an asset's events"
                    f" ({', '.join(EVENTS)}), got {show(events)}",
                    self.line(item, "on") if "on" in item else line,
                )
            try:
                entries.append(notifications.entry(i + 1, item))
            except DefinitionError as exc:
                self.fail(exc.message, line)
        return tuple(entries)


class _Check(_Reader):
    """One entry of an asset's `checks:`, the `number`-th (1-based)."""

    def __init__(self, asset: _Asset, item: dict[str, Any], number: int) -> None:
        name = item.get("name")
        label = f"check '{name}'" if isinstance(name, str) else f"check {number}"
        super().__init__(asset.locator, f"{asset.where}, {label}")
        self.item = item

    def spec(self) -> CheckSpec:
        item = self.item
        self.unknown(item, CHECK_FIELDS)
        first = self.locator.line_of(item)
        if "name" not in item:
            self.fail("no 'name'", first)
        name = item["name"]
        if (
            not isinstance(name, str)
            or not _CHECK_NAME.fullmatch(name)
            or len(name) > MAX_CHECK_NAME
        ):
            self.fail(
                f"'name' must be letters, digits, '_' or '-', at most {MAX_CHECK_NAME}"
                f" characters, got {show(name)}",
                self.line(item, "name"),
            )
        sql, python = self.text(item, "sql"), self.text(item, "python")
        if (sql is None) == (python is None):
            said = "both" if sql else "neither"
            self.fail(
                f"give exactly one of 'sql' (a query returning the failing rows) or 'python'"
                f" (module:function), got {said}",
                first,
            )
        conn, url = self.text(item, "conn"), self.text(item, "url")
        if python is not None:
            if not _FUNCTION.fullmatch(python):
                self.fail(
                    f"'python' must be module:function (e.g. checks.orders:no_gaps),"
                    f" got {show(python)}",
                    self.line(item, "python"),
                )
            if conn is not None or url is not None:
                self.fail(
                    "'conn' and 'url' are for sql checks; a python check connects itself",
                    self.line(item, "conn" if conn is not None else "url"),
                )
        elif (conn is None) == (url is None):
            said = "both" if conn else "neither"
            self.fail(
                "a sql check needs exactly one of 'conn' (a named connection, read from"
                f" $BATON_CONN_<NAME>) or 'url' (a SQLAlchemy URL), got {said}",
                first,
            )
        if conn is not None and not _CONN.fullmatch(conn):
            self.fail(
                f"'conn' must be a connection name (letters, digits, '_'), got {show(conn)}",
                self.line(item, "conn"),
            )
        severity = item.get("severity", "error")
        if severity not in SEVERITIES:
            self.fail(
                f"'severity' must be one of {', '.join(SEVERITIES)}, got {show(severity)}",
                self.line(item, "severity"),
            )
        return CheckSpec(
            name=name,
            sql=sql,
            python=python,
            conn=conn,
            url=url,
            severity=severity,
            description=self.text(item, "description"),
        )
