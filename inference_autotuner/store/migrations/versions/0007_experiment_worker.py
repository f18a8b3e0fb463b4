"""One task across many hosts (issue 23): each experiment records the worker and the host that measured it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
	with op.batch_alter_table("experiments") as batch:
		batch.add_column(sa.Column("worker", sa.String(200), nullable=True))
		batch.add_column(sa.Column("host", sa.String(200), nullable=True))


def downgrade() -> None:
	with op.batch_alter_table("experiments") as batch:
		batch.drop_column("host")
		batch.drop_column("worker")
