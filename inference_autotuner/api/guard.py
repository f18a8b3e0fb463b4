"""Who may talk to the server at all, checked before any route runs (HTTP and WebSocket):

- Host allow-list: a Host header naming anything but the server's own names is refused (400). This stops DNS
  rebinding, where a foreign page's name is re-pointed at 127.0.0.1 to read and drive a loopback server.
- Origin: a state-changing request (POST, PUT, PATCH, DELETE) or a WebSocket upgrade whose `Origin` is not the
  server's own (nor a configured CORS origin) is refused (403); so is `Sec-Fetch-Site: cross-site` without an Origin.
  A page on another site cannot start tasks through the user's browser, nor listen to a task's events.
- Bodies: writes accept `application/json` and `application/yaml` only (415 otherwise). `text/plain`, forms and
  multipart are the "simple" requests a browser sends cross-site without asking (no CORS preflight); none reaches a
  route. Same rule as Starlette's TrustedHostMiddleware for the Host, with the JSON error bodies the API uses.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from .settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# JSON and YAML (with YAML's other two names); none of these is CORS-safelisted, so a cross-site page cannot send them
# without a preflight, which fails: CORS is closed unless configured
BODY_TYPES = ("application/json", "application/yaml", "application/x-yaml", "text/yaml")
_NAME = re.compile(r"[a-z0-9_.-]+|\[[0-9a-f:.]+\]")
DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def split_host(value: str | None) -> tuple[str, str | None] | None:
	"""`host[:port]` of a Host header as (lower-case name, port or None); None when it is malformed."""
	if not value:
		return None
	value = value.strip().lower()
	if value.startswith("["):
		end = value.find("]")
		name, rest = value[: end + 1], value[end + 1 :]
		port = rest[1:] if rest.startswith(":") else (None if not rest else "!")
	else:
		name, _, port_s = value.partition(":")
		port = port_s if ":" in value else None
	if not _NAME.fullmatch(name) or (port is not None and not port.isdigit()):
		return None
	return name, port


def host_allowed(name: str, allowed: list[str]) -> bool:
	return any(name == p or (p.startswith("*.") and name.endswith(p[1:])) for p in allowed)


def same_origin(origin: str, host: str) -> bool:
	"""Whether a browser's Origin names the host:port this request came to (default ports made explicit)."""
	try:
		parts = urlsplit(origin)
	except ValueError:
		return False
	if parts.scheme not in ("http", "https") or not parts.netloc:
		return False
	theirs = split_host(parts.netloc)
	ours = split_host(host)
	if theirs is None or ours is None:
		return False
	default = DEFAULT_PORTS[parts.scheme]
	return theirs[0] == ours[0] and (theirs[1] or default) == (ours[1] or default)


def media_type(content_type: str) -> str:
	return content_type.split(";", 1)[0].strip().lower()


class Guard:
	"""Pure ASGI middleware: Host allow-list, Origin check on writes and WebSocket upgrades, JSON/YAML bodies only."""

	def __init__(self, app: ASGIApp, settings: Settings) -> None:
		self.app = app
		self.allowed = settings.allowed_hosts
		self.origins = set(settings.cors_origins)

	async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
		if scope["type"] not in ("http", "websocket"):
			await self.app(scope, receive, send)
			return
		problem = self.check(scope)
		if problem is None:
			await self.app(scope, receive, send)
		elif scope["type"] == "websocket":
			await WebSocketClose(code=1008, reason=problem[1][:120])(scope, receive, send)
		else:
			status, detail, hint = problem
			await JSONResponse({"detail": detail, "hint": hint}, status_code=status)(scope, receive, send)

	def check(self, scope: Scope) -> tuple[int, str, str] | None:
		headers = Headers(scope=scope)
		host = headers.get("host")
		parsed = split_host(host)
		if parsed is None or not host_allowed(parsed[0], self.allowed):
			shown = (host or "")[:100]
			return (
				400,
				f"host {shown!r} is not served here" if host else "the request has no Host header",
				"this server answers to: "
				+ ", ".join(self.allowed)
				+ "; add a name with `autotuner serve --allowed-host NAME` (or AUTOTUNER_ALLOWED_HOSTS)",
			)
		writes = scope["type"] == "websocket" or scope["method"] not in SAFE_METHODS
		if not writes:
			return None
		origin = headers.get("origin")
		if origin is not None:
			if origin.rstrip("/").lower() not in self.origins and not same_origin(origin, host or ""):
				return (
					403,
					f"cross-origin request refused: Origin {origin[:100]!r} is not this server",
					"use the web app this server serves, or list the origin with `autotuner serve --cors-origin`",
				)
		elif headers.get("sec-fetch-site") == "cross-site":
			return 403, "cross-site request refused", "use the web app this server serves"
		if scope["type"] == "websocket":
			return None
		ctype = headers.get("content-type")
		if ctype is None:
			if headers.get("transfer-encoding") or headers.get("content-length", "0").strip() not in ("", "0"):
				return 415, "the body has no Content-Type", "send it as application/json or application/yaml"
		elif media_type(ctype) not in BODY_TYPES:
			return (
				415,
				f"unsupported Content-Type {media_type(ctype)[:80]!r}",
				"send the body as application/json or application/yaml",
			)
		return None


def install(app: Any, settings: Settings) -> None:
	"""The guard outermost (it answers before anything else runs); CORS inside it, only for configured origins."""
	if settings.cors_origins:
		app.add_middleware(
			CORSMiddleware,
			allow_origins=settings.cors_origins,
			allow_methods=["GET", "POST", "PUT", "DELETE"],
			allow_headers=["Authorization", "Content-Type"],
			expose_headers=["X-Total-Count"],
		)
	app.add_middleware(Guard, settings=settings)
