"""Resources: what each task run needs (`need_cpu`, `need_memory`, `need_gpu`, compared by
the claim) and each worker's capacity (`cpu`, `memory`, `gpu`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Task runs made before need nothing in particular, as their specs say.
    op.add_column(
        "task_runs", sa.Column("need_cpu", sa.Float(), nullable=False, server_default="0")
    )
    op.add_column(
        "task_runs", sa.Column("need_memory", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.add_column(
        "task_runs", sa.Column("need_gpu", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("workers", sa.Column("cpu", sa.Float()))
    op.add_column("workers", sa.Column("memory", sa.BigInteger()))
    op.add_column("workers", sa.Column("gpu", sa.Integer()))


def downgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("gpu")
        batch.drop_column("memory")
        batch.drop_column("cpu")
    with op.batch_alter_table("task_runs") as batch:
        batch.drop_column("need_gpu")
        batch.drop_column("need_memory")
        batch.drop_column("need_cpu")
