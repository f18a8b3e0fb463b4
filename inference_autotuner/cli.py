"""The `autotuner` command line (Typer + Rich)."""

from __future__ import annotations

import csv
import io
import json
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from . import __version__
from .errors import AutotunerError, SpecError

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

	from .paths import logs_dir

	path = logs_dir() / "internal-errors.log"
	with path.open("a") as f:
		f.write("".join(traceback.format_exception(exc)))
	logging.getLogger(__name__).debug("internal error", exc_info=exc)
	err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc}", highlight=False)
	err.print(f"[dim]results so far are saved; details in {path}; resume with `autotuner resume TASK`[/]")
	raise typer.Exit(70)


def _store(db: str | None):  # type: ignore[no-untyped-def]
	from .store import Store

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


def _run_task(db: str | None, task_id: int, max_trials: int | None) -> None:
	from .report import experiments_of, find_task, task_dict
	from .runner.task import TaskRunner
	from .scoring import OBJECTIVE_INFO

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
	objective = runner.spec.optimization.objective
	from .cli_render import LiveView

	view = LiveView(OBJECTIVE_INFO[objective][2])
	try:
		with Live(view, console=console, refresh_per_second=4, transient=False):
			runner.emit = view.update
			result = runner.run()
	finally:
		signal.signal(signal.SIGINT, previous)
	task = find_task(store, task_id)
	data = task_dict(task, experiments_of(store, task_id))
	if result.status == "interrupted":
		err.print(f"[magenta]task '{task.name}' interrupted; resume with: autotuner resume {task.name}[/]")
		_print_best(data)
		raise typer.Exit(130)
	_print_best(data)


def _print_best(data: dict[str, Any]) -> None:
	from .cli_render import fmt, fmt_params
	from .report import FIGURE_COLUMNS

	best = data.get("best")
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
	fig = best.get("figures") or {}
	console.print("  " + ", ".join(f"{title} {fmt(fig.get(key), scale)}" for key, title, scale in FIGURE_COLUMNS))
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
	from .runner.task import get_or_create_task
	from .spec import load_spec

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
	from .report import find_task

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
	from .report import experiments_of, task_dict
	from .store import Task

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
			done = sum(1 for e in d["experiments"] if e["status"] in ("success", "failed", "infeasible", "skipped"))
			table.add_row(
				str(t.id),
				t.name,
				t.status,
				t.engine,
				t.deployment_mode,
				f"{done}/{d['max_iterations']}",
				d["objective"],
				"-"
				if best is None
				else f"{best:.4g} {d['objective_unit']}" + (" (predicted)" if d["predicted"] else ""),
			)
		console.print(table if tasks else "no tasks yet: run `autotuner tune SPEC`")
	except AutotunerError as exc:
		_fail(exc)


