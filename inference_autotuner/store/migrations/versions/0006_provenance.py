"""Provenance with every experiment (issue 22): what produced its figures (engine and version, tools, host, GPUs or
CPU, the exact argv and env, the workload hash, the tuner's version and git revision), as one JSON column.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
	with op.batch_alter_table("experiments") as batch:
		batch.add_column(sa.Column("provenance", sa.JSON(), nullable=True))


def downgrade() -> None:
	with op.batch_alter_table("experiments") as batch:
		batch.drop_column("provenance")
