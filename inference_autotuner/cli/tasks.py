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

from ..errors import AutotunerError
from .common import DbOpt, TaskArg, _fail, _internal, _store, app, console, err

if TYPE_CHECKING:
	from ..runner.summary import TaskSummary


def _run_task(db: str | None, task_id: int, max_trials: int | None) -> None:
	from ..report import experiments_of, find_task, task_dict
	from ..runner.task import TaskRunner
	from ..scoring import OBJECTIVE_INFO

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
	from ..cli_render import LiveView

	view = LiveView(OBJECTIVE_INFO[objective][2])
	try:
		with Live(view, console=console, refresh_per_second=4, transient=False):
			runner.emit = view.update
			result = runner.run()
	finally:
		signal.signal(signal.SIGINT, previous)
	task = find_task(store, task_id)
	data = task_dict(task, experiments_of(store, task_id))
	summary = _summary(store, task_id)
	if result.status == "interrupted":
		err.print(f"[magenta]task '{task.name}' interrupted; resume with: autotuner resume {task.name}[/]")
		_print_best(data, summary)
		raise typer.Exit(130)
	if result.status == "failed":  # every experiment failed: nothing was measured
		err.print(f"task '{task.name}' failed: {task.error}", style="red", markup=False, highlight=False)
		raise typer.Exit(1)
	_print_best(data, summary)


def _summary(store: Any, task_id: int) -> TaskSummary:
	from ..runner.summary import task_summary

	return task_summary(store, task_id)


def _recommended(data: dict[str, Any], summary: TaskSummary | None) -> dict[str, Any] | None:
	from ..report import recommended_of

	return recommended_of(data, summary)