@app.command()
def show(
	task: TaskArg,
	db: DbOpt = None,
	format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
	"""Show a task's experiments (parameters, status, figures, score)."""
	from .cli_render import experiments_table
	from .report import experiments_of, find_task, task_dict

	try:
		store = _store(db)
		t = find_task(store, task)
		data = task_dict(t, experiments_of(store, t.id))
		if format == "json":
			sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
			return
		if format != "table":
			raise AutotunerError(f"unknown format '{format}'", hint="use table or json")
		best = data["best"]["number"] if data["best"] else None
		console.print(
			experiments_table(data["experiments"], unit=data["objective_unit"], best_number=best, width=console.width)
		)
		for e in data["experiments"]:
			if e["failure_reason"]:
				console.print(f"[dim]#{e['number']} {e['status']}: {e['failure_reason'].splitlines()[0][:200]}[/]")
		_print_best(data)
	except AutotunerError as exc:
		_fail(exc)


@app.command()
def best(
	task: TaskArg,
	db: DbOpt = None,
	format: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
) -> None:
	"""The best configuration of a task: parameters, measured figures, and the command that launches it."""
	from .report import experiments_of, find_task, task_dict

	try:
		store = _store(db)
		t = find_task(store, task)
		data = task_dict(t, experiments_of(store, t.id))
		if format == "json":
			sys.stdout.write(json.dumps(data["best"], indent=2, default=str) + "\n")
			return
		_print_best(data)
		if not data["best"]:
			raise typer.Exit(1)
	except AutotunerError as exc:
		_fail(exc)


@app.command()
def manifest(
	target: Annotated[str, typer.Argument(help="Task name or id (with --best), or a spec file (its first config)")],
	best: Annotated[bool, typer.Option("--best", help="Serve the task's recommended (best) configuration")] = False,
	mode: Annotated[str | None, typer.Option("--mode", help="ome or kubernetes (default: the spec's mode)")] = None,
	benchmark: Annotated[bool, typer.Option("--benchmark", help="OME: add a BenchmarkJob (genai-bench)")] = False,
	db: DbOpt = None,
) -> None:
	"""Print the Kubernetes / OME manifests (YAML) that serve a configuration with every tuned flag."""
	from .deploy.k8s.render import best_params, first_params, render, serving_manifests

	try:
		if best:
			spec, params = best_params(db, target)
		else:
			from .spec import load_spec

			if not Path(target).is_file():
				raise AutotunerError(f"no spec file '{target}'", hint="give a spec file, or a task with --best")
			spec = load_spec(Path(target))
			params = first_params(spec)
		chosen = mode or (spec.deployment_mode if spec.deployment_mode in ("ome", "kubernetes") else "kubernetes")
		sys.stdout.write(render(serving_manifests(spec, params, chosen, benchmark=benchmark)))
	except AutotunerError as exc:
		_fail(exc)


@app.command()
def export(
	task: TaskArg,
	db: DbOpt = None,
	format: Annotated[str, typer.Option("--format", "-f", help="csv or json")] = "csv",
	output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout")] = None,
) -> None:
	"""Export a task's experiments as CSV (one row per experiment) or JSON (everything, runs included)."""
	from .report import experiments_of, find_task, task_dict

	try:
		store = _store(db)
		t = find_task(store, task)
		data = task_dict(t, experiments_of(store, t.id))
		if format == "json":
			text = json.dumps(data, indent=2, default=str) + "\n"
		elif format == "csv":
			text = _to_csv(data["experiments"])
		else:
			raise AutotunerError(f"unknown format '{format}'", hint="use csv or json")
		if output:
			output.write_text(text)
			err.print(f"wrote {output}")
		else:
			sys.stdout.write(text)
	except AutotunerError as exc:
		_fail(exc)


def _to_csv(rows: list[dict[str, Any]]) -> str:
	params = sorted({k for r in rows for k in r["params"]})
	figures = sorted({k for r in rows for k in (r["figures"] or {})})
	buf = io.StringIO()
	w = csv.writer(buf)
	w.writerow(
		[
			"number",
			"status",
			*[f"param:{p}" for p in params],
			"objective_value",
			"score",
			*figures,
			"duration_s",
			"predicted",
			"failure_reason",
		]
	)
	for r in rows:
		fig = r["figures"] or {}
		w.writerow(
			[
				r["number"],
				r["status"],
				*[r["params"].get(p, "") for p in params],
				r["objective_value"],
				r["score"],
				*[fig.get(f, "") for f in figures],
				r["duration_s"],
				bool(r.get("predicted")),
				r["failure_reason"] or "",
			]
		)
	return buf.getvalue()


@app.command()
def validate(spec: Annotated[Path, typer.Argument(help="Task spec file to check")]) -> None:
	"""Check a spec: every problem with its field path and a fix hint; exit code 2 when invalid."""
	from .spec import load_spec

	try:
		s = load_spec(spec)
	except SpecError as exc:
		err.print(f"[bold red]{spec}: {len(exc.problems)} problem(s)[/]")
		for p in exc.problems:
			err.print(f"  [bold]{p.path or '<spec>'}[/]: {p.message}", highlight=False)
			if p.hint:
				err.print(f"    [dim]hint: {p.hint}[/]", highlight=False)
		raise typer.Exit(2) from None
	from .space import build_task_space

	size = build_task_space(s.parameters, s.quant_config, s.parallel_config).size()
	console.print(
		f"[green]ok[/]: task '{s.task_name}', engine {s.base_runtime}, {s.deployment_mode} mode, "
		f"{'continuous' if size is None else size} configuration(s), at most {s.optimization.max_iterations} experiments"
	)


@app.command()
def explain(
	spec: Annotated[Path, typer.Argument(help="Task spec file")],
	limit: Annotated[int, typer.Option("--limit", "-n", help="Show at most this many experiments")] = 50,
	format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
	"""Every experiment the spec implies: exact argv, world size, memory estimate, and why any would be refused.

	No engine is started and nothing is downloaded."""
	from .cli_render import fmt_params
	from .explain import explain as explain_spec
	from .spec import load_spec

	try:
		data = explain_spec(load_spec(spec), limit=limit)
	except SpecError as exc:
		_fail(exc)
		return
	except AutotunerError as exc:
		_fail(exc)
		return
	if format == "json":
		sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
		return
	hw = data["hardware"]
	gpus = (
		"unknown GPUs"
		if hw["gpus"] is None
		else f"{hw['gpus']} x {hw['gpu'] or 'GPU'} ({fmt_gib(hw['gpu_memory_gib'])} GiB)"
	)
	size = "a continuous space" if data["space_size"] is None else f"{data['space_size']} configuration(s)"
	console.print(f"[bold]{data['task_name']}[/]: {data['engine']} ({data['engine_version']}), {size}, {gpus}")
	for row in data["experiments"]:
		style = {"ok": "green", "skipped": "dim", "infeasible": "yellow"}[row["status"]]
		mem = row["memory"]
		memory = (
			f"{fmt_gib(mem['weights_gib'] + mem['kv_cache_gib'] + mem['overhead_gib'])} of {fmt_gib(mem['budget_gib'])} GiB/GPU"
			if mem
			else ("memory not estimated (no config.json)" if row["status"] == "ok" else "not launched")
		)
		console.print(
			f"[{style}]#{row['number']} {row['status']}[/] world size {row['world_size']}, {memory}: {fmt_params(row['params'])}",
			highlight=False,
		)
		if row["argv"]:
			console.print(f"    {shlex.join(row['argv'])}", highlight=False, soft_wrap=True)
		if row["reason"]:
			console.print(f"    [dim]{row['reason']}[/]", highlight=False)
		for note in row["notes"]:
			console.print(f"    [dim]note: {note}[/]", highlight=False)
	if data["space_size"] is not None and data["space_size"] > data["shown"]:
		console.print(f"[dim]... {data['space_size'] - data['shown']} more (raise --limit)[/]")


@app.command()
def plan(
	spec: Annotated[Path, typer.Argument(help="Task spec file (its engine must be vllm, sglang or trtllm)")],
	top: Annotated[int, typer.Option("--top", "-k", help="Measure this many of the best predicted configurations")] = 3,
	measure_mode: Annotated[
		str | None,
		typer.Option("--measure-mode", help="Real deployment for the measurements (default: the spec's own mode)"),
	] = None,
	db: DbOpt = None,
	format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
	"""Sim-to-real: rank the space by aiconfigurator's prediction, measure the top K for real, report the error.

	Runs two tasks: NAME-predicted (every configuration, predicted) and NAME-measured (the top K, measured)."""
	from .cli_render import fmt, fmt_params
	from .runner.plan import run_plan
	from .spec import load_spec

	try:
		if format not in ("table", "json"):
			raise AutotunerError(f"unknown format '{format}'", hint="use table or json")
		data = run_plan(
			_store(db),
			load_spec(spec),
			top,
			measure_mode=measure_mode,
			emit=lambda ev: err.print(f"[dim]{ev['message']}[/]") if ev.get("type") == "log" else None,
		)
	except AutotunerError as exc:
		_fail(exc)
		return
	except (typer.Exit, KeyboardInterrupt):
		raise
	except Exception as exc:
		_internal(exc)
		return
	if format == "json":
		sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
		return
	table = Table(header_style="bold", title=f"{data['task_name']}: predicted vs measured ({data['measure_mode']})")
	for col in ("rank", "parameters", f"predicted {data['unit']}", f"measured {data['unit']}", "error %", "status"):
		table.add_column(col)
	for r in data["rows"]:
		err_pct = r["error_pct"]
		table.add_row(
			str(r["rank"]),
			fmt_params(r["params"]),
			fmt(r["predicted_objective"]),
			fmt(r["measured_objective"]),
			"-" if err_pct is None else f"{err_pct:+.1f}",
			r["measured_status"],
		)
	console.print(table)
	console.print(
		f"{data['predicted_feasible']} of {data['predicted_configurations']} configurations predicted feasible; "
		f"best measured: predicted rank {data['best_measured_rank'] or '-'}; "
		f"mean |error| {fmt(data['mean_abs_error_pct'])} %  (tasks {data['predicted_task']}, {data['measured_task']})"
	)


def fmt_gib(v: float | None) -> str:
	return "?" if v is None else f"{v:.1f}"


@app.command()
def delete(
	task: TaskArg, db: DbOpt = None, yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False
) -> None:
	"""Delete a task with its experiments and its Optuna study."""
	import optuna

	from .report import find_task
	from .store import Task

	try:
		store = _store(db)
		t = find_task(store, task)
		if not yes and not typer.confirm(f"delete task '{t.name}' and its {t.id} experiments?"):
			raise typer.Exit(1)
		try:
			optuna.delete_study(study_name=t.study_name, storage=store.optuna_storage())
		except KeyError:
			pass
		with store.session() as s:
			row = s.get(Task, t.id)
			if row is not None:
				s.delete(row)
		console.print(f"deleted task '{t.name}'")
	except AutotunerError as exc:
		_fail(exc)


@app.command()
def engines(
	all_flags: Annotated[
		bool, typer.Option("--all", help="Every flag of the catalogue, not only the tuned ones")
	] = False,
) -> None:
	"""List the engines, their versions, commonly tuned flags, and quantization / parallelism presets."""
	from .engines import ENGINES
	from .engines.parallel import PARALLEL_FLAGS, PARALLEL_PRESETS
	from .engines.quant import QUANT_PRESET_HELP

	for name, cls in ENGINES.items():
		eng = cls()
		console.print(f"[bold]{name}[/] — {eng.version}")
		table = Table(header_style="bold")
		for col in ("flag", "type", "choices / default", "help"):
			table.add_column(col)
		for f in eng.catalogue().values():
			if not (f.tuned or all_flags):
				continue
			extra = ", ".join(f.choices) if f.choices else ("" if f.default is None else f"default {f.default}")
			table.add_row(("* " if f.tuned else "  ") + f.name, f.type, extra, f.help)
		console.print(table)
		mapped = ", ".join(f"{k}->{v}" for k, v in PARALLEL_FLAGS.get(name, {}).items()) or "none"
		presets = ", ".join(PARALLEL_PRESETS.get(name, {}))
		console.print(f"  parallel fields: {mapped}; presets: {presets}", highlight=False)
	console.print(
		"[dim]* commonly tuned (autotuner engines --all lists every flag); docs/engines.md has the mappings[/]"
	)
	console.print("[bold]quantization presets[/] (quant_config: {presets: [...]}):")
	for preset, text in QUANT_PRESET_HELP.items():
		console.print(f"  {preset}: {text}", highlight=False)


@app.command()
def gpus(
	as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
	"""The GPUs this host has (NVML, else nvidia-smi) and which are free for experiments."""
	from .gpus import MIB, GPUAllocator, describe, discover

	found = discover()
	free = {g.index for g in GPUAllocator(lambda: found).free()} if found else set()
	if as_json:
		console.print_json(json.dumps([{**d, "free": d["index"] in free} for d in describe(found)]))
		return
	if not found:
		console.print("no GPU found (no NVIDIA driver, nvidia-ml-py or nvidia-smi answered); engines run on the CPU")
		return
	table = Table(header_style="bold")
	for col in ("id", "name", "memory used / total", "util", "procs", "free", "uuid"):
		table.add_column(col)
	for g in found:
		mem = f"{g.memory_used // MIB} / {g.memory_total // MIB} MiB"
		util = "?" if g.utilization is None else f"{g.utilization}%"
		procs = "?" if g.processes is None else str(g.processes)
		table.add_row(str(g.index), g.name, mem, util, procs, "yes" if g.index in free else "no", g.uuid)
	console.print(table)
	console.print(f"[dim]source: {found[0].source}[/]")


@models_app.command("pull")
def models_pull(
	name: Annotated[str, typer.Argument(help="Known model name (e.g. smollm2)")],
	force: Annotated[bool, typer.Option("--force", help="Fetch again even if cached")] = False,
) -> None:
	"""Fetch a known model into the cache (checksum verified) and print its path."""
	from .models import pull

	try:
		with console.status(f"fetching {name}…"):
			path = pull(name, force=force, say=lambda m: console.print(f"[dim]{m}[/]"))
		console.print(f"[green]{name}[/]: {path}")
	except AutotunerError as exc:
		_fail(exc)


@models_app.command("list")
def models_list() -> None:
	"""Known models and whether they are cached."""
	from .models import KNOWN_MODELS, cached_path

	table = Table(header_style="bold")
	for col in ("name", "cached", "description"):
		table.add_column(col)
	for name, m in KNOWN_MODELS.items():
		p = cached_path(name)
		table.add_row(name, str(p) if p.exists() else "no", m.description)
	console.print(table)


RedisOpt = Annotated[
	str | None,
	typer.Option(
		"--redis", help="Redis URL: tasks go through an ARQ queue run by `autotuner worker` (env AUTOTUNER_REDIS)"
	),
]


@app.command()
def serve(
	host: Annotated[str, typer.Option("--host", help="Address to listen on")] = "127.0.0.1",
	port: Annotated[int, typer.Option("--port", help="Port to listen on")] = 8000,
	db: DbOpt = None,
	redis: RedisOpt = None,
	slots: Annotated[int, typer.Option("--slots", help="In-process worker: tasks run at the same time")] = 1,
	no_worker: Annotated[bool, typer.Option("--no-worker", help="Serve the API only; run no tasks here")] = False,
) -> None:
	"""Serve the REST + WebSocket API (OpenAPI at /docs) with an in-process worker, or an ARQ queue with --redis."""
	import os

	import uvicorn

	from .api import Settings, create_app
	from .deploy.ports import port_in_use

	try:
		redis = redis or os.environ.get("AUTOTUNER_REDIS") or None
		settings = Settings(db_url=db, redis_url=redis, worker_slots=slots, run_worker=not no_worker)
		_store(settings.db_url)  # fail early, with a clear message, on a bad database URL
		if port_in_use(port, host):
			raise AutotunerError(f"port {port} on {host} is already in use", hint="pick another one with --port")
		mode = f"ARQ queue on {redis}" if redis else ("no worker" if no_worker else "in-process worker")
		console.print(f"serving on http://{host}:{port} (API docs at /docs; {mode})")
		uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
	except AutotunerError as exc:
		_fail(exc)


@app.command()
def worker(
	db: DbOpt = None,
	redis: RedisOpt = None,
	jobs: Annotated[int, typer.Option("--jobs", help="Tasks this worker runs at the same time")] = 1,
) -> None:
	"""Run tasks from the ARQ queue on Redis (start as many as you like, on this or other hosts sharing --db)."""
	import os

	from .worker.arq_worker import run_worker

	try:
		url = redis or os.environ.get("AUTOTUNER_REDIS")
		if not url:
			raise AutotunerError("a worker needs a Redis URL", hint="pass --redis redis://host:6379/0")
		store = _store(db)
		console.print(f"worker: queue {url}, database {store.url.split('@')[-1]}")
		run_worker(store.url, url, max_jobs=jobs)
	except AutotunerError as exc:
		_fail(exc)


if __name__ == "__main__":
	app()
