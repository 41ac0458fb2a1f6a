"""`baton db upgrade`: bring a database of any supported kind to the newest schema revision.

Imports alembic (and SQLAlchemy): only this command and tests pay for it.
"""

from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from baton.errors import StoreError
from baton.model import urls
from baton.store import dialect

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")

# The revision a database made before alembic (it has `baton_schema` version 1) is at.
_BEFORE_ALEMBIC = {1: "0001"}


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    return cfg


def head() -> str:
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def upgrade(url: str, revision: str = "head") -> str | None:
    """Migrate the database at `url` to `revision` (default: the newest) and return the
    revision it is at now; running it again does nothing.

    An empty database gets every table; a database made before alembic is recognised by its
    `baton_schema` table. The dialect's schema lock is held throughout, so a store opening
    the database meanwhile waits instead of creating the schema too.
    """
    d = dialect.for_url(url)
    raw = d.connect()
    try:
        with d.schema_lock(raw):
            tables = d.tables(raw)
            stamp = None
            if "alembic_version" not in tables and "baton_schema" in tables:
                row = raw.execute("SELECT max(version) AS v FROM baton_schema").fetchone()
                version = row["v"] if row else None
                stamp = _BEFORE_ALEMBIC.get(version) if isinstance(version, int) else None
                if stamp is None:
                    raise StoreError(
                        f"{urls.redacted(url)} has an unknown baton_schema version: {version}"
                    )
            elif "alembic_version" not in tables and tables:
                raise StoreError(
                    f"{urls.redacted(url)} is not a baton database (it has tables, but no "
                    "alembic_version): give baton an empty database or schema of its own"
                )
            engine = create_engine(d.sqlalchemy_url())
            try:
                with engine.begin() as conn:
                    cfg = config()
                    cfg.attributes["connection"] = conn
                    if stamp is not None:
                        command.stamp(cfg, stamp)
                    command.upgrade(cfg, revision)
                    now: str | None = MigrationContext.configure(conn).get_current_revision()
            finally:
                engine.dispose()
    finally:
        raw.close()
    return now
