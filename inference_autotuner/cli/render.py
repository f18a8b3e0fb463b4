"""Rich rendering for the CLI: the live tuning view and result tables."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..formatting import fmt, fmt_gain, fmt_params, fmt_stats
from ..runner.events import (
	EngineReady,
	Event,
	ExperimentFinished,
	ExperimentStarted,
	LoadSearchFinished,
	LogMessage,
	RunProgress,
	RunStarted,
	RunStoppedEarly,
	TaskFinished,
	TaskStarted,
	parse_event,
)
from ..services.views import FIGURE_COLUMNS

__all__ = ["LiveView", "experiments_table", "fmt", "fmt_gain", "fmt_params", "fmt_stats"]

STATUS_STYLE = {
	"success": "green",
	"failed": "red",
	"infeasible": "yellow",
	"interrupted": "magenta",
	"running": "cyan",
	"skipped": "dim",
	"pruned": "blue",
}


def varying_keys(rows: list[dict[str, Any]]) -> set[str]:
	"""Parameter names whose value differs between experiments (the fixed ones only add noise to a table)."""
	seen: dict[str, set[str]] = {}
	for r in rows:
		for k, v in r["params"].items():
			seen.setdefault(k, set()).add(repr(v))
	varying = {k for k, vals in seen.items() if len(vals) > 1}
	return varying or set(seen)


def experiments_table(
	rows: list[dict[str, Any]],
	*,
	unit: str = "",
	best_number: int | None = None,
	width: int = 160,
	best_label: str = "best",
) -> Table:
	"""One row per experiment; with a narrow console only the key figures are shown."""
	keys = varying_keys(rows)
	figures = FIGURE_COLUMNS[:6] if width >= 150 else [c for c in FIGURE_COLUMNS if c[0] in ("mean_ttft", "mean_tpot")]
	table = Table(expand=False, show_lines=False, header_style="bold", pad_edge=False, caption_justify="left")
	table.add_column("#", justify="right", no_wrap=True)
	table.add_column("status", no_wrap=True)
	table.add_column("origin", no_wrap=True)
	table.add_column("parameters", overflow="fold")
	table.add_column("objective", justify="right")
	if unit:
		table.caption = f"objective in {unit}; times in ms unless noted; * = {best_label}"
	if any(r.get("pareto") for r in rows):
		note = "P = on the Pareto front"
		table.caption = f"{table.caption}; {note}" if table.caption else note
	for _key, title, _scale in figures:
		table.add_column(title, justify="right")
	from ..quality.show import has_quality, quality_cells

	quality = has_quality(rows)  # the quality guardrail's figures vs its reference (docs/quality.md)
	if quality:
		table.add_column("top-1", justify="right")
		table.add_column("KL", justify="right")
		note = "top-1 / KL = quality vs the reference configuration (top-1 agreement, KL in nats)"
		table.caption = f"{table.caption}\n{note}" if table.caption else note
	table.add_column("time s", justify="right")
	audits = [audit_mark(r) for r in rows]
	if any(audits):
		table.add_column("audit", no_wrap=True)
		note = "audit: suspect = the run's audit found interference (measured again), client-bound = not scored"
		table.caption = f"{table.caption}\n{note}" if table.caption else note
	if any(r.get("predicted") for r in rows):
		note = "(predicted) = figures from aiconfigurator's performance model, not measured"
		table.caption = f"{table.caption}\n{note}" if table.caption else note
	shared = len({r.get("worker") for r in rows}) > 1  # several workers measured (docs/distributed.md)
	if shared:
		table.add_column("worker", no_wrap=True)
	for r, audit in zip(rows, audits, strict=True):
		fig = r.get("figures") or {}
		style = STATUS_STYLE.get(r["status"], "")
		label = f"{r['status']} (predicted)" if r.get("predicted") else r["status"]
		mark = "*" if best_number is not None and r["number"] == best_number else ""
		mark += "P" if r.get("pareto") else ""
		table.add_row(
			f"{r['number']}{mark}",
			f"[{style}]{label}[/]",
			r.get("origin") or "-",
			fmt_params({k: v for k, v in r["params"].items() if k in keys}),
			fmt(r.get("objective_value")),
			*[fmt(fig.get(key), scale) for key, _t, scale in figures],
			*(quality_cells(fig) if quality else ()),
			fmt(r.get("duration")),
			*([f"[yellow]{audit}[/]" if audit else "ok"] if any(audits) else []),
			*([r.get("worker") or "-"] if shared else []),
		)
	return table


def audit_mark(row: dict[str, Any]) -> str:
	"""The worst audit mark over an experiment's runs ('' when every run was valid or none was audited)."""
	from ..bench.audit import badge

	marks = [badge(run.get("audit")) for run in row.get("runs") or [] if isinstance(run, dict)]
	marks = [m for m in marks if m]
	return max(marks, key=lambda m: ("client-bound" in m, "suspect" in m, m)) if marks else ""


