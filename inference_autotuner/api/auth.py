"""Who is asking: the user behind a request's token, its role, and what it may do.

- Tokens: `Authorization: Bearer <token>` (CLI, scripts), or the `autotuner_token` cookie the web app's sign-in sets
  (HttpOnly, SameSite=Strict; it also carries the WebSocket and log-stream requests, which cannot set headers).
- Single-user mode: while no user was ever added and the server is not required to authenticate (serve on
  loopback), every request acts as the admin `local`, as before users existed.
- Roles: viewer reads; operator also creates tasks and presets and changes its own; admin changes anything, runs
  the Docker routes and manages users.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from .. import users
from .errors import Forbidden, Unauthorized
from .schemas import ErrorBody

COOKIE = "autotuner_token"
_bearer = HTTPBearer(auto_error=False, description="An API token from `autotuner users add NAME --role ROLE`")


@dataclass(frozen=True)
class Principal:
	"""The one a request acts for."""

	name: str
	role: str
	user_id: int | None  # None: single-user mode (the implicit admin `local`)
	auth_enabled: bool

	def has(self, role: str) -> bool:
		return users.ROLE_RANK[self.role] >= users.ROLE_RANK[role]

	def owns(self, owner_id: int | None) -> bool:
		"""May change a thing with this owner: admins anything, operators what they created."""
		return self.role == "admin" or (self.has("operator") and owner_id is not None and owner_id == self.user_id)


LOCAL = Principal(users.LOCAL_USER, "admin", None, False)


def auth_enabled(conn: HTTPConnection) -> bool:
	"""Tokens are required once any user exists (checked per request: `users add` takes effect at once), or always
	when the server listens beyond loopback. Once on, it stays on for this process."""
	state = conn.app.state
	if getattr(state, "auth_on", False):
		return True
	if state.settings.require_auth or users.users_defined(state.store):
		state.auth_on = True
		return True
	return False


def token_of(conn: HTTPConnection) -> str | None:
	header = conn.headers.get("authorization")
	if header:
		scheme, _, value = header.partition(" ")
		return value.strip() if scheme.lower() == "bearer" and value.strip() else ""
	return conn.cookies.get(COOKIE) or None


def principal_of(conn: HTTPConnection) -> Principal:
	"""The principal for a request or WebSocket; Unauthorized when auth is on and the token is missing or bad."""
	return principal_for(conn, token_of(conn))


def principal_for(conn: HTTPConnection, token: str | None) -> Principal:
	if not auth_enabled(conn):
		return LOCAL
	if token is None:
		raise Unauthorized(
			"sign in: this server needs an API token",
			hint="send `Authorization: Bearer <token>` (get one with `autotuner users add NAME --role ROLE`)",
		)
	user = users.authenticate(conn.app.state.store, token) if token else None
	if user is None:
		raise Unauthorized("the API token is unknown or revoked", hint="ask an admin for a token (autotuner users add)")
	return Principal(user.name, user.role, user.id, True)


async def current_principal(
	request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None
) -> Principal:
	return await asyncio.to_thread(principal_of, request)


def _require(role: str) -> Any:
	async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
		if not principal.has(role):
			raise Forbidden(
				f"{principal.name} is a {principal.role}: this needs the {role} role",
				hint="ask an admin for a token with that role",
			)
		return principal

	dependency.__name__ = f"require_{role}"
	return dependency


require_viewer = _require("viewer")
require_operator = _require("operator")
require_admin = _require("admin")

Viewer = Annotated[Principal, Depends(require_viewer)]
Operator = Annotated[Principal, Depends(require_operator)]
Admin = Annotated[Principal, Depends(require_admin)]
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
	401: {"model": ErrorBody, "description": "No API token, or an unknown or revoked one"},
	403: {"model": ErrorBody, "description": "The role or ownership does not allow it, or a foreign Origin"},
}
READ = Depends(require_viewer)  # router-level: every route of the router needs at least a viewer
ADMIN = Depends(require_admin)


def check_owner(principal: Principal, owner_id: int | None, what: str, owner: str | None = None) -> None:
	"""Forbidden unless the principal may change this thing (admin, or the operator who owns it)."""
	if principal.owns(owner_id):
		return
	whose = f"belongs to {owner}" if owner else ("has no owner" if owner_id is None else "belongs to another user")
	raise Forbidden(
		f"{what} {whose}: {principal.name} ({principal.role}) may not change it",
		hint="operators change their own tasks and presets; an admin can change any",
	)
