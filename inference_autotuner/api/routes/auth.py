"""/api/auth (who am I, sign in/out of the web app) and /api/users (admins: list, add, revoke)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ... import users
from ..auth import COOKIE, Admin, Principal, current_principal, principal_for
from ..deps import StoreDep
from ..schemas import ErrorBody, UtcDatetime

router = APIRouter(tags=["auth"])
ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody}, 403: {"model": ErrorBody}}
COOKIE_MAX_AGE = 30 * 24 * 3600


class Me(BaseModel):
	"""The user a request acts for and what the web app should offer it."""

	name: str = Field(description="User name ('local' in single-user mode)")
	role: str = Field(description="viewer | operator | admin")
	user_id: int | None = Field(description="null in single-user mode (no users defined, loopback only)")
	auth_enabled: bool = Field(description="Whether this server needs a token (false: single-user mode)")
	can_write: bool = Field(description="May create tasks and presets (operator or admin)")
	is_admin: bool = Field(description="May change anything, use the Docker routes and manage users")


class SignIn(BaseModel):
	model_config = ConfigDict(extra="forbid")
	token: str = Field(min_length=1, max_length=200, description="An API token from `autotuner users add`")


class UserPublic(BaseModel):
	model_config = ConfigDict(from_attributes=True)
	id: int
	name: str
	role: str
	token_hint: str = Field(description="The token's first characters (the token itself is never stored)")
	created_at: UtcDatetime
	revoked_at: UtcDatetime | None


class UserCreate(BaseModel):
	model_config = ConfigDict(extra="forbid")
	name: str = Field(min_length=1, max_length=64, description="Letters, digits, '.', '_', '@', '-'")
	role: str = Field(description="viewer | operator | admin")


class NewUser(BaseModel):
	user: UserPublic
	token: str = Field(description="The API token: shown this once, only its hash is stored")


def me_of(p: Principal) -> Me:
	return Me(
		name=p.name,
		role=p.role,
		user_id=p.user_id,
		auth_enabled=p.auth_enabled,
		can_write=p.has("operator"),
		is_admin=p.has("admin"),
	)


@router.get("/api/auth/me", operation_id="get_me", response_model=Me, responses=ERRORS)
def get_me(principal: Annotated[Principal, Depends(current_principal)]) -> Me:
	"""Who the request acts for: the token's user, or the admin `local` in single-user mode (401 without a token
	when the server needs one: the web app then shows its sign-in page)."""
	return me_of(principal)


@router.post("/api/auth/session", operation_id="sign_in", response_model=Me, responses=ERRORS)
async def sign_in(body: SignIn, request: Request, response: Response) -> Me:
	"""Check a token and keep it in an HttpOnly, SameSite=Strict cookie for the web app (and its WebSocket)."""
	principal = await asyncio.to_thread(principal_for, request, body.token)
	if principal.auth_enabled:
		response.set_cookie(
			COOKIE,
			body.token,
			max_age=COOKIE_MAX_AGE,
			httponly=True,
			samesite="strict",
			secure=request.url.scheme == "https",
			path="/",
		)
	return me_of(principal)


@router.delete("/api/auth/session", operation_id="sign_out", status_code=204)
def sign_out() -> Response:
	"""Forget the web app's token cookie."""
	response = Response(status_code=204)
	response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
	return response


UserName = Annotated[str, Path(min_length=1, max_length=64, description="User name")]


@router.get("/api/users/", operation_id="list_users", response_model=list[UserPublic], responses=ERRORS)
def list_users(_: Admin, store: StoreDep) -> list[Any]:
	"""Every user, revoked ones too (admins)."""
	return users.list_users(store)


@router.post(
	"/api/users/",
	operation_id="create_user",
	status_code=201,
	response_model=NewUser,
	responses={**ERRORS, 409: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
def create_user(body: UserCreate, _: Admin, store: StoreDep) -> NewUser:
	"""Add a user (admins). The token is in this answer only. The first user turns on authentication."""
	user, token = users.add_user(store, body.name, body.role)
	return NewUser(user=UserPublic.model_validate(user), token=token)


@router.post(
	"/api/users/{name}/revoke",
	operation_id="revoke_user",
	response_model=UserPublic,
	responses={**ERRORS, 404: {"model": ErrorBody}},
)
def revoke_user(name: UserName, _: Admin, store: StoreDep) -> Any:
	"""Revoke a user's token at once (admins); its tasks and presets keep their owner."""
	return users.revoke_user(store, name)
