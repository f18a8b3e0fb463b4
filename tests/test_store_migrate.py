"""Store() runs Alembic's upgrade once per process and database; opening it again is one query, and a database
deleted and made again (same URL) is noticed and migrated."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from inference_autotuner.store import Store
from inference_autotuner.store import db as store_db
from inference_autotuner.store.models import Task


def test_opened_again_without_upgrading_and_recreated_is_migrated(
	tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
	url = f"sqlite:///{tmp_path / 'a.db'}"
	Store(url)
	upgrades: list[str] = []
	real = store_db.command.upgrade
	monkeypatch.setattr(store_db.command, "upgrade", lambda cfg, rev: upgrades.append(rev) or real(cfg, rev))
	Store(url)  # at head: no upgrade
	assert upgrades == []
	(tmp_path / "a.db").unlink()
	for extra in ("a.db-wal", "a.db-shm"):
		(tmp_path / extra).unlink(missing_ok=True)
	store = Store(url)  # a fresh file at the same URL: migrated again
	assert upgrades == ["head"]
	with store.session() as s:
		assert s.execute(select(Task)).all() == []
