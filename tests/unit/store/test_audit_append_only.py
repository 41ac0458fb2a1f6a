"""The audit log is append-only: no statement of baton's updates or deletes its rows (the
store only inserts and reads them; `db prune` leaves them)."""

from __future__ import annotations

import re
from pathlib import Path

import baton

SRC = Path(baton.__file__).parent
CHANGES = re.compile(r"(UPDATE|DELETE\s+FROM|TRUNCATE(\s+TABLE)?)\s+audit_log\b", re.I)


def test_no_code_updates_or_deletes_audit_entries() -> None:
    found = [
        f"{path.relative_to(SRC)}: {m.group(0)}"
        for path in SRC.rglob("*.py")
        if "migrations" not in path.parts
        for m in CHANGES.finditer(path.read_text())
    ]
    assert found == []
    assert "INSERT INTO audit_log" in (SRC / "store" / "admin.py").read_text()
