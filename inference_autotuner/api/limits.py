"""Request bodies within the caps of inference_autotuner/limits.py, judged before any route or model sees them:

- a Content-Length over MAX_BODY_BYTES is answered 413 before a byte of the body is read; a body without one (chunked)
  is counted as it arrives and refused (413) at the first byte past the cap;
- a JSON body is parsed once here with the same loader as spec files: NaN, Infinity, 1e400, integers beyond 64 bits,
  nesting deeper than MAX_DEPTH and documents of more than MAX_NODES values are a 422 naming the place. (YAML bodies
  are read by the routes that take them, with the loader that refuses alias bombs.)
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..limits import MAX_BODY_BYTES, DocumentError, load_json


class _TooLarge(Exception):
	pass


def _too_large() -> JSONResponse:
	return JSONResponse(
		{
			"detail": f"the request body is larger than {MAX_BODY_BYTES} bytes",
			"hint": "send a smaller document (a task spec is a few kilobytes)",
		},
		status_code=413,
	)


class BodyLimits:
	"""Pure ASGI middleware: body size from Content-Length (413) and the document caps of JSON bodies (422)."""

	def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
		self.app = app
		self.max_bytes = max_bytes

	async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
		if scope["type"] != "http":
			await self.app(scope, receive, send)
			return
		headers = Headers(scope=scope)
		length = headers.get("content-length")
		if length is not None:
			if not length.strip().isdigit():
				await JSONResponse({"detail": "the Content-Length header is not a number"}, 400)(scope, receive, send)
				return
			if int(length) > self.max_bytes:
				await _too_large()(scope, receive, send)
				return
		elif not headers.get("transfer-encoding"):  # no body at all: nothing to judge
			await self.app(scope, receive, send)
			return
		try:
			body = await self._read(receive)
		except _TooLarge:
			await _too_large()(scope, receive, send)
			return
		ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
		if body.strip() and ctype == "application/json":
			problem = _json_problem(body)
			if problem is not None:
				await JSONResponse({"detail": [problem]}, status_code=422)(scope, receive, send)
				return
		await self.app(scope, _replay(body, receive), send)

	async def _read(self, receive: Receive) -> bytes:
		chunks: list[bytes] = []
		size = 0
		while True:
			message = await receive()
			if message["type"] == "http.disconnect":
				break
			chunk = message.get("body", b"")
			size += len(chunk)
			if size > self.max_bytes:
				raise _TooLarge
			chunks.append(chunk)
			if not message.get("more_body", False):
				break
		return b"".join(chunks)


def _json_problem(body: bytes) -> dict[str, Any] | None:
	"""The 422 item for a JSON body beyond a cap; None when it is within them (or malformed: the route says so)."""
	try:
		load_json(body)
	except DocumentError as exc:
		from .errors import _loc_from_path

		return {"loc": _loc_from_path(exc.path), "path": exc.path, "msg": exc.message, "type": "value_error"}
	except (json.JSONDecodeError, UnicodeDecodeError):
		return None
	return None


def _replay(body: bytes, receive: Receive) -> Receive:
	"""A receive that hands the route the body already read, then waits on the real one (for a disconnect)."""
	sent = False

	async def replay() -> Message:
		nonlocal sent
		if not sent:
			sent = True
			return {"type": "http.request", "body": body, "more_body": False}
		return await receive()

	return replay


def install(app: Any) -> None:
	"""Inside the guard (added before it): Host, Origin and Content-Type are judged first."""
	app.add_middleware(BodyLimits)
