"""The store's records have one field per column of their table, in the table's order, so a
column added by a migration cannot be left out of what `Tx` returns (`SELECT *` rows are
built into them by name: a column without a field fails every read of the table)."""

from __future__ import annotations

import msgspec
import pytest

from baton.store import records, schema

TABLES = [
    (records.RunRow, schema.runs),
    (records.TaskRunRow, schema.task_runs),
    (records.AttemptRow, schema.attempts),
    (records.WorkerRow, schema.workers),
    (records.FlowRow, schema.flows),
]
# What reads join in beyond a table's columns (with defaults: not every read joins them).
JOINED = {
    records.AttemptRow: ["worker"],
    records.WorkerRow: ["running", "tasks"],
}


@pytest.mark.parametrize(("record", "table"), TABLES, ids=lambda v: getattr(v, "name", ""))
def test_a_record_has_a_field_per_column_in_order(record: type, table: object) -> None:
    columns = [c.name for c in table.columns]  # type: ignore[attr-defined]
    assert list(record.__struct_fields__) == columns + JOINED.get(record, [])


def test_records_are_immutable_and_compare_by_value() -> None:
    row = {c.name: None for c in schema.flows.columns} | {"name": "f", "paused": 0}
    a, b = records.FlowRow(**row), records.FlowRow(**row)
    assert a == b
    with pytest.raises(AttributeError):
        a.paused = 1  # type: ignore[misc]
    assert msgspec.structs.replace(a, paused=1) != b


def test_a_row_with_a_column_the_record_lacks_is_refused() -> None:
    row = {c.name: None for c in schema.flows.columns} | {"owner": "ana"}
    with pytest.raises(TypeError, match="owner"):
        records.one(records.FlowRow, row)
