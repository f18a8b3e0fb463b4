"""`autotuner users add|list|revoke`: the server's users and their API tokens (on the database, like `serve`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..errors import AutotunerError
from .common import DbOpt, _fail, _store, app, console

users_app = typer.Typer(
	help="Users of `autotuner serve` and their API tokens (viewer reads; operator runs its own tasks; admin all).",
	no_args_is_help=True,
)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
	name: Annotated[str, typer.Argument(help="User name: letters, digits, '.', '_', '@', '-'")],
	role: Annotated[str, typer.Option("--role", help="viewer | operator | admin")] = "viewer",
	db: DbOpt = None,
) -> None:
	"""Add a user and print its API token (shown this once; only its hash is stored). The first user turns on
	authentication for every server on this database."""
	from .. import users

	try:
		user, token = users.add_user(_store(db), name, role)
	except AutotunerError as exc:
		_fail(exc)
	console.print(f"added {user.role} [bold]{user.name}[/]; API token (shown once, keep it secret):", highlight=False)
	print(token)  # alone on its line, for scripts: autotuner users add ci --role operator | tail -1


@users_app.command("list")
def users_list(db: DbOpt = None) -> None:
	"""Every user: name, role, the token's first characters, when added and revoked."""
	from .. import users

	try:
		rows = users.list_users(_store(db))
	except AutotunerError as exc:
		_fail(exc)
	if not rows:
		console.print("no users: `autotuner serve` runs in single-user mode (loopback only, no tokens)")
		return
	table = Table(header_style="bold")
	for col in ("name", "role", "token", "added", "revoked"):
		table.add_column(col)
	for u in rows:
		revoked = u.revoked_at.strftime("%Y-%m-%d %H:%M") if u.revoked_at else ""
		table.add_row(u.name, u.role, f"{u.token_hint}…", u.created_at.strftime("%Y-%m-%d %H:%M"), revoked)
	console.print(table)


@users_app.command("revoke")
def users_revoke(
	name: Annotated[str, typer.Argument(help="User name")],
	db: DbOpt = None,
) -> None:
	"""Revoke a user's token at once. The user stays listed and keeps its tasks and presets (admins can change them)."""
	from .. import users

	try:
		user = users.revoke_user(_store(db), name)
	except AutotunerError as exc:
		_fail(exc)
	console.print(f"revoked {user.name}: its token no longer works", highlight=False)
