"""Commands on tasks: tune, resume, list, show, best, export, delete (pareto is in results.py)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from ..errors import UsageError
from .common import DbOpt, TaskArg, _store, app, console, err

if TYPE_CHECKING:
	from ..services.summary import TaskSummary


def _run_task(db: str | None, task_id: int, max_trials: int | None) -> None:
	from ..runner.task import TaskRunner
	from ..scoring import OBJECTIVE_INFO
	from ..services.summary import task_data
	from .render import LiveView

	store = _store(db)
	cancel = threading.Event()

	def on_sigint(signum: int, _frame: Any) -> None:
		if cancel.is_set():
			raise KeyboardInterrupt
		cancel.set()
		err.print("[yellow]stopping: finishing cleanup (Ctrl-C again to force)…[/]")

	previous = signal.signal(signal.SIGINT, on_sigint)
	signal.signal(signal.SIGTERM, on_sigint)
	runner = TaskRunner(store, task_id, cancel=cancel, max_trials=max_trials)
	objective = runner.spec.optimization.objective_list[0]
	view = LiveView(OBJECTIVE_INFO[objective][2])
	try:
		with Live(view, console=console, refresh_per_second=4, transient=False):
			runner.emit = view.update
			result = runner.run()
	finally:
		signal.signal(signal.SIGINT, previous)
	data, summary, rec = task_data(store, task_id)
	if result.status == "interrupted":
		err.print(f"[magenta]task '{data['name']}' interrupted; resume with: autotuner resume {data['name']}[/]")
		_print_best(data, summary, rec)
		raise typer.Exit(130)
	if result.status == "failed":  # every experiment failed: nothing was measured
		err.print(f"task '{data['name']}' failed: {data['error']}", style="red", markup=False, highlight=False)
		raise typer.Exit(1)
	_print_best(data, summary, rec)


def _print_best(data: dict[str, Any], summary: TaskSummary | None, best: dict[str, Any] | None) -> None:
	from ..services.views import FIGURE_COLUMNS
	from .render import fmt, fmt_params
	from .results import print_recommendation

	n_ok = sum(1 for e in data["experiments"] if e["status"] == "success")
	console.print(
		f"\ntask [bold]{data['name']}[/]: {data['status']}, {len(data['experiments'])} experiment(s), "
		f"{n_ok} successful, {fmt(data.get('elapsed'))} s"
	)
	if not best:
		console.print("[yellow]no successful experiment yet: no best configuration[/]")
		return
	label = " [bold magenta]PREDICTED[/] by aiconfigurator, not measured" if best.get("predicted") else ""
	console.print(
		f"[bold green]best configuration[/]{label} (experiment {best['number']}): {fmt_params(best['params'])}"
	)
	console.print(f"  objective {data['objective']}: [bold]{fmt(best['objective_value'])}[/] {data['objective_unit']}")
	if summary is not None:
		print_recommendation(summary)
	fig = best.get("figures") or {}
	console.print("  " + ", ".join(f"{title} {fmt(fig.get(key), scale)}" for key, title, scale in FIGURE_COLUMNS))
	from ..quality.show import quality_line

	if (line := quality_line(fig)) is not None:  # the quality guardrail's figures (docs/quality.md)
		console.print(f"  {line}", markup=False, highlight=False)
	if summary is not None:  # better-scoring configurations the guardrail rejected
		for line in summary.quality_rejections:
			console.print(f"  {line}", style="yellow", markup=False, highlight=False)
	if best.get("launch_command"):
		console.print("  launch with:")
		console.print(f"    {best['launch_command']}", highlight=False, soft_wrap=True)


@app.command()
def tune(
	spec: Annotated[Path, typer.Argument(help="Task spec file (YAML or JSON; the seed's task JSON shape loads as is)")],
	db: DbOpt = None,
	max_trials: Annotated[
		int | None, typer.Option("--max-trials", help="Override optimization.max_iterations for this run")
	] = None,
) -> None:
	"""Run a tuning task; re-running the same task_name resumes it where it stopped."""
	from ..services.commands import create_or_resume
	from ..services.validate import load_spec

	task = create_or_resume(_store(db), load_spec(spec))
	_run_task(db, task.id, max_trials)


@app.command()
def resume(
	task: TaskArg,
	db: DbOpt = None,
	max_trials: Annotated[int | None, typer.Option("--max-trials", help="Override max_iterations")] = None,
) -> None:
	"""Continue a task that was interrupted (Ctrl-C, a crash, kill -9) exactly where it stopped."""
	from ..services.commands import resume_task

	_run_task(db, resume_task(_store(db), task).id, max_trials)


def _check_format(format: str, allowed: tuple[str, ...]) -> None:
	if format not in allowed:
		raise UsageError(f"unknown format '{format}'", hint="use " + " or ".join(allowed))


@app.command("list")
def list_tasks(
	db: DbOpt = None,
	format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
	"""List tasks, newest first, with their status, progress and best objective value (as GET /api/tasks/)."""
	from ..services.views import list_tasks as task_views

	_check_format(format, ("table", "json"))
	_total, tasks = task_views(_store(db))
	if format == "json":
		sys.stdout.write(json.dumps([t.model_dump(mode="json") for t in tasks], indent=2) + "\n")
		return
	table = Table(header_style="bold")
	for col in ("id", "name", "status", "engine", "mode", "experiments", "objective", "best"):
		table.add_column(col)
	for t in tasks:
		best = t.best_objective_value
		table.add_row(
			str(t.id),
			t.name,
			t.status,
			t.engine,
			t.deployment_mode,
			f"{t.experiments_finished}/{t.experiments_planned}",
			t.objective,
			"-" if best is None else f"{best:.4g} {t.objective_unit}" + (" (predicted)" if t.predicted else ""),
		)
	console.print(table if tasks else "no tasks yet: run `autotuner tune SPEC`")


@app.command()
def show(
	task: TaskArg,
	db: DbOpt = None,
	format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
	"""Show a task's experiments (origin, parameters, status, figures, score) and the time early stopping saved.
	--format json: the task as GET /api/tasks/{id}, with `experiments` and `summary` as the API gives them."""
	from ..services.summary import task_data
	from .render import audit_lines, engine_side_lines, experiments_table
	from .results import print_time_saved

	_check_format(format, ("table", "json"))
	data, summary, best = task_data(_store(db), task)
	if format == "json":
		sys.stdout.write(json.dumps(data, indent=2) + "\n")
		return
	console.print(
		experiments_table(
			data["experiments"],
			unit=data["objective_unit"],
			best_number=best["number"] if best else None,
			width=console.width,
			best_label="recommended" if summary.recommended is not None else "best",
		)
	)
	for e in data["experiments"]:
		if e["failure_reason"]:
			console.print(f"[dim]#{e['number']} {e['status']}: {e['failure_reason'].splitlines()[0][:200]}[/]")
	for line in engine_side_lines(data["experiments"]):  # the engine's own /metrics, beside the client figures
		console.print(line, style="dim", markup=False, highlight=False)
	for line in audit_lines(data["experiments"]):  # runs their audit called suspect (bench/audit.py)
		console.print(line, style="yellow", markup=False, highlight=False)
	if data["status"] == "failed" and data["error"]:
		console.print(f"task {data['status']}: {data['error']}", style="red", markup=False, highlight=False)
	print_time_saved(summary)
	_print_best(data, summary, best)


@app.command()
def best(
	task: TaskArg,
	db: DbOpt = None,
	format: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
	target_rate: Annotated[
		float | None,
		typer.Option(
			"--target-rate",
			min=0.0,
			help="Size for this many req/s: the fewest GPUs (replicas x world size) within SLOs",
		),
	] = None,
) -> None:
	"""The best configuration of a task: parameters, figures, the launch command; with repeated measurements its
	mean ± 95% CI, and its gain over the baseline (the engine's default config) when one was measured.
	With --target-rate R: the configurations that serve R req/s within the SLOs on the fewest GPUs, from the highest
	request rate each sustained with every SLO met. --format json: the recommended experiment as
	GET /api/experiments/{id} gives it, with the task's `summary`."""
	from ..services.summary import task_data

	_check_format(format, ("text", "json"))
	data, summary, best = task_data(_store(db), task)
	if target_rate is not None:
		_print_sizing(data, target_rate, format)
		return
	if format == "json":
		out = None if best is None else {**best, "summary": data["summary"]}
		sys.stdout.write(json.dumps(out, indent=2) + "\n")
		return
	_print_best(data, summary, best)
	if not best:
		raise typer.Exit(1)


def _print_sizing(data: dict[str, Any], target_rate: float, format: str) -> None:
	from ..reporting.capacity import fewest_gpus
	from ..reporting.collect import gpu_hour_price
	from ..spec.models import SLOSpec
	from .render import fmt, fmt_params

	if target_rate <= 0:
		raise UsageError("--target-rate must be above 0 req/s")
	spec = dict(data["spec"])
	slo = SLOSpec.model_validate(spec["slo"]) if spec.get("slo") else None
	rows = fewest_gpus(data["experiments"], slo, target_rate, gpu_hour_price(spec))
	if format == "json":
		sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in rows], indent=2) + "\n")
		return
	if not rows:
		err.print("[yellow]no successful run met every SLO without errors: nothing to size from[/]")
		raise typer.Exit(1)
	top = rows[0]
	label = " [bold magenta]PREDICTED[/]" if top.predicted else ""
	console.print(
		f"[bold green]{target_rate:g} req/s within the SLOs on {top.gpus} GPU(s)[/]{label}: {top.replicas} replica(s) x "
		f"{top.world_size} GPU(s) of experiment {top.number} ({fmt_params(top.params)}), which sustained "
		f"{fmt(top.capacity)} req/s per replica ({top.run})"
	)
	table = Table(show_header=True, header_style="bold")
	for col in ("#", "parameters", "req/s per replica", "replicas", "GPUs/replica", "GPUs", "$/hour"):
		table.add_column(col)
	for r in rows[:10]:
		table.add_row(
			str(r.number),
			fmt_params(r.params),
			fmt(r.capacity),
			str(r.replicas),
			str(r.world_size),
			str(r.gpus),
			"-" if r.cost_per_hour is None else f"{r.cost_per_hour:,.2f}",
		)
	console.print(table)


