"""The Typer app, shared options and error reporting of the `autotuner` command line."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from .. import __version__
from ..errors import AutotunerError


class _Guarded(TyperGroup):
	"""Every command (and sub-command) runs inside one error wrapper: a user's error is one clear line and its exit
	status (errors.py), a bug is one line plus a log file (exit 70), never a raw traceback."""

	def invoke(self, ctx: Any) -> Any:  # Typer's vendored click Context
		try:
			return super().invoke(ctx)
		except (typer.Exit, typer.Abort, typer.TyperException):  # Typer's own exits and usage errors
			raise
		except AutotunerError as exc:
			_fail(exc)
		except Exception as exc:
			_internal(exc)


app = typer.Typer(
	cls=_Guarded,
	help="Find the best serving configuration of an LLM inference engine for a model, hardware and workload.",
	no_args_is_help=True,
	pretty_exceptions_enable=False,
	add_completion=False,
)
models_app = typer.Typer(help="Model cache: fetch models once, reuse them for every experiment.", no_args_is_help=True)
app.add_typer(models_app, name="models")
console = Console()
err = Console(stderr=True)

DbOpt = Annotated[
	str | None,
	typer.Option("--db", help="Database URL (default: SQLite in $XDG_DATA_HOME/inference-autotuner; env AUTOTUNER_DB)"),
]
TaskArg = Annotated[str, typer.Argument(help="Task name or id")]


def _fail(exc: AutotunerError) -> None:
	err.print(f"[bold red]error:[/] {exc.message}", markup=True, highlight=False)
	if exc.hint:
		err.print(f"[dim]hint: {exc.hint}[/]", highlight=False)
	raise typer.Exit(exc.exit_code)


def _internal(exc: BaseException) -> None:
	import logging
	import traceback

	from ..paths import logs_dir

	path = logs_dir() / "internal-errors.log"
	with path.open("a") as f:
		f.write("".join(traceback.format_exception(exc)))
	logging.getLogger(__name__).debug("internal error", exc_info=exc)
	err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc}", highlight=False)
	err.print(f"[dim]results so far are saved; details in {path}; resume with `autotuner resume TASK`[/]")
	raise typer.Exit(70)


def _store(db: str | None):  # type: ignore[no-untyped-def]
	from ..store import Store

	return Store(db)


def _version(value: bool) -> None:
	if value:
		console.print(f"inference-autotuner {__version__}")
		raise typer.Exit()


@app.callback()
def main(
	version: Annotated[
		bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version")
	] = False,
) -> None:
	"""inference-autotuner."""
