"""The report's plots, drawn server-side by matplotlib (Agg, object API: no pyplot state, no display) as inline SVG
with text kept as text, so a report opens anywhere without a network."""

from __future__ import annotations

import io
import math
from typing import Any

from .collect import CONFIG_FIGURES, ConfigRow

STATUS_COLORS = {
	"success": "#2a9d4b",
	"infeasible": "#e08a00",
	"failed": "#d33",
	"pruned": "#4a7bd0",
	"skipped": "#999",
	"interrupted": "#a4a",
	"running": "#0aa",
}
BEST = "#6a3ec8"


def _figure(width: float, height: float):  # type: ignore[no-untyped-def]
	from matplotlib.figure import Figure

	fig = Figure(figsize=(width, height), dpi=96)
	return fig


def _svg(fig: Any) -> str:
	import matplotlib

	buf = io.StringIO()
	with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "autotuner"}):
		fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
	text = buf.getvalue()
	return text[text.index("<svg") :]  # inline: no XML declaration or doctype


def _finite(v: Any) -> bool:
	return isinstance(v, int | float) and math.isfinite(v)


def objective_over_experiments(
	experiments: list[dict[str, Any]], direction: str, title: str, baseline: float | None
) -> str | None:
	"""Each experiment's objective value as a point (coloured by status) and the best so far as steps."""
	pts = [e for e in experiments if _finite(e.get("objective_value"))]
	if not pts:
		return None
	fig = _figure(8.5, 3.6)
	ax = fig.add_subplot()
	for status, color in STATUS_COLORS.items():
		xs = [e["number"] for e in pts if e["status"] == status]
		ys = [e["objective_value"] for e in pts if e["status"] == status]
		if xs:
			ax.scatter(xs, ys, s=28, color=color, label=status, zorder=3, marker="o" if status == "success" else "x")
	best: float | None = None
	steps_x, steps_y = [], []
	for e in sorted(experiments, key=lambda e: e["number"]):
		v = e.get("objective_value")
		if e["status"] == "success" and isinstance(v, int | float) and math.isfinite(v):
			if best is None or (v > best if direction == "maximize" else v < best):
				best = v
		if best is not None:
			steps_x.append(e["number"])
			steps_y.append(best)
	if steps_x:
		ax.step(steps_x, steps_y, where="post", color=BEST, linewidth=1.8, label="best so far", zorder=2)
	if baseline is not None:
		ax.axhline(baseline, color="#555", linestyle="--", linewidth=1, label="baseline")
	ax.set_xlabel("experiment")
	ax.set_ylabel(title)
	ax.grid(alpha=0.3)
	ax.legend(fontsize=8, loc="best")
	return _svg(fig)


def pareto(
	experiments: list[dict[str, Any]], names: list[str], units: list[str], front_numbers: set[int]
) -> str | None:
	"""The first two objectives of every successful experiment, the front's configurations joined."""
	pts = [
		e
		for e in experiments
		if e["status"] == "success"
		and isinstance(e.get("objective_values"), list)
		and len(e["objective_values"]) >= 2
		and all(_finite(v) for v in e["objective_values"][:2])
	]
	if not pts:
		return None
	fig = _figure(6.5, 4.2)
	ax = fig.add_subplot()
	rest = [e for e in pts if e["number"] not in front_numbers]
	front = sorted((e for e in pts if e["number"] in front_numbers), key=lambda e: e["objective_values"][0])
	ax.scatter([e["objective_values"][0] for e in rest], [e["objective_values"][1] for e in rest], s=22, color="#aaa")
	if front:
		xs = [e["objective_values"][0] for e in front]
		ys = [e["objective_values"][1] for e in front]
		ax.plot(xs, ys, color=BEST, linewidth=1.2, zorder=2)
		ax.scatter(xs, ys, s=40, color=BEST, zorder=3, label="Pareto front")
		for e in front:
			ax.annotate(f"#{e['number']}", (e["objective_values"][0], e["objective_values"][1]), fontsize=7)
		ax.legend(fontsize=8)
	ax.set_xlabel(f"{names[0]} ({units[0]})")
	ax.set_ylabel(f"{names[1]} ({units[1]})")
	ax.grid(alpha=0.3)
	return _svg(fig)


def per_configuration(configs: list[ConfigRow], limit: int = 12) -> str | None:
	"""TTFT, TPOT, output throughput, goodput (and cost per million output tokens) of the best-ranked
	configurations, each figure on its own axis."""
	rows = [c for c in configs if c.n_ok > 0][:limit]
	if not rows:
		return None
	panels = list(CONFIG_FIGURES)
	with_cost = any(c.cost_per_mtok is not None for c in rows)
	n = len(panels) + (1 if with_cost else 0)
	fig = _figure(2.4 * n, 0.32 * len(rows) + 1.4)
	labels = [f"#{c.numbers[0]}" for c in rows]
	ypos = list(range(len(rows)))
	for i, (key, title, scale, unit) in enumerate(panels):
		ax = fig.add_subplot(1, n, i + 1)
		vals = [(c.figures.get(key) or 0.0) * scale for c in rows]
		ax.barh(ypos, vals, color="#4a7bd0" if i < 2 else "#2a9d4b")
		ax.set_title(f"{title} ({unit})", fontsize=9)
		ax.set_yticks(ypos, labels if i == 0 else [""] * len(rows), fontsize=8)
		ax.invert_yaxis()
		ax.tick_params(axis="x", labelsize=7)
		ax.grid(axis="x", alpha=0.3)
	if with_cost:
		ax = fig.add_subplot(1, n, n)
		ax.barh(ypos, [c.cost_per_mtok or 0.0 for c in rows], color="#e08a00")
		ax.set_title("$ per M output tokens", fontsize=9)
		ax.set_yticks(ypos, [""] * len(rows))
		ax.invert_yaxis()
		ax.tick_params(axis="x", labelsize=7)
		ax.grid(axis="x", alpha=0.3)
	return _svg(fig)


def importance(values: dict[str, float]) -> str | None:
	if not values:
		return None
	items = sorted(values.items(), key=lambda kv: kv[1])
	fig = _figure(6.5, 0.35 * len(items) + 1.0)
	ax = fig.add_subplot()
	ax.barh([k for k, _ in items], [v for _, v in items], color=BEST)
	ax.set_xlabel("importance (PED-ANOVA, share of the total)")
	ax.tick_params(axis="y", labelsize=8)
	ax.grid(axis="x", alpha=0.3)
	return _svg(fig)
