"""alembic_version becomes the schema's version: drop baton_schema.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("baton_schema")


def downgrade() -> None:
    op.create_table("baton_schema", sa.Column("version", sa.Integer(), nullable=False))
    op.execute("INSERT INTO baton_schema (version) VALUES (1)")
