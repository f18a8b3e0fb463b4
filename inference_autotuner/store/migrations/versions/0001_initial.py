"""Tasks and experiments.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
	op.create_table(
		"tasks",
		sa.Column("id", sa.Integer(), primary_key=True),
		sa.Column("name", sa.String(200), nullable=False),
		sa.Column("description", sa.Text(), nullable=True),
		sa.Column("spec", sa.JSON(), nullable=False),
		sa.Column("engine", sa.String(40), nullable=False),
		sa.Column("deployment_mode", sa.String(40), nullable=False),
		sa.Column("status", sa.String(20), nullable=False),
		sa.Column("study_name", sa.String(240), nullable=False),
		sa.Column("best_experiment_id", sa.Integer(), nullable=True),
		sa.Column("error", sa.Text(), nullable=True),
		sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
		sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
		sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
		sa.Column("elapsed", sa.Float(), nullable=False, server_default="0"),
	)
	op.create_index("ix_tasks_name", "tasks", ["name"], unique=True)
	op.create_index("ix_tasks_status", "tasks", ["status"])
	op.create_table(
		"experiments",
		sa.Column("id", sa.Integer(), primary_key=True),
		sa.Column("task_id", sa.Integer(), sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
		sa.Column("number", sa.Integer(), nullable=False),
		sa.Column("trial_number", sa.Integer(), nullable=True),
		sa.Column("params", sa.JSON(), nullable=False),
		sa.Column("params_key", sa.Text(), nullable=False),
		sa.Column("status", sa.String(20), nullable=False),
		sa.Column("objective_value", sa.Float(), nullable=True),
		sa.Column("score", sa.Float(), nullable=True),
		sa.Column("figures", sa.JSON(), nullable=True),
		sa.Column("runs", sa.JSON(), nullable=True),
		sa.Column("scoring", sa.JSON(), nullable=True),
		sa.Column("failure_reason", sa.Text(), nullable=True),
		sa.Column("gpu_info", sa.JSON(), nullable=True),
		sa.Column("launch_argv", sa.JSON(), nullable=True),
		sa.Column("launch_command", sa.Text(), nullable=True),
		sa.Column("log_path", sa.Text(), nullable=True),
		sa.Column("predicted", sa.Boolean(), nullable=False, server_default=sa.false()),
		sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
		sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
		sa.Column("duration", sa.Float(), nullable=True),
		sa.Column("startup_seconds", sa.Float(), nullable=True),
		sa.Column("bench_seconds", sa.Float(), nullable=True),
		sa.UniqueConstraint("task_id", "number", name="uq_experiment_task_number"),
	)
	op.create_index("ix_experiments_task_id", "experiments", ["task_id"])
	op.create_index("ix_experiments_status", "experiments", ["status"])
	op.create_index("ix_experiments_params_key", "experiments", ["params_key"])


def downgrade() -> None:
	op.drop_table("experiments")
	op.drop_table("tasks")
