"""Search beyond one number (issue 8): where an experiment came from, its objective values, time saved, Pareto mark.

- origin: search | baseline | warm_start | repeat (what proposed it; only search and warm_start count against
  max_iterations).
- objective_values: one value per objective in natural units (multi-objective tasks; also set for single ones).
- saved_seconds: load-run time early stopping or pruning did not spend.
- pareto: on the task's Pareto front (multi-objective tasks), refreshed after every experiment.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
	with op.batch_alter_table("experiments") as batch:
		batch.add_column(sa.Column("origin", sa.String(20), nullable=False, server_default="search"))
		batch.add_column(sa.Column("objective_values", sa.JSON(), nullable=True))
		batch.add_column(sa.Column("saved_seconds", sa.Float(), nullable=True))
		batch.add_column(sa.Column("pareto", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
	with op.batch_alter_table("experiments") as batch:
		batch.drop_column("pareto")
		batch.drop_column("saved_seconds")
		batch.drop_column("objective_values")
		batch.drop_column("origin")