def audit_lines(rows: list[dict[str, Any]]) -> list[str]:
	"""Per experiment with a suspect run: why, what the host did meanwhile, and where the engine and client ran."""
	from ..bench.audit import RunAudit

	lines: list[str] = []
	for r in rows:
		for run in r.get("runs") or []:
			data = run.get("audit") if isinstance(run, dict) else None
			if not data:
				continue
			a = RunAudit.model_validate(data)
			label = f"{run.get('scenario')} c={run.get('concurrency')}"
			if run.get("request_rate") is not None:
				label = f"{run.get('scenario')} rate={run.get('request_rate')}"
			host = ", ".join(
				t
				for t in (
					f"other processes {a.other_cpu:.2f} cores" if a.other_cpu is not None else "",
					f"engine {a.engine_cpu:.2f}" if a.engine_cpu is not None else "",
					f"client {a.client_cpu:.2f}" if a.client_cpu is not None else "",
					f"steal {a.steal:.0%}" if a.steal is not None else "",
					f"load {a.load_avg:.1f}" if a.load_avg is not None else "",
					f"send lag p99 {a.lag_p99 * 1e3:.0f} ms" if a.lag_p99 is not None else "",
				)
				if t
			)
			place = (
				f"engine on cores {a.engine_cores}, client on {a.client_cores}"
				if a.engine_cores is not None
				else "; ".join(a.notes)
			)
			if a.status == "valid" and a.attempts == 1:
				continue
			what = "client-bound" if a.client_bound else a.status
			tries = f" after {a.attempts} attempts" if a.attempts > 1 else ""
			why = "; ".join(a.reasons) or "valid"
			lines.append(f"#{r['number']} {label}: {what}{tries}: {why} ({host}){'; ' + place if place else ''}")
	return lines


def _most(figures: list[dict[str, Any]], key: str) -> float | None:
	values = [m[key] for m in figures if m.get(key) is not None]
	return max(values) if values else None


def engine_side_lines(rows: list[dict[str, Any]]) -> list[str]:
	"""One line per experiment whose runs carry the engine's own figures (its /metrics): KV cache, queue, preemptions,
	prefix-cache hits, each the worst (max) or the total over its runs."""
	out = []
	for e in rows:
		seen = [m for r in e.get("runs") or [] if isinstance(m := r.get("engine_metrics"), dict)]
		if not seen:
			continue

		kv, running, waiting = (_most(seen, k) for k in ("kv_cache_usage_max", "running_max", "waiting_max"))
		preempt = [m["preemptions"] for m in seen if m.get("preemptions") is not None]
		hits = [m["prefix_cache_hit_rate"] for m in seen if m.get("prefix_cache_hit_rate") is not None]
		parts = [
			f"KV cache max {kv:.0%}" if kv is not None else None,
			f"running max {running:g}" if running is not None else None,
			f"waiting max {waiting:g}" if waiting is not None else None,
			f"preemptions {sum(preempt):g}" if preempt else None,
			f"prefix-cache hits {sum(hits) / len(hits):.0%}" if hits else None,
		]
		text = ", ".join(p for p in parts if p)
		if text:
			out.append(f"#{e['number']} engine ({seen[0].get('engine')}): {text}")
	return out


class LiveView:
	"""Holds the state the live view shows; update() takes runner events."""

	def __init__(self, unit: str) -> None:
		self.unit = unit
		self.rows: list[dict[str, Any]] = []
		self.messages: list[str] = []
		self.progress = Progress(
			SpinnerColumn(),
			TextColumn("[bold]{task.description}"),
			BarColumn(),
			MofNCompleteColumn(),
			TimeElapsedColumn(),
		)
		self.trials = self.progress.add_task("experiments", total=1)
		self.run = self.progress.add_task("requests", total=1, visible=False)
		self.status = "starting"
		self.best_number: int | None = None
		self.best_value: float | None = None
		self.direction = "maximize"
		self.final = False  # once the task ends, `*` is the recommendation instead of the best single run

	def update(self, raw: Event) -> None:
		ev = parse_event(raw)
		if isinstance(ev, TaskStarted):
			total = ev.planned or ev.max_iterations  # baseline and repeats included
			self.progress.update(
				self.trials, total=total, completed=ev.done_all if ev.done_all is not None else ev.done
			)
		elif isinstance(ev, ExperimentStarted):
			self.status = f"experiment {ev.number}: starting engine ({fmt_params(ev.params)})"
			self.rows.append({"number": ev.number, "status": "running", "params": ev.params, "origin": ev.origin})
		elif isinstance(ev, EngineReady | RunStarted):
			self.status = ev.describe() or ""
			if isinstance(ev, RunStarted):
				self.progress.update(self.run, completed=0, total=1, visible=True, description=f"requests ({ev.level})")
		elif isinstance(ev, RunProgress):
			self.progress.update(self.run, completed=ev.done, total=max(ev.total, 1))
		elif isinstance(ev, ExperimentFinished):
			self._finished(ev)
		elif isinstance(ev, TaskFinished) and ev.best_number is not None:
			self.best_number, self.final = ev.best_number, True
		elif isinstance(ev, LogMessage | RunStoppedEarly | LoadSearchFinished):
			self.messages.append(ev.describe() or "")

	def _finished(self, ev: ExperimentFinished) -> None:
		for r in self.rows:
			if r["number"] == ev.number:
				r.update(
					status=ev.status,
					objective_value=ev.objective_value,
					figures=ev.figures,
					duration=ev.duration,
					failure_reason=ev.reason,
					predicted=ev.predicted,
				)
		if ev.status in ("success", "failed", "infeasible", "skipped", "pruned"):
			self.progress.advance(self.trials)
		self.progress.update(self.run, visible=False)
		if ev.status == "success" and ev.score is not None:
			if self.best_value is None or ev.score < self.best_value:
				self.best_value, self.best_number = ev.score, ev.number
		if ev.reason and ev.status != "success":
			self.messages.append(f"experiment {ev.number} {ev.status}: {ev.reason.splitlines()[0][:160]}")

	def __rich_console__(self, console: Any, options: Any) -> Any:
		yield self._group(options.max_width)

	def _group(self, width: int) -> Group:
		parts: list[Any] = [
			experiments_table(
				self.rows,
				unit=self.unit,
				best_number=self.best_number,
				width=width,
				best_label="recommended (autotuner best)" if self.final else "best so far",
			),
			self.progress,
			f"[dim]{self.status}[/]",
		]
		if self.messages:
			parts.append(Panel("\n".join(self.messages[-4:]), title="notes", border_style="dim"))
		return Group(*parts)
