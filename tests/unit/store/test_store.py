"""What opening a store costs: the SQLite path never imports SQLAlchemy, alembic or psycopg."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from baton.store.store import Store

HEAVY = ("sqlalchemy", "alembic", "psycopg")


def test_reopening_a_sqlite_store_imports_no_heavy_module(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'baton.db'}"
    Store(url).close()  # creates the schema (that path may import SQLAlchemy)
    code = (
        "import sys\n"
        "from baton.store.store import Store\n"
        f"s = Store({url!r})\n"
        "with s.transaction() as tx: tx.runs()\n"
        "s.close()\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
