"""Sharing results: `report` (one self-contained HTML or Markdown file) and `compare` (two tasks side by side, with a
warning when their provenance differs)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import AutotunerError
from .common import DbOpt, TaskArg, _fail, _store, app, err


@app.command()
def report(
	task: TaskArg,
	db: DbOpt = None,
	format: Annotated[str, typer.Option("--format", "-f", help="html (plots inline) or md")] = "html",
	output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout")] = None,
	gpu_hour_usd: Annotated[
		float | None,
		typer.Option("--gpu-hour-usd", min=0, help="Price of one GPU-hour for the cost figures (default: spec's cost)"),
	] = None,
) -> None:
	"""A report to share: the question, the recommendation vs the baseline with intervals, plots (objective over
	experiments, Pareto front, figures per configuration, parameter importance), failures by reason, cost, provenance
	and the commands / manifests that serve the recommended configuration. One file; opens without a network."""
	from ..reporting import build_report

	try:
		text = build_report(_store(db), task, format, gpu_hour_usd=gpu_hour_usd)
		if output:
			output.write_text(text)
			err.print(f"wrote {output}")
		else:
			sys.stdout.write(text)
	except AutotunerError as exc:
		_fail(exc)