def _print_best(data: dict[str, Any], summary: TaskSummary | None = None) -> None:
	from ..cli_render import fmt, fmt_params
	from ..report import FIGURE_COLUMNS
	from .results import print_recommendation

	best = _recommended(data, summary)
	n_ok = sum(1 for e in data["experiments"] if e["status"] == "success")
	console.print(
		f"\ntask [bold]{data['name']}[/]: {data['status']}, {len(data['experiments'])} experiment(s), "
		f"{n_ok} successful, {fmt(data.get('elapsed_s'))} s"
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
	from ..runner.task import get_or_create_task
	from ..spec import load_spec

	try:
		task_spec = load_spec(spec)
		store = _store(db)
		task_id = get_or_create_task(store, task_spec)
		_run_task(db, task_id, max_trials)
	except AutotunerError as exc:
		_fail(exc)
	except (typer.Exit, KeyboardInterrupt):
		raise
	except Exception as exc:
		_internal(exc)


@app.command()
def resume(
	task: TaskArg,
	db: DbOpt = None,
	max_trials: Annotated[int | None, typer.Option("--max-trials", help="Override max_iterations")] = None,
) -> None:
	"""Continue a task that was interrupted (Ctrl-C, a crash, kill -9) exactly where it stopped."""
	from ..report import find_task

	try:
		t = find_task(_store(db), task)
		_run_task(db, t.id, max_trials)
	except AutotunerError as exc:
		_fail(exc)
	except (typer.Exit, KeyboardInterrupt):
		raise
	except Exception as exc:
		_internal(exc)


@app.command("list")
def list_tasks(db: DbOpt = None) -> None:
	"""List tasks with their status, progress and best objective value."""
	from ..report import experiments_of, task_dict
	from ..store import Task

	try:
		store = _store(db)
		with store.session() as s:
			tasks = list(s.query(Task).order_by(Task.id))
			for t in tasks:
				s.expunge(t)
		table = Table(header_style="bold")
		for col in ("id", "name", "status", "engine", "mode", "experiments", "objective", "best"):
			table.add_column(col)
		for t in tasks:
			d = task_dict(t, experiments_of(store, t.id))
			best = d["best"]["objective_value"] if d["best"] else None
			done = sum(
				1 for e in d["experiments"] if e["status"] in ("success", "failed", "infeasible", "skipped", "pruned")
			)
			table.add_row(
				str(t.id),
				t.name,
				t.status,
				t.engine,
				t.deployment_mode,
				f"{done}/{d['planned']}",
				d["objective"],
				"-"
				if best is None
				else f"{best:.4g} {d['objective_unit']}" + (" (predicted)" if d["predicted"] else ""),
			)
		console.print(table if tasks else "no tasks yet: run `autotuner tune SPEC`")
	except AutotunerError as exc:
		_fail(exc)


def _task_data(db: str | None, ref: str) -> dict[str, Any]:
	"""A task with its experiments, as the report views give it (raises TaskNotFoundError)."""
	from ..report import experiments_of, find_task, task_dict

	store = _store(db)
	t = find_task(store, ref)
	return task_dict(t, experiments_of(store, t.id))


@app.command()
def show(
	task: TaskArg,
	db: DbOpt = None,
	format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
	"""Show a task's experiments (origin, parameters, status, figures, score) and the time early stopping saved."""
	from ..cli_render import audit_lines, engine_side_lines, experiments_table
	from .results import print_time_saved

	try:
		data = _task_data(db, task)
		summary = _summary(_store(db), data["id"])
		if format == "json":
			data["summary"] = summary.model_dump(mode="json")
			sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
			return
		if format != "table":
			raise AutotunerError(f"unknown format '{format}'", hint="use table or json")
		best = _recommended(data, summary)
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
		_print_best(data, summary)
	except AutotunerError as exc:
		_fail(exc)


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
	request rate each sustained with every SLO met."""
	try:
		data = _task_data(db, task)
		if target_rate is not None:
			_print_sizing(db, data, target_rate, format)
			return
		summary = _summary(_store(db), data["id"])
		best = _recommended(data, summary)
		if format == "json":
			out = None if best is None else {**best, "summary": summary.model_dump(mode="json")}
			sys.stdout.write(json.dumps(out, indent=2, default=str) + "\n")
			return
		_print_best(data, summary)
		if not best:
			raise typer.Exit(1)
	except AutotunerError as exc:
		_fail(exc)


def _print_sizing(db: str | None, data: dict[str, Any], target_rate: float, format: str) -> None:
	from ..cli_render import fmt, fmt_params
	from ..reporting.capacity import fewest_gpus
	from ..reporting.collect import gpu_hour_price
	from ..spec.models import SLOSpec

	if target_rate <= 0:
		raise AutotunerError("--target-rate must be above 0 req/s")
	from ..report import find_task

	spec = dict(find_task(_store(db), data["id"]).spec)
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

	try:
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
	except AutotunerError as exc:
		_fail(exc)


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
	"""Delete a task with its experiments, its Optuna study and its logs (as the API's DELETE does).

	A queued or running task is refused: stop it first (Ctrl-C, or cancel it in the API/web app). A task left
	`running` by a tuner that was killed can be deleted with --force."""
	from sqlalchemy import update

	from ..api.tasks_service import IDLE, delete_task
	from ..report import experiments_of, find_task
	from ..store import Task, TaskStatus

	try:
		store = _store(db)
		t = find_task(store, task)
		n = len(experiments_of(store, t.id))
		if t.status not in IDLE and t.status != TaskStatus.CLEARING and not force:
			raise AutotunerError(
				f"task '{t.name}' is {t.status}: deleting it would leave its tuner and engine running",
				hint="stop it first (Ctrl-C in its `autotuner tune`, or cancel it in the API/web app); if its tuner "
				"is gone (killed), run `autotuner resume` to finish it or delete it with --force",
			)
		if not yes and not typer.confirm(f"delete task '{t.name}' and its {n} experiment(s)?"):
			raise typer.Exit(1)
		if force:
			with store.session() as s:
				s.execute(update(Task).where(Task.id == t.id).values(status=TaskStatus.INTERRUPTED))
		delete_task(store, t.id)
		console.print(f"deleted task '{t.name}'")
	except AutotunerError as exc:
		_fail(exc)
