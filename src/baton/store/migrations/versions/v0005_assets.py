"""Assets: the catalog, lineage links, materializations (were asset events), check results,
freshness state; the feeds' cursors; notifications about an asset (no run).

`asset_events` becomes `asset_materializations` with its rows: a new table copied into, not
an ALTER, so both databases take the same path (SQLite cannot make a column nullable in
place) and the ids, which trigger cursors remember, are kept.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.types import TypeEngine

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_OLD_COLUMNS = "id, asset, flow_name, run_id, task_key, task_run_id, at"


def _str(length: int) -> TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _id() -> TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("name", _str(300), primary_key=True),
        sa.Column("description", sa.Text()),
        sa.Column("owner", _str(200)),
        sa.Column("tags", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("freshness", sa.Text()),
        sa.Column("checks", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("notifications", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("declared_by", _str(200)),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_assets_owner", "assets", ["owner", "name"])
    op.create_table(
        "asset_tags",
        sa.Column("asset", _str(300), nullable=False),
        sa.Column("tag", _str(100), nullable=False),
        sa.PrimaryKeyConstraint("asset", "tag"),
    )
    op.create_index("ix_asset_tags_tag", "asset_tags", ["tag", "asset"])
    op.create_table(
        "asset_links",
        sa.Column("flow_name", _str(200), nullable=False),
        sa.Column("task_key", _str(200), nullable=False),
        sa.Column("asset", _str(300), nullable=False),
        sa.Column("kind", _str(6), nullable=False),
        sa.PrimaryKeyConstraint("flow_name", "task_key", "kind", "asset"),
    )
    op.create_index("ix_asset_links_asset", "asset_links", ["asset", "kind"])
    op.create_table(
        "asset_materializations",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("asset", _str(300), nullable=False),
        sa.Column("flow_name", _str(200)),
        sa.Column("run_id", _str(32)),
        sa.Column("task_key", _str(200)),
        sa.Column("task_run_id", _id()),
        sa.Column("attempt", sa.Integer()),
        sa.Column("attempt_id", _str(32)),
        sa.Column("partition", _str(200)),
        sa.Column("metadata", sa.Text()),
        sa.Column("data_version", _str(200)),
        sa.Column("source", _str(10), nullable=False, server_default="task"),
        sa.Column("reported_by", _str(200)),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.execute(
        f"INSERT INTO asset_materializations ({_OLD_COLUMNS}) "
        f"SELECT {_OLD_COLUMNS} FROM asset_events"
    )
    if op.get_bind().dialect.name == "postgresql":
        # Copied ids leave the identity's sequence behind: new rows continue after them.
        op.execute(
            "SELECT setval(pg_get_serial_sequence('asset_materializations', 'id'), "
            "COALESCE((SELECT MAX(id) FROM asset_materializations), 0) + 1, false)"
        )
    op.drop_index("ix_asset_events_asset", "asset_events")
    op.drop_table("asset_events")
    op.create_index("ix_asset_materializations_asset", "asset_materializations", ["asset", "id"])
    op.create_index("ix_asset_materializations_at", "asset_materializations", ["at"])
    # What was written before the catalog is catalogued, bare, as a new write would be.
    op.execute(
        "INSERT INTO assets (name, created_at, updated_at) "
        "SELECT asset, MIN(at), MAX(at) FROM asset_materializations GROUP BY asset"
    )
    op.create_table(
        "asset_check_results",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("asset", _str(300), nullable=False),
        sa.Column("check_name", _str(200), nullable=False),
        sa.Column("severity", _str(5), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("run_id", _str(32)),
        sa.Column("task_key", _str(200)),
        sa.Column("task_run_id", _id()),
        sa.Column("attempt", sa.Integer()),
        sa.Column("materialization_id", _id()),
        sa.Column("metadata", sa.Text()),
        sa.Column("failing_rows", sa.Text()),
        sa.Column("error", sa.Text()),
        sa.Column("duration", sa.Float()),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_index(
        "ix_asset_check_results_check", "asset_check_results", ["asset", "check_name", "id"]
    )
    op.create_index("ix_asset_check_results_asset", "asset_check_results", ["asset", "id"])
    op.create_table(
        "asset_state",
        sa.Column("asset", _str(300), primary_key=True),
        sa.Column("state", _str(10), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.Column("last_update", sa.Float()),
        sa.Column("due", sa.Float()),
        sa.Column("evaluated_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "feeds",
        sa.Column("name", _str(50), primary_key=True),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    with op.batch_alter_table("notifications") as batch:  # SQLite: a table rebuild
        batch.alter_column("run_id", existing_type=_str(32), nullable=True)
        batch.add_column(sa.Column("asset", _str(300)))


def downgrade() -> None:
    # Asset notifications have no run: they cannot stay in the older table.
    op.execute("DELETE FROM notifications WHERE run_id IS NULL")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("asset")
        batch.alter_column("run_id", existing_type=_str(32), nullable=False)
    op.drop_table("feeds")
    op.drop_table("asset_state")
    op.drop_table("asset_check_results")
    op.create_table(
        "asset_events",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("asset", _str(300), nullable=False),
        sa.Column("flow_name", _str(200), nullable=False),
        sa.Column("run_id", _str(32), nullable=False),
        sa.Column("task_key", _str(200), nullable=False),
        sa.Column("task_run_id", _id(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.execute(
        f"INSERT INTO asset_events ({_OLD_COLUMNS}) SELECT {_OLD_COLUMNS} "
        "FROM asset_materializations WHERE source = 'task' AND run_id IS NOT NULL"
    )
    op.create_index("ix_asset_events_asset", "asset_events", ["asset", "id"])
    op.drop_table("asset_materializations")
    op.drop_table("asset_links")
    op.drop_table("asset_tags")
    op.drop_table("assets")
