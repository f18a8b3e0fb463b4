"""Sharing results: `report` (one self-contained HTML or Markdown file) and `compare` (two tasks side by side, with a
warning when their provenance differs)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import AutotunerError
from .common import DbOpt, TaskArg, _fail, _store, app, console, err


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


def _side(db: str | None, ref: str) -> dict[str, Any]:
	from ..services.summary import task_data

	data, summary, rec = task_data(_store(db), ref)
	provs = [e["provenance"] for e in data["experiments"] if e.get("provenance")]
	prov = (rec or {}).get("provenance") or (provs[0] if provs else None)
	return {"data": data, "summary": summary, "rec": rec, "prov": prov, "has_prov": bool(provs)}


@app.command()
def compare(
	task_a: Annotated[str, typer.Argument(help="First task (name or id)")],
	task_b: Annotated[str, typer.Argument(help="Second task (name or id)")],
	db: DbOpt = None,
) -> None:
	"""Two tasks' recommendations side by side, with a warning for every provenance field their results differ in
	(engine version, GPUs, driver, host, tools, workload, tuner revision): figures from different setups may not be
	comparable."""
	from rich.table import Table

	from ..provenance import compare as compare_provenance
	from ..services.views import FIGURE_COLUMNS
	from .render import fmt, fmt_params, fmt_stats

	try:
		a, b = _side(db, task_a), _side(db, task_b)
		table = Table(show_header=True, header_style="bold")
		table.add_column("")
		for side in (a, b):
			table.add_column(f"{side['data']['name']} (#{side['data']['id']})")

		def row(title: str, f: Any) -> None:
			table.add_row(title, *[str(f(side)) for side in (a, b)])

		row("engine", lambda s: f"{s['data']['engine']} ({s['data']['deployment_mode']})")
		row("objective", lambda s: s["data"]["objective"])
		row("status", lambda s: f"{s['data']['status']}, {len(s['data']['experiments'])} experiment(s)")
		row("recommended", lambda s: f"#{s['rec']['number']} {fmt_params(s['rec']['params'])}" if s["rec"] else "-")
		row(
			"objective value",
			lambda s: (
				fmt_stats(s["summary"].recommended.objective, s["data"]["objective_unit"])
				if s["summary"].recommended is not None
				else "-"
			),
		)
		for key, title, scale in FIGURE_COLUMNS:
			row(title, lambda s, k=key, sc=scale: fmt(((s["rec"] or {}).get("figures") or {}).get(k), sc))
		row("predicted", lambda s: "yes" if s["data"]["predicted"] else "no")
		console.print(table)
		if a["data"]["objective"] != b["data"]["objective"]:
			err.print(
				"[yellow]warning:[/] the tasks optimise different objectives; their objective values differ in kind"
			)
		if not (a["has_prov"] and b["has_prov"]):
			missing = [s["data"]["name"] for s in (a, b) if not s["has_prov"]]
			err.print(f"[yellow]warning:[/] no provenance recorded for {', '.join(missing)} (made before it was kept)")
		diffs = compare_provenance(a["prov"], b["prov"])
		for field, va, vb in diffs:
			err.print(
				f"[yellow]warning:[/] provenance differs: {field}: {va!s} vs {vb!s}", highlight=False, soft_wrap=True
			)
		if not diffs and a["has_prov"] and b["has_prov"]:
			console.print("[green]same provenance[/] (engine, tools, host, GPUs, workload, tuner revision)")
	except AutotunerError as exc:
		_fail(exc)
