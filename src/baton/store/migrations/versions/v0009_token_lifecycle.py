"""Token lifecycle: a token may expire (`expires_at`), be limited to one namespace
(`namespace`), and carry no global role (`role` null: only its user's grants count).
Audit entries are read by time (`ix_audit_log_at` exists) and by actor.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.types import TypeEngine

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _str(length: int) -> TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("tokens")}
    with op.batch_alter_table("tokens") as batch:
        if "expires_at" not in columns:
            batch.add_column(sa.Column("expires_at", sa.Float()))
        if "namespace" not in columns:
            batch.add_column(sa.Column("namespace", _str(200)))
        if "last_used_at" not in columns:
            batch.add_column(sa.Column("last_used_at", sa.Float()))
        batch.alter_column("role", existing_type=_str(20), nullable=True)
    op.create_index("ix_audit_log_actor", "audit_log", ["actor", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_actor", "audit_log")
    # A token without a role cannot be represented before this revision: it goes.
    op.execute("DELETE FROM tokens WHERE role IS NULL")
    with op.batch_alter_table("tokens") as batch:
        batch.alter_column("role", existing_type=_str(20), nullable=False)
        batch.drop_column("namespace")
        batch.drop_column("expires_at")
