"""What a task found, beyond single experiments: the Pareto front (`pareto`) and the recommendation's confidence
interval and gain over the baseline (printed by `best`, `show` and `tune`)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ..errors import AutotunerError, UsageError
from .common import DbOpt, TaskArg, _fail, _store, app, console
from .render import fmt_gain, fmt_stats

__all__ = ["fmt_gain", "fmt_stats", "print_recommendation", "print_time_saved"]

if TYPE_CHECKING:
	from ..services.summary import TaskSummary


def print_recommendation(summary: TaskSummary) -> None:
	"""The recommended configuration's mean ± CI, the gain over the baseline, and what could not be measured."""
	from .render import fmt

	rec = summary.recommended
	if rec is None:
		return
	primary = summary.objectives[0]
	if rec.n >= 2:
		console.print(f"  mean over {rec.n} measurements: [bold]{fmt_stats(rec.objective, primary.unit)}[/]")
	if summary.ranking == "confidence_bound":
		console.print(
			"  [dim]chosen on the objective's mean among configurations that met the SLOs; ties (overlapping 95% "
			"intervals) go to the safer interval[/]"
		)
	if summary.gain is not None and summary.baseline is not None:
		base = summary.baseline
		mean = f"mean {fmt(base.objective.mean)} {primary.unit}, " if base.objective else ""
		how = {"blocked": ", side by side in rounds", "paired": ", paired", "welch": "", "single": ""}[
			summary.gain.method
		]
		console.print(
			f"  gain over the baseline (experiment {base.number}, {mean}n={base.n}{how}): "
			f"[bold]{fmt_gain(summary.gain)}[/]"
		)
	if summary.noise is not None:
		console.print(
			f"  noise floor: ±{summary.noise.floor:.1%} at 95% (baseline measured {summary.noise.n} times, "
			f"cv {summary.noise.cv:.1%})"
		)
	if summary.verdict is not None:
		style = {"better": "green", "worse": "red"}.get(summary.verdict.kind, "yellow")
		console.print(f"  [bold {style}]{summary.verdict.text}[/]", highlight=False)
	for note in summary.notes:
		console.print(f"  [yellow]{note}[/]")


def print_time_saved(summary: TaskSummary) -> None:
	from .render import fmt

	origins = ", ".join(f"{n} {o}" for o, n in sorted(summary.experiments_by_origin.items()))
	statuses = ", ".join(f"{n} {s}" for s, n in sorted(summary.experiments_by_status.items()))
	console.print(f"experiments by origin: {origins or '-'}; by status: {statuses or '-'}")
	console.print(f"time saved by early stopping and pruning: {fmt(summary.saved_seconds)} s")


@app.command()
def pareto(
	task: TaskArg,
	db: DbOpt = None,
	format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
	"""The Pareto front of a multi-objective task: configurations no other one beats on every objective."""
	from ..services.summary import pareto_front
	from ..services.views import find_task
	from .render import fmt, fmt_params

	try:
		if format not in ("table", "json"):
			raise UsageError(f"unknown format '{format}'", hint="use table or json")
		store = _store(db)
		front = pareto_front(store, find_task(store, task).id)  # the same answer as GET /api/tasks/{id}/pareto
		if format == "json":
			sys.stdout.write(json.dumps(front.model_dump(mode="json"), indent=2) + "\n")
			return
		if not front.front:
			console.print("no successful experiment with every objective measured yet: no Pareto front")
			return
		table = Table(header_style="bold", caption="values: means over each configuration's successful experiments")
		table.add_column("#", justify="right")
		table.add_column("parameters", overflow="fold")
		table.add_column("n", justify="right")
		for o in front.objectives:
			table.add_column(f"{o.name} ({o.unit})", justify="right")
		for p in sorted(front.front, key=lambda p: p.objective_values[0]):
			table.add_row(str(p.number), fmt_params(p.params), str(p.n), *[fmt(v) for v in p.objective_values])
		console.print(table)
	except AutotunerError as exc:
		_fail(exc)
