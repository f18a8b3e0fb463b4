"""Commands on specs and engines: validate, explain, plan, manifest, engines."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import AutotunerError, SpecError, SpecProblem
from .common import DbOpt, _fail, _internal, _store, app, console, err


@app.command()
def validate(spec: Annotated[Path, typer.Argument(help="Task spec file to check")]) -> None:
	"""Check a spec: every problem with its field path and a fix hint; exit code 2 when invalid."""
	from ..services.validate import load_spec

	try:
		s = load_spec(spec)
	except SpecError as exc:
		err.print(f"[bold red]{spec}: {len(exc.problems)} problem(s)[/]")
		for p in exc.problems:
			err.print(f"  [bold]{p.path or '<spec>'}[/]: {p.message}", highlight=False)
			if p.hint:
				err.print(f"    [dim]hint: {p.hint}[/]", highlight=False)
		raise typer.Exit(2) from None
	from ..runner.budget import planned_experiments
	from ..space import build_task_space

	size = build_task_space(s.parameters, s.quant_config, s.parallel_config).size()
	planned = planned_experiments(s.optimization, s.deployment_mode, space_size=size)
	search = min(s.optimization.max_iterations, size) if size is not None else s.optimization.max_iterations
	console.print(
		f"[green]ok[/]: task '{s.task_name}', engine {s.base_runtime}, {s.deployment_mode} mode, "
		f"{'continuous' if size is None else size} configuration(s), at most {planned} experiments "
		f"({search} search + baseline and repeats)"
		if planned > search
		else f"[green]ok[/]: task '{s.task_name}', engine {s.base_runtime}, {s.deployment_mode} mode, "
		f"{'continuous' if size is None else size} configuration(s), at most {planned} experiments"
	)


@app.command()
def explain(
	spec: Annotated[Path, typer.Argument(help="Task spec file")],
	limit: Annotated[int, typer.Option("--limit", "-n", help="Show at most this many experiments")] = 50,
	format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
	"""Every experiment the spec implies: exact argv, world size, memory estimate, and why any would be refused.

	No engine is started and nothing is downloaded."""
	from ..explain import explain as explain_spec
	from ..services.validate import load_spec
	from .render import fmt_params

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
	console.print(
		f"[bold]{data['task_name']}[/]: {data['engine']} ({data['engine_version']}), {data['deployment_mode']} mode, "
		f"{size}, {gpus}"
	)
	if data["port"] is None and data["deployment_mode"] != "predict":
		console.print(
			"[dim]port 8000 shown: each experiment gets a free port when it launches (engine_port fixes it)[/]"
		)
	if (q := data.get("quality")) is not None:  # docs/quality.md
		limits = ", ".join(f"{k} {v:g}" for k, v in q["thresholds"].items()) or "no thresholds"
		console.print(
			f"quality guardrail: each experiment probed vs {q['reference']} ({q['probe']}); infeasible past: {limits}",
			highlight=False,
			markup=False,
		)
	for row in data["experiments"]:
		style = {"ok": "green", "skipped": "dim", "infeasible": "yellow"}[row["status"]]
		mem = row["memory"]
		memory = (
			f"{fmt_gib(mem['weights_gib'] + mem['kv_cache_gib'] + mem['overhead_gib'])} of {fmt_gib(mem['budget_gib'])} GiB/GPU"
			if mem
			else ("memory not estimated (no config.json)" if row["status"] == "ok" else "")
		)
		what = f"world size {row['world_size']}, {memory}" if row["world_size"] is not None else "not launched"
		label = "baseline" if row["origin"] == "baseline" else f"#{row['number']}"
		console.print(
			f"[{style}]{label} {row['status']}[/] {what}: {fmt_params(row['params'])}",
			highlight=False,
		)
		env = " ".join(f"{k}={shlex.quote(v)}" for k, v in (row.get("env") or {}).items())
		if row["argv"]:
			console.print(f"    {env + ' ' if env else ''}{shlex.join(row['argv'])}", highlight=False, soft_wrap=True)
		elif row["serve_command"]:
			console.print(
				f"    [dim]predicted, nothing launched; served by:[/] {shlex.join(row['serve_command'])}",
				highlight=False,
				soft_wrap=True,
			)
		if row["reason"]:
			console.print(f"    [dim]{row['reason']}[/]", highlight=False)
		for note in row["notes"]:
			console.print(f"    [dim]note: {note}[/]", highlight=False)
	if data["space_size"] is not None and data["space_size"] > data["shown"]:
		console.print(f"[dim]... {data['space_size'] - data['shown']} more (raise --limit)[/]")


def fmt_gib(v: float | None) -> str:
	return "?" if v is None else f"{v:.1f}"


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
	from ..runner.events import LogMessage
	from ..runner.plan import run_plan
	from ..services.validate import load_spec
	from .render import fmt, fmt_params

	try:
		if format not in ("table", "json"):
			raise AutotunerError(f"unknown format '{format}'", hint="use table or json")
		data = run_plan(
			_store(db),
			load_spec(spec),
			top,
			measure_mode=measure_mode,
			emit=lambda ev: err.print(f"[dim]{ev.message}[/]") if isinstance(ev, LogMessage) else None,
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


@app.command()
def manifest(
	target: Annotated[str, typer.Argument(help="Task name or id (with --best), or a spec file (its first config)")],
	best: Annotated[bool, typer.Option("--best", help="Serve the task's recommended (best) configuration")] = False,
	mode: Annotated[str | None, typer.Option("--mode", help="ome or kubernetes (default: the spec's mode)")] = None,
	benchmark: Annotated[bool, typer.Option("--benchmark", help="OME: add a BenchmarkJob (genai-bench)")] = False,
	db: DbOpt = None,
) -> None:
	"""Print the Kubernetes / OME manifests (YAML) that serve a configuration with every tuned flag."""
	from ..services.manifests import best_params, first_params, manifest_yaml

	try:
		if best:
			spec, params = best_params(_store(db), target)
		else:
			from ..services.validate import load_spec

			if not Path(target).is_file():
				raise SpecError(
					[SpecProblem("", f"no spec file '{target}'", "give a spec file, or a task with --best")], target
				)
			spec = load_spec(Path(target))
			params = first_params(spec)
		sys.stdout.write(manifest_yaml(spec, params, mode, benchmark=benchmark))
	except AutotunerError as exc:
		_fail(exc)


@app.command()
def engines(
	all_flags: Annotated[
		bool, typer.Option("--all", help="Every flag of the catalogue, not only the tuned ones")
	] = False,
) -> None:
	"""List the engines, their versions, commonly tuned flags, and quantization / parallelism presets."""
	from ..engines import ENGINES
	from ..engines.parallel import PARALLEL_FLAGS, PARALLEL_PRESETS
	from ..engines.quant import QUANT_PRESET_HELP

	for name, cls in ENGINES.items():
		eng = cls()
		console.print(f"[bold]{name}[/] — {eng.version}")
		generated = getattr(eng, "catalogue_version", None)
		source = f"generated from the engine's own parser ({generated})" if generated else "hand-made"
		console.print(f"  {len(eng.catalogue())} flags, {source}", highlight=False)
		check = getattr(eng, "drift", None)
		if check is not None and (warning := check()):
			console.print(f"  [yellow]warning:[/] {warning}", highlight=False)
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
