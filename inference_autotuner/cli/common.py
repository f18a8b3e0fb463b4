"""The Typer app, shared options and error reporting of the `autotuner` command line."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from .. import __version__
from ..errors import AutotunerError

app = typer.Typer(
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
