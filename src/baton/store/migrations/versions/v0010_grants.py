"""Namespaces and grants: `flows.namespace`, `grants` (a user's or group's role on a
namespace or one flow) and `group_members`.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _str(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Flows made before are in the default namespace, unless their name already says one.
    op.add_column(
        "flows",
        sa.Column("namespace", _str(100), nullable=False, server_default="default"),
    )
    op.execute(
        "UPDATE flows SET namespace = substr(name, 1, instr(name, '/') - 1) "
        "WHERE instr(name, '/') > 0"
        if op.get_bind().dialect.name == "sqlite"
        else "UPDATE flows SET namespace = split_part(name, '/', 1) WHERE strpos(name, '/') > 0"
    )
    op.create_index("ix_flows_namespace", "flows", ["namespace", "name"])
    op.create_table(
        "grants",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("subject_kind", _str(10), nullable=False),
        sa.Column("subject", _str(200), nullable=False),
        sa.Column("role", _str(20), nullable=False),
        sa.Column("scope_kind", _str(10), nullable=False),
        sa.Column("scope", _str(200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", _str(200), nullable=False),
        sa.UniqueConstraint("subject_kind", "subject", "role", "scope_kind", "scope"),
    )
    op.create_index("ix_grants_subject", "grants", ["subject_kind", "subject"])
    op.create_table(
        "group_members",
        sa.Column("group_name", _str(200), nullable=False),
        sa.Column("user_name", _str(200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("group_name", "user_name"),
    )
    op.create_index("ix_group_members_user", "group_members", ["user_name"])


def downgrade() -> None:
    op.drop_index("ix_group_members_user", "group_members")
    op.drop_table("group_members")
    op.drop_index("ix_grants_subject", "grants")
    op.drop_table("grants")
    op.drop_index("ix_flows_namespace", "flows")
    with op.batch_alter_table("flows") as batch:
        batch.drop_column("namespace")
