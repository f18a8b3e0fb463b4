"""/api/system: health and info (versions, database, queue mode)."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ... import __version__
from ...engines import ENGINES
from ...paths import data_dir
from ..auth import AUTH_ERRORS, READ
from ..deps import QueueDep, SettingsDep, StoreDep

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
	"""200 when the database answers (503 otherwise), with the worker summary."""
	db_ok, db_error = True, None
	try:
		with store.engine.connect() as conn:
			conn.execute(text("SELECT 1"))
	except Exception as exc:
		db_ok, db_error = False, f"{type(exc).__name__}: {exc}"[:300]
	try:
		workers = queue.workers()
	except Exception as exc:
		workers = [{"state": "unknown", "error": str(exc)[:300]}]
	body: dict[str, Any] = {
		"status": "ok" if db_ok else "degraded",
		"database": "ok" if db_ok else db_error,
		"queue": queue.mode,
		"workers": len(workers),
	}
	return JSONResponse(body, status_code=200 if db_ok else 503)


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
