"""Parameter presets (engine flags, quantization and parallel configs).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
	op.create_table(
		"presets",
		sa.Column("id", sa.Integer(), primary_key=True),
		sa.Column("name", sa.String(200), nullable=False),
		sa.Column("description", sa.Text(), nullable=True),
		sa.Column("category", sa.String(40), nullable=False, server_default="parameters"),
		sa.Column("runtime", sa.String(40), nullable=True),
		sa.Column("parameters", sa.JSON(), nullable=False),
		sa.Column("is_system", sa.Boolean(), nullable=False, server_default=sa.false()),
		sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
		sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
	)
	op.create_index("ix_presets_name", "presets", ["name"], unique=True)
	op.create_index("ix_presets_category", "presets", ["category"])


def downgrade() -> None:
	op.drop_table("presets")
