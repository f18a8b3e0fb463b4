"""A report as one self-contained HTML file (inline CSS and SVG plots, no script, no network) or as Markdown."""

from __future__ import annotations

import html
from typing import Any

from ..formatting import fmt, fmt_gain, fmt_params, fmt_stats
from ..quality.show import KEYS as QUALITY_KEYS
from ..quality.show import TITLES as QUALITY_TITLES
from ..quality.show import quality_line
from ..scoring.objectives import OBJECTIVE_INFO
from . import plots
from .collect import CONFIG_FIGURES, ConfigRow, ReportData

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:0}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}td,th{border:1px solid #ddd;padding:.25em .55em;
text-align:left;vertical-align:top}th{background:#f4f4f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f6f8;padding:.7em;overflow-x:auto;font-size:.82em;white-space:pre-wrap;word-break:break-all}
.muted{color:#777}.warn{background:#fff4e0;border-left:4px solid #e08a00;padding:.4em .8em}
.pred{background:#f0e8ff;border-left:4px solid #6a3ec8;padding:.4em .8em}.plot svg{max-width:100%;height:auto}
.big{font-size:1.15em}.scroll{overflow-x:auto}code{font-size:.9em}
"""


def _e(v: Any) -> str:
	return html.escape("" if v is None else str(v))


def _table(head: list[str], rows: list[list[Any]], num: set[int] | None = None) -> str:
	num = num or set()
	out = ["<div class=scroll><table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
	for r in rows:
		cells = "".join(f"<td{' class=num' if i in num else ''}>{_e(c)}</td>" for i, c in enumerate(r))
		out.append(f"<tr>{cells}</tr>")
	out.append("</table></div>")
	return "\n".join(out)


def _plot(svg: str | None, alt: str) -> str:
	if not svg:
		return f"<p class=muted>no data to plot ({_e(alt)})</p>"
	return f'<div class=plot role=img aria-label="{_e(alt)}">{svg}</div>'


def _answer_lines(d: ReportData) -> list[str]:
	"""The recommendation in sentences (plain text; both formats escape or quote it)."""
	s = d.summary
	rec = d.recommended
	if rec is None:
		return ["No successful experiment: no recommendation."]
	primary = s.objectives[0]
	lines = [f"Recommended configuration (experiment {rec['number']}): {fmt_params(rec['params']) or '(defaults)'}"]
	if s.recommended is not None and s.recommended.objective is not None:
		lines.append(f"{primary.name}: {fmt_stats(s.recommended.objective, primary.unit)}")
	else:
		lines.append(f"{primary.name}: {fmt(rec['objective_value'])} {primary.unit}")
	if s.ranking == "confidence_bound":
		lines.append(
			"Chosen by its mean among the configurations that met every SLO; ties (overlapping 95% intervals, or under "
			"the noise floor) go to the best pessimistic bound."
		)
	if s.baseline is not None:
		base = f"{fmt_stats(s.baseline.objective, primary.unit)}" if s.baseline.objective else "-"
		lines.append(f"Baseline (experiment {s.baseline.number}, the engine's defaults): {base}")
	if s.gain is not None:
		lines.append(f"Gain over the baseline: {fmt_gain(s.gain)} (+ = better)")
	if (quality := quality_line(rec.get("figures"))) is not None:  # the quality guardrail (docs/quality.md)
		lines.append(quality[0].upper() + quality[1:])
	lines += s.quality_rejections
	if d.gpu_hour_usd is not None:
		mine = next((c for c in d.configs if rec["number"] in c.numbers), None)
		if mine is not None and mine.cost_per_mtok is not None:
			lines.append(
				f"Cost: ${mine.cost_per_mtok:.4g} per million output tokens at ${d.gpu_hour_usd:g}/GPU-hour "
				f"x {mine.world_size} GPU(s)"
			)
		why = _why_not_raw_throughput(d, mine)
		if why:
			lines.append(why)
		cheapest = min((c for c in d.configs if c.cost_per_mtok is not None and c.n_ok), key=_cost, default=None)
		if cheapest is not None and mine is not None and cheapest.key != mine.key:
			lines.append(
				f"Cheapest measured configuration: experiment {cheapest.numbers[0]} at ${cheapest.cost_per_mtok:.4g} "
				f"per million output tokens ({fmt_params(cheapest.params)})"
			)
	return lines + list(s.notes)


def _why_not_raw_throughput(d: ReportData, mine: ConfigRow | None) -> str | None:
	"""When a price is known and the configuration with the most output tokens/s is not the recommended one: both
	side by side, per GPU and per million tokens (more GPUs raise raw throughput, not what a token costs)."""
	measured = [c for c in d.configs if c.n_ok and c.figures.get("output_throughput")]
	raw = max(measured, key=lambda c: c.figures["output_throughput"] or 0.0, default=None)
	if raw is None or mine is None or raw.key == mine.key or raw.cost_per_mtok is None or mine.cost_per_mtok is None:
		return None
	r_tps, m_tps = raw.figures["output_throughput"] or 0.0, mine.figures["output_throughput"] or 0.0
	return (
		f"Why not the highest raw throughput: experiment {raw.numbers[0]} makes {r_tps:.4g} output tok/s on "
		f"{raw.world_size} GPU(s) ({r_tps / raw.world_size:.4g} per GPU, ${raw.cost_per_mtok:.4g} per million output "
		f"tokens); the recommendation makes {m_tps:.4g} tok/s on {mine.world_size} GPU(s) "
		f"({m_tps / mine.world_size:.4g} per GPU, ${mine.cost_per_mtok:.4g} per million)."
	)


def _cost(c: ConfigRow) -> float:
	return c.cost_per_mtok if c.cost_per_mtok is not None else float("inf")


def _config_rows(d: ReportData) -> tuple[list[str], list[list[Any]]]:
	varying = _varying(d.configs)
	unit = d.summary.objectives[0].unit
	head = ["#", "origin", *varying, "n ok", "GPUs", f"objective ({unit})"]
	head += [f"{t} ({u})" for _k, t, _s, u in CONFIG_FIGURES]
	quality = [q for q in QUALITY_KEYS if any(q in c.quality for c in d.configs)]
	head += [f"quality: {QUALITY_TITLES[q]}" for q in quality]
	if d.gpu_hour_usd is not None:
		head.append("$/M out tok")
	rows = []
	for c in d.configs:
		row = [
			",".join(str(n) for n in c.numbers),
			c.origin,
			*[c.params.get(k, "") for k in varying],
			c.n_ok,
			c.world_size,
			fmt(c.objective),
		]
		row += [fmt(c.figures.get(k), s) for k, _t, s, _u in CONFIG_FIGURES]
		row += [fmt(c.quality.get(q)) for q in quality]
		if d.gpu_hour_usd is not None:
			row.append("-" if c.cost_per_mtok is None else f"{c.cost_per_mtok:.4g}")
		rows.append(row)
	return head, rows


def _varying(configs: list[ConfigRow]) -> list[str]:
	seen: dict[str, set[str]] = {}
	for c in configs:
		for k, v in c.params.items():
			seen.setdefault(k, set()).add(repr(v))
	return [k for k, v in seen.items() if len(v) > 1] or list(seen)


def _prov_rows(prov: dict[str, Any] | None) -> list[list[Any]]:
	if not prov:
		return []
	from ..provenance import flatten

	return [[k, v] for k, v in flatten(prov).items() if k not in ("tuner_argv",)]


def html_report(d: ReportData) -> str:
	t = d.task
	s = d.summary
	primary = s.objectives[0]
	parts = [
		"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
		'<meta name=viewport content="width=device-width,initial-scale=1">',
		f"<title>Tuning report: {_e(t['name'])}</title><style>{CSS}</style></head><body>",
		f"<h1>Tuning report: {_e(t['name'])}</h1>",
		f"<p class=muted>task {t['id']}, {_e(t['status'])}, {len(t['experiments'])} experiment(s), "
		f"{fmt(t.get('elapsed'))} s; generated {_e(d.generated_at)} by inference-autotuner {_e(d.tuner_version)}</p>",
	]
	for note in d.notes:
		parts.append(f"<p class=pred>{_e(note)}</p>")
	parts.append("<h2 id=question>The question</h2>")
	parts.append(_table(["", ""], [[k, v] for k, v in d.question]))
	parts.append("<h2 id=answer>The answer</h2>")
	for i, line in enumerate(_answer_lines(d)):
		parts.append(f"<p{' class=big' if i == 0 else ''}>{_e(line)}</p>")
	rec = d.recommended
	if rec is not None and rec.get("figures"):
		fig = rec["figures"]
		rows = [[title, fmt(fig.get(key), scale)] for key, title, scale in _figure_columns()]
		parts.append(_table(["figure (recommended experiment)", "value"], rows, {1}))
	parts.append("<h2 id=objective>Objective over experiments</h2>")
	base_value = s.baseline.objective.mean if s.baseline is not None and s.baseline.objective else None
	parts.append(
		_plot(
			plots.objective_over_experiments(
				t["experiments"], primary.direction, f"{primary.name} ({primary.unit})", base_value
			),
			"objective value of each experiment and the best so far",
		)
	)
	if s.multi_objective:
		parts.append("<h2 id=pareto>Pareto front</h2>")
		front = {n for e in t["experiments"] if e.get("pareto") for n in [e["number"]]}
		parts.append(
			_plot(
				plots.pareto(t["experiments"], [o.name for o in s.objectives], [o.unit for o in s.objectives], front),
				"Pareto front of the first two objectives",
			)
		)
		prow = [[p.number, fmt_params(p.params), p.n, *[fmt(v) for v in p.objective_values]] for p in s.pareto]
		parts.append(_table(["#", "parameters", "n", *[f"{o.name} ({o.unit})" for o in s.objectives]], prow))
	parts.append("<h2 id=configurations>Figures per configuration</h2>")
	parts.append("<p class=muted>Best-ranked first (mean score of the successful experiments, lower is better).</p>")
	parts.append(_plot(plots.per_configuration(d.configs), "TTFT, TPOT, throughput and goodput per configuration"))
	head, rows = _config_rows(d)
	parts.append(_table(head, rows, set(range(len(head) - 6, len(head)))))
	parts.append("<h2 id=importance>Parameter importance</h2>")
	if d.importance:
		parts.append(
			"<p class=muted>How much each parameter explains the top experiments of the primary objective, "
			f"{_e(primary.name)} (Optuna's PED-ANOVA evaluator on the task's study).</p>"
		)
		parts.append(_plot(plots.importance(d.importance), "parameter importance"))
	else:
		parts.append(f"<p class=muted>{_e(d.importance_note)}</p>")
	for name, shares, why in d.importance_more:
		parts.append(f"<h3>For {_e(name)}</h3>")
		if shares:
			parts.append(_plot(plots.importance(shares), f"parameter importance for {name}"))
		if why:
			parts.append(f"<p class=muted>{_e(why)}</p>")
	parts.append("<h2 id=failures>Failures by reason</h2>")
	if d.failures:
		parts.append(
			_table(
				["status", "reason", "count", "experiments"],
				[[st, r, len(ns), ", ".join(map(str, ns))] for st, r, ns in d.failures],
				{2},
			)
		)
	else:
		parts.append("<p>No experiment failed.</p>")
	parts.append("<h2 id=launch>How to run it</h2>")
	launch = d.launch
	if launch.get("command"):
		parts.append(f"<p>Engine command:</p><pre>{_e(launch['command'])}</pre>")
	if launch.get("docker"):
		parts.append(f"<p>Docker:</p><pre>{_e(launch['docker'])}</pre>")
	if launch.get("manifests"):
		parts.append(f"<p>Kubernetes manifests:</p><pre>{_e(launch['manifests'])}</pre>")
	for note in launch.get("notes") or []:
		parts.append(f"<p class=muted>{_e(note)}</p>")
	if not any(launch.get(k) for k in ("command", "docker", "manifests")):
		parts.append("<p class=muted>no recommended configuration to launch</p>")
	parts.append("<h2 id=provenance>Provenance</h2>")
	if d.provenance_differs:
		parts.append(
			"<p class=warn>Experiments of this task differ in: "
			+ _e(", ".join(d.provenance_differs))
			+ ": their figures may not be comparable.</p>"
		)
	prov = _prov_rows(d.provenance)
	parts.append(_table(["field", "value"], prov) if prov else "<p class=muted>no provenance recorded</p>")
	parts.append("<h2 id=experiments>Every experiment</h2>")
	parts.append(_experiments_table(d))
	parts.append("</body></html>\n")
	return "\n".join(parts)


def _figure_columns() -> list[tuple[str, str, float]]:
	from ..services.views import FIGURE_COLUMNS

	return list(FIGURE_COLUMNS)


def _experiments_rows(d: ReportData) -> tuple[list[str], list[list[Any]]]:
	varying = _varying(d.configs)
	head = ["#", "origin", "status", *varying, "objective", "score", "s"]
	rows = [
		[
			e["number"],
			e.get("origin") or "",
			e["status"],
			*[e["params"].get(k, "") for k in varying],
			fmt(e["objective_value"]),
			fmt(e["score"]),
			fmt(e.get("duration")),
		]
		for e in d.task["experiments"]
	]
	return head, rows


def _experiments_table(d: ReportData) -> str:
	head, rows = _experiments_rows(d)
	return _table(head, rows)


def _md_table(head: list[str], rows: list[list[Any]]) -> str:
	def cell(v: Any) -> str:
		return str("" if v is None else v).replace("|", "\\|").replace("\n", " ")

	out = ["| " + " | ".join(cell(h) or " " for h in head) + " |", "|" + "---|" * len(head)]
	out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
	return "\n".join(out)


def markdown_report(d: ReportData) -> str:
	t = d.task
	s = d.summary
	out = [
		f"# Tuning report: {t['name']}",
		"",
		f"task {t['id']}, {t['status']}, {len(t['experiments'])} experiment(s), {fmt(t.get('elapsed'))} s; "
		f"generated {d.generated_at} by inference-autotuner {d.tuner_version}. Plots are in the HTML report "
		"(`autotuner report TASK --format html`).",
		"",
	]
	out += [f"> **{n}**" for n in d.notes]
	out += ["## The question", "", _md_table(["", ""], [[k, v] for k, v in d.question]), "", "## The answer", ""]
	out += [f"- {line}" for line in _answer_lines(d)]
	if s.multi_objective and s.pareto:
		out += ["", "## Pareto front", ""]
		rows = [[p.number, fmt_params(p.params), p.n, *[fmt(v) for v in p.objective_values]] for p in s.pareto]
		out.append(_md_table(["#", "parameters", "n", *[f"{o.name} ({o.unit})" for o in s.objectives]], rows))
	head, rows = _config_rows(d)
	out += ["", "## Figures per configuration", "", _md_table(head, rows), "", "## Parameter importance", ""]
	if d.importance:
		out.append(_md_table(["parameter", "importance"], [[k, f"{v:.3f}"] for k, v in d.importance.items()]))
	else:
		out.append(f"_{d.importance_note}_")
	for name, shares, why in d.importance_more:
		out += ["", f"### For {name}", ""]
		if shares:
			out.append(_md_table(["parameter", "importance"], [[k, f"{v:.3f}"] for k, v in shares.items()]))
		if why:
			out.append(f"_{why}_")
	out += ["", "## Failures by reason", ""]
	if d.failures:
		rows = [[st, r, len(ns), ", ".join(map(str, ns))] for st, r, ns in d.failures]
		out.append(_md_table(["status", "reason", "count", "experiments"], rows))
	else:
		out.append("No experiment failed.")
	out += ["", "## How to run it", ""]
	launch = d.launch
	for key, title, lang in (
		("command", "Engine command", "sh"),
		("docker", "Docker", "sh"),
		("manifests", "Kubernetes", "yaml"),
	):
		if launch.get(key):
			out += [f"{title}:", "", f"```{lang}", str(launch[key]).rstrip(), "```", ""]
	out += ["## Provenance", ""]
	if d.provenance_differs:
		out.append(f"> **Experiments of this task differ in: {', '.join(d.provenance_differs)}**")
		out.append("")
	prov = _prov_rows(d.provenance)
	out.append(_md_table(["field", "value"], prov) if prov else "_no provenance recorded_")
	head, rows = _experiments_rows(d)
	out += ["", "## Every experiment", "", _md_table(head, rows), ""]
	return "\n".join(out)


def objective_unit(name: str) -> str:
	return OBJECTIVE_INFO[name].unit
