"""/api/system: health and info (versions, database, queue mode)."""

from __future__ import annotations

import platform
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ... import __version__
from ...engines import ENGINES
from ...paths import data_dir
from ...store import Store
from ...store.db import VERSION_TABLE
from ..auth import AUTH_ERRORS, READ
from ..deps import QueueDep, SettingsDep, StoreDep
from ..errors import database_cause

router = APIRouter(prefix="/api/system", tags=["system"])


def _version(pkg: str) -> str | None:
	try:
		return metadata.version(pkg)
	except metadata.PackageNotFoundError:
		return None


def safe_db_url(url: str) -> str:
	try:
		return make_url(url).render_as_string(hide_password=True)
	except Exception:
		return "<unparseable>"


@router.get("/health", operation_id="health")
def health(store: StoreDep, queue: QueueDep) -> JSONResponse:
	"""200 when the database answers a read and takes a write (503 otherwise, naming the cause: read-only, full,
	unreachable), with the worker summary."""
	db_error = database_problem(store)
	try:
		workers = queue.workers()
	except Exception as exc:
		workers = [{"state": "unknown", "error": str(exc)[:300]}]
	body: dict[str, Any] = {
		"status": "ok" if db_error is None else "degraded",
		"database": "ok" if db_error is None else db_error,
		"queue": queue.mode,
		"workers": len(workers),
	}
	return JSONResponse(body, status_code=200 if db_error is None else 503)


SQLITE_MIN_FREE = 16 * 2**20  # bytes free on a SQLite database's disk below which health says it is full


def database_problem(store: Store) -> str | None:
	"""Why the database cannot serve the API now, or None. A read, then a write probe that is committed (an UPDATE of
	the migration version to itself: a read-only database refuses it); for SQLite also its page quota and the free
	space on its disk (a full disk shows only when a write needs a new page)."""
	try:
		with store.engine.connect() as conn:
			conn.execute(text("SELECT 1"))
		with store.engine.begin() as conn:
			conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = version_num"))
			if store.engine.dialect.name == "sqlite":
				pages = conn.execute(text("PRAGMA page_count")).scalar() or 0
				most = conn.execute(text("PRAGMA max_page_count")).scalar() or 0
				free = conn.execute(text("PRAGMA freelist_count")).scalar() or 0
				if most and pages >= most and not free:
					return f"the database is full: {pages} pages of at most {most} (PRAGMA max_page_count)"
	except Exception as exc:
		return database_cause(exc)[0]
	database = store.engine.url.database if store.engine.dialect.name == "sqlite" else None
	if database and database != ":memory:" and not database.startswith("file:"):
		try:
			left = shutil.disk_usage(Path(database).expanduser().resolve().parent).free
		except OSError:
			left = None
		if left is not None and left < SQLITE_MIN_FREE:
			return f"the database's disk is full: {left // 2**20} MiB free (under {SQLITE_MIN_FREE // 2**20} MiB)"
	return None


@router.get("/info", operation_id="info", dependencies=[READ], responses=AUTH_ERRORS)
def info(store: StoreDep, settings: SettingsDep) -> dict[str, Any]:
	return {
		"version": __version__,
		"python": sys.version.split()[0],
		"platform": platform.platform(),
		"database": {"url": safe_db_url(store.url), "dialect": store.engine.dialect.name},
		"queue": {
			"mode": settings.queue_mode,
			"redis": safe_db_url(settings.redis_url) if settings.redis_url else None,
		},
		"data_dir": str(data_dir()),
		"engines": {name: str(cls().version) for name, cls in ENGINES.items()},
		"packages": {p: _version(p) for p in ("fastapi", "sqlalchemy", "optuna", "pydantic", "arq", "xllamacpp")},
	}
