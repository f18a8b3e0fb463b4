"""Users and their API tokens: one services layer for `autotuner users` and the /api/users routes.

A token is shown once, when it is made; the database keeps only its SHA-256 (tokens are 256 random bits, so a fast
hash is enough: there is nothing to brute-force). A revoked user keeps its row, so the tasks and presets it owns
still name it and the server stays in multi-user mode.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from sqlalchemy import select

from .errors import AutotunerError
from .names import name_problem
from .store import Store
from .store.models import User, utcnow

ROLES = ("viewer", "operator", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
TOKEN_PREFIX = "atk_"
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
LOCAL_USER = "local"  # who acts in single-user mode (no users defined, loopback only)


class UserError(AutotunerError):
	"""A bad user name or role."""

	exit_code = 2
	http_status = 422


class UserExists(AutotunerError):
	http_status = 409


class UserNotFound(AutotunerError):
	exit_code = 2
	http_status = 404


def hash_token(token: str) -> str:
	return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
	return TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_user_name(name: str) -> str:
	problem = name_problem(name, "user name")
	if problem:
		raise UserError(problem)
	if not USER_NAME.fullmatch(name) or name == LOCAL_USER:
		raise UserError(
			f"user name {name!r} is not allowed",
			hint="1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit (not 'local')",
		)
	return name


def check_role(role: str) -> str:
	if role not in ROLE_RANK:
		raise UserError(f"unknown role {role!r}", hint=f"use one of: {', '.join(ROLES)}")
	return role


def add_user(store: Store, name: str, role: str) -> tuple[User, str]:
	"""A new user and its token (shown once; only its hash is stored)."""
	check_user_name(name)
	check_role(role)
	token = new_token()
	with store.session() as s:
		old = s.scalar(select(User).where(User.name == name))
		if old is not None:
			state = "revoked" if old.revoked_at else "active"
			raise UserExists(f"a user named '{name}' already exists ({state})", hint="pick another name")
		user = User(name=name, role=role, token_hash=hash_token(token), token_hint=token[: len(TOKEN_PREFIX) + 4])
		s.add(user)
		s.flush()
		s.expunge(user)
	return user, token


def list_users(store: Store) -> list[User]:
	with store.session() as s:
		users = list(s.scalars(select(User).order_by(User.id)))
		s.expunge_all()
	return users


def revoke_user(store: Store, name: str) -> User:
	"""The user's token stops working at once; the row stays (its tasks and presets keep their owner)."""
	with store.session() as s:
		user = s.scalar(select(User).where(User.name == name))
		if user is None:
			raise UserNotFound(f"no user named '{name}'", hint="`autotuner users list` shows the users")
		if user.revoked_at is None:
			user.revoked_at = utcnow()
		s.flush()
		s.expunge(user)
	return user


def authenticate(store: Store, token: str) -> User | None:
	"""The active user holding this token, or None."""
	if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
		return None
	with store.session() as s:
		user = s.scalar(select(User).where(User.token_hash == hash_token(token)))
		if user is None or user.revoked_at is not None:
			return None
		s.expunge(user)
	return user


def users_defined(store: Store) -> bool:
	"""Whether any user was ever added (revoked ones count: revoking the last user must not open the server)."""
	with store.session() as s:
		return s.scalar(select(User.id).limit(1)) is not None


def active_users(store: Store) -> int:
	with store.session() as s:
		return len(list(s.scalars(select(User.id).where(User.revoked_at.is_(None)))))


def owner_names(store: Store, ids: set[int]) -> dict[int, str]:
	"""User names by id, in one query (for the owner of a page of tasks or presets)."""
	if not ids:
		return {}
	with store.session() as s:
		return {int(i): str(n) for i, n in s.execute(select(User.id, User.name).where(User.id.in_(ids)))}


def is_revoked(user: User) -> bool:
	return user.revoked_at is not None


def describe(user: User) -> dict[str, str | int | datetime | None]:
	return {
		"id": user.id,
		"name": user.name,
		"role": user.role,
		"token_hint": user.token_hint,
		"created_at": user.created_at,
		"revoked_at": user.revoked_at,
	}
