"""Alembic environment: runs on the connection the Store hands over (or the configured URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from inference_autotuner.store.models import Base

config = context.config
version_table = config.attributes.get("version_table", "autotuner_alembic_version")


def _run(connection) -> None:  # type: ignore[no-untyped-def]
	context.configure(
		connection=connection,
		target_metadata=Base.metadata,
		version_table=version_table,
		render_as_batch=connection.dialect.name == "sqlite",
	)
	with context.begin_transaction():
		context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
	_run(connection)
else:
	with create_engine(config.get_main_option("sqlalchemy.url") or "").begin() as conn:
		_run(conn)
