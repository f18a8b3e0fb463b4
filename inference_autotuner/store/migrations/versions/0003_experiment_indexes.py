"""Indexes for the API's list and dashboard queries on big databases (benchmarks/api_latency.py).

- (task_id, status): experiments of a task filtered by status, and per-task counts by status (covering).
- started_at: the dashboard's experiment timeline (recent first).
- (status, duration): the dashboard's counts by status and mean duration without reading the table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
	op.create_index("ix_experiments_task_status", "experiments", ["task_id", "status"])
	op.create_index("ix_experiments_started_at", "experiments", ["started_at"])
	op.create_index("ix_experiments_status_duration", "experiments", ["status", "duration"])


def downgrade() -> None:
	op.drop_index("ix_experiments_status_duration", table_name="experiments")
	op.drop_index("ix_experiments_started_at", table_name="experiments")
	op.drop_index("ix_experiments_task_status", table_name="experiments")