@app.command()
def export(
	task: TaskArg,
	db: DbOpt = None,
	format: Annotated[
		str, typer.Option("--format", "-f", help="csv, json, vllm-sweep or genai-bench (the last two: a folder)")
	] = "csv",
	output: Annotated[
		Path | None, typer.Option("--output", "-o", help="Write to this file (a new folder for vllm-sweep/genai-bench)")
	] = None,
) -> None:
	"""Export a task's experiments as CSV (one row per experiment), JSON (everything, runs included), or the result
	folders of vLLM's `vllm bench sweep` and genai-bench (docs/report.md)."""
	from ..reporting.export_formats import FOLDER_FORMATS, ExportError, build_export, write_folder

	_check_format(format, ("csv", "json", *FOLDER_FORMATS))
	if format in FOLDER_FORMATS and output is None:
		raise ExportError(f"{format} writes a folder", hint=f"give -o FOLDER, e.g. -o {task}-{format}")
	exported = build_export(_store(db), task, format)
	for note in exported.notes:
		err.print(f"[dim]note: {note}[/]", highlight=False)
	if exported.folder and output is not None:
		write_folder(exported, output)
		err.print(f"wrote {len(exported.files)} file(s) under {output}")
		return
	text = next(iter(exported.files.values()))
	if output:
		output.write_text(text)
		err.print(f"wrote {output}")
	else:
		sys.stdout.write(text)


@app.command()
def delete(
	task: TaskArg,
	db: DbOpt = None,
	yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False,
	force: Annotated[
		bool,
		typer.Option("--force", help="Also a queued or running task whose tuner is gone (e.g. killed with -9)"),
	] = False,
) -> None:
	"""Delete a task with its experiments, its Optuna study and its logs (the API's DELETE: one rule for both).

	A queued or running task is refused: stop it first (Ctrl-C, or cancel it in the API/web app). A task left
	`running` by a tuner that was killed can be deleted with --force."""
	from ..services.commands import abandon_task, delete_task, experiment_count
	from ..services.views import find_task

	store = _store(db)
	t = find_task(store, task)
	n = experiment_count(store, t.id)
	if not yes and not typer.confirm(f"delete task '{t.name}' and its {n} experiment(s)?"):
		raise typer.Exit(1)
	if force:  # the caller says its tuner is gone: queued/running becomes interrupted, which the rule lets go
		abandon_task(store, t.id)
	delete_task(store, t.id)
	console.print(f"deleted task '{t.name}'")
