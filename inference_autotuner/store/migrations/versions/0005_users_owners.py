"""Users with hashed API tokens and roles; tasks and presets record their owner (issue 15).

SQLite cannot add a foreign key with ALTER TABLE ... ADD CONSTRAINT, and rebuilding `tasks` (batch mode) would
fire ON DELETE CASCADE on every experiment while foreign keys are on; so on SQLite the column is added with its
REFERENCES clause in one ALTER TABLE ADD COLUMN, which SQLite supports for a nullable column.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OWNED = ("tasks", "presets")


def upgrade() -> None:
	op.create_table(
		"users",
		sa.Column("id", sa.Integer(), primary_key=True),
		sa.Column("name", sa.String(64), nullable=False),
		sa.Column("role", sa.String(20), nullable=False),
		sa.Column("token_hash", sa.String(64), nullable=False),
		sa.Column("token_hint", sa.String(16), nullable=False),
		sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
		sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
	)
	op.create_index("ix_users_name", "users", ["name"], unique=True)
	op.create_index("ix_users_token_hash", "users", ["token_hash"], unique=True)
	sqlite = op.get_bind().dialect.name == "sqlite"
	for table in OWNED:
		if sqlite:
			op.execute(f"ALTER TABLE {table} ADD COLUMN owner_id INTEGER REFERENCES users (id) ON DELETE SET NULL")
		else:
			op.add_column(table, sa.Column("owner_id", sa.Integer(), nullable=True))
			op.create_foreign_key(
				f"fk_{table}_owner_id_users", table, "users", ["owner_id"], ["id"], ondelete="SET NULL"
			)
		op.create_index(f"ix_{table}_owner_id", table, ["owner_id"])


def downgrade() -> None:
	sqlite = op.get_bind().dialect.name == "sqlite"
	for table in OWNED:
		op.drop_index(f"ix_{table}_owner_id", table_name=table)
		if sqlite:
			op.execute(f"ALTER TABLE {table} DROP COLUMN owner_id")
		else:
			op.drop_constraint(f"fk_{table}_owner_id_users", table, type_="foreignkey")
			op.drop_column(table, "owner_id")
	op.drop_table("users")
