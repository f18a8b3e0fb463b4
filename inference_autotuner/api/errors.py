"""Errors as HTTP answers: every 4xx names the field or cause and what to do; nothing a client sends gives a 500."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError

from ..errors import (  # re-exported: the API's modules import them from here
	AutotunerError,
	Conflict,
	Forbidden,
	NotFound,
	SpecError,
	SpecProblem,
	Unauthorized,
	Unavailable,
	UnsupportedMediaType,
)

__all__ = [
	"Conflict",
	"Forbidden",
	"NotFound",
	"Unauthorized",
	"Unavailable",
	"UnsupportedMediaType",
	"database_cause",
	"install",
	"problem_dicts",
	"spec_error_response",
]

log = logging.getLogger(__name__)


def _loc_from_path(path: str) -> list[str | int]:
	loc: list[str | int] = ["body"]
	for part in path.split("."):
		if not part:
			continue
		m = re.fullmatch(r"(.*?)((?:\[\d+\])+)", part)
		if m:
			loc.append(m.group(1))
			loc.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
		else:
			loc.append(part)
	return loc


def problem_dicts(problems: list[SpecProblem]) -> list[dict[str, Any]]:
	return [
		{"loc": _loc_from_path(p.path), "path": p.path, "msg": p.message, "type": "value_error", "hint": p.hint}
		for p in problems
	]


def spec_error_response(exc: SpecError) -> JSONResponse:
	return JSONResponse(status_code=422, content={"detail": problem_dicts(exc.problems), "hint": exc.hint})


def _path_of(loc: tuple[Any, ...]) -> str:
	out = ""
	for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
		out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
	return out


def database_cause(exc: BaseException) -> tuple[str, str]:
	"""A database failure as (cause, what to do): read-only, full, locked, unreachable, or its own words."""
	text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200] if str(exc).strip() else repr(exc)
	low = text.lower()
	if "readonly" in low or "read-only" in low or "read only" in low:
		return f"the database is read-only ({text})", "make the database file and its folder writable, then retry"
	if "full" in low or "no space" in low:
		return f"the database or its disk is full ({text})", "free disk space (or raise the database's quota)"
	if "locked" in low or "busy" in low:
		return f"the database is busy ({text})", "retry in a moment"
	return f"the database is unavailable ({text})", "check the database (AUTOTUNER_DB) and its server, then retry"


def install(app: FastAPI) -> None:
	@app.exception_handler(SpecError)
	async def _spec(_: Request, exc: SpecError) -> JSONResponse:
		return spec_error_response(exc)

	@app.exception_handler(RequestValidationError)
	async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
		detail = []
		for e in exc.errors():
			loc = tuple(e.get("loc", ()))
			detail.append(
				{
					"loc": [p if isinstance(p, int | str) else str(p) for p in loc],
					"path": _path_of(loc),
					"msg": str(e.get("msg", "invalid")),
					"type": str(e.get("type", "value_error")),
				}
			)
		return JSONResponse(status_code=422, content={"detail": detail})

	@app.exception_handler(AutotunerError)
	async def _domain(_: Request, exc: AutotunerError) -> JSONResponse:
		code = exc.http_status  # each error carries its answer (errors.py, users.py)
		headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
		return JSONResponse(status_code=code, content={"detail": exc.message, "hint": exc.hint}, headers=headers)

	@app.exception_handler(DBAPIError)
	async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
		if isinstance(exc, IntegrityError):  # two writers raced for one name: the loser is told, nothing is kept
			return JSONResponse(
				status_code=409,
				content={"detail": "conflicts with a row written meanwhile (a name already taken?)", "hint": "retry"},
			)
		cause, hint = database_cause(exc)
		log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
		return JSONResponse(status_code=503, content={"detail": cause, "hint": hint})

	@app.exception_handler(HTTPException)
	async def _http(_: Request, exc: HTTPException) -> JSONResponse:
		return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail}, headers=exc.headers)

	@app.exception_handler(Exception)
	async def _internal(request: Request, exc: Exception) -> JSONResponse:
		log.exception("internal error on %s %s", request.method, request.url.path)
		return JSONResponse(
			status_code=500,
			content={"detail": f"internal error: {type(exc).__name__}", "hint": "see the server log; please report it"},
		)
