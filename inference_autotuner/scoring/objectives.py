"""Score one experiment (all its runs) for an objective, with the seed's SLO penalties and aggregation.

Scores are lower-is-better, so every search strategy minimises. Units: seconds for latencies, tokens/s for token
throughput, requests/s for request throughput and goodput; "per GPU" divides by the GPUs the configuration uses
(its world size), not the GPUs on the machine.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Literal, NamedTuple

from pydantic import BaseModel, Field

from inference_autotuner.bench.metrics import RunMetrics
from inference_autotuner.scoring.slo import SLOResult, SLOViolation, evaluate_slo, goodput_slo_from
from inference_autotuner.spec.models import OBJECTIVES, SLOSpec

Direction = Literal["maximize", "minimize"]


class ObjectiveInfo(NamedTuple):
	"""How to read an objective: its direction, the figure (key of ScoreResult.figures) it uses, and its unit."""

	direction: Direction
	figure: str
	unit: str


OBJECTIVE_INFO: dict[str, ObjectiveInfo] = {
	"minimize_latency": ObjectiveInfo("minimize", "mean_e2e_latency", "s"),
	"maximize_throughput": ObjectiveInfo("maximize", "per_gpu_throughput", "tokens/s/GPU"),
	"minimize_ttft": ObjectiveInfo("minimize", "mean_ttft", "s"),
	"minimize_tpot": ObjectiveInfo("minimize", "mean_tpot", "s"),
	"maximize_goodput": ObjectiveInfo("maximize", "per_gpu_goodput", "req/s/GPU"),
	"minimize_p90_ttft": ObjectiveInfo("minimize", "p90_ttft", "s"),
	"minimize_p90_latency": ObjectiveInfo("minimize", "p90_e2e_latency", "s"),
	"minimize_p90_tpot": ObjectiveInfo("minimize", "p90_tpot", "s"),
	# benchmark.load_search: the highest load level that met every SLO (concurrency, or req/s in rate mode)
	"maximize_max_load": ObjectiveInfo("maximize", "max_load", "load"),
	# cost.gpu_hour_usd x world size over the output tokens an hour at the measured output throughput
	"minimize_cost_per_mtok": ObjectiveInfo("minimize", "cost_per_mtok", "$/Mtok"),
	# the quality guardrail's figures (quality/guard.py), against the reference configuration
	"maximize_quality_top1": ObjectiveInfo("maximize", "quality_top1", "share"),
	"minimize_quality_kl": ObjectiveInfo("minimize", "quality_kl", "nats"),
	"maximize_quality_accuracy": ObjectiveInfo("maximize", "quality_accuracy", "share"),
}
assert set(OBJECTIVE_INFO) == set(OBJECTIVES), "every objective of the spec needs an entry in OBJECTIVE_INFO"

# Figures measured per run and averaged over the kept runs.
RUN_FIGURE_KEYS = (
	"mean_e2e_latency",
	"p50_e2e_latency",
	"p90_e2e_latency",
	"p99_e2e_latency",
	"mean_ttft",
	"p50_ttft",
	"p90_ttft",
	"p99_ttft",
	"mean_tpot",
	"p90_tpot",
	"p99_tpot",
	"mean_itl",
	"output_throughput",
	"total_throughput",
	"request_throughput",
	"goodput",
)
# Figures of the quality guardrail (quality/guard.py), in an experiment's figures when it was probed.
QUALITY_FIGURE_KEYS = ("quality_top1", "quality_kl", "quality_exact", "quality_accuracy", "quality_probe_seconds")
# Every key of ScoreResult.figures as scoring gives it (the quality guardrail adds QUALITY_FIGURE_KEYS).
FIGURE_KEYS = RUN_FIGURE_KEYS + (
	"per_gpu_throughput",
	"per_gpu_output_throughput",
	"per_gpu_goodput",
	"error_rate",
	"max_load",  # benchmark.load_search only: the highest load level that met every SLO
	"cost_per_mtok",  # with cost.gpu_hour_usd only: US dollars per million output tokens (cost_per_mtok())
)


class ScoreResult(BaseModel):
	"""The score of one experiment and the aggregated figures it came from."""

	objective: str = Field(description="The objective scored, one of OBJECTIVES")
	direction: Direction = Field(description="Whether the objective figure is maximised or minimised")
	unit: str = Field(description="Unit of objective_value")
	score: float | None = Field(
		description="Lower is better: minimize -> value * (1 + penalty); maximize -> -value / (1 + penalty). "
		"None when infeasible"
	)
	objective_value: float | None = Field(
		description="The objective's figure in natural units (s, tokens/s/GPU, req/s/GPU), without penalty; "
		"given for display even when infeasible"
	)
	feasible: bool
	reason: str | None = Field(default=None, description="Why the experiment is infeasible")
	penalty: float = Field(default=0.0, description="Mean of the kept runs' SLO penalty sums")
	violations: list[SLOViolation] = Field(
		default_factory=list, description="SLO violations of every run with data (dropped runs included), by run"
	)
	figures: dict[str, float | None] = Field(
		default_factory=dict, description="Aggregated figures (FIGURE_KEYS); None where no kept run measured it"
	)
	runs_kept: int = Field(default=0, description="Runs the figures and penalty come from")
	runs_dropped: int = Field(default=0, description="Runs left out: no completed request, or a hard SLO violation")
	notes: list[str] = Field(default_factory=list, description="Why runs were dropped, and other warnings")


def cost_per_mtok(output_throughput: float | None, world_size: int, gpu_hour_usd: float | None) -> float | None:
	"""US dollars per million output tokens: what the configuration's GPUs (world size x the hourly price of one)
	cost for the time they take to produce a million output tokens at the measured output throughput (tokens/s).
	None without a price or a positive throughput."""
	if gpu_hour_usd is None or output_throughput is None or not math.isfinite(output_throughput):
		return None
	if output_throughput <= 0:
		return None
	return gpu_hour_usd * max(world_size, 1) / 3600.0 / output_throughput * 1e6


def run_label(run: RunMetrics) -> str:
	"""Short name of a run: scenario and load level, e.g. 'D(100,100) c=4'."""
	if run.concurrency is not None:
		return f"{run.scenario} c={run.concurrency}"
	if run.request_rate is not None:
		return f"{run.scenario} rate={run.request_rate:g}/s"
	return run.scenario


def run_figures(run: RunMetrics, *, goodput_is_request_rate: bool = False) -> dict[str, float | None]:
	"""The figures of one run (RUN_FIGURE_KEYS); all None when the run completed no request.

	goodput_is_request_rate: when no SLO sets a threshold, every completed request meets "every given SLO", so
	goodput equals the request throughput; used when the run carries no goodput of its own.
	"""
	if run.completed <= 0:
		return dict.fromkeys(RUN_FIGURE_KEYS, None)
	goodput = run.goodput
	if goodput is None and goodput_is_request_rate:
		goodput = run.request_throughput
	return {
		"mean_e2e_latency": run.e2e.mean,
		"p50_e2e_latency": run.e2e.p50,
		"p90_e2e_latency": run.e2e.p90,
		"p99_e2e_latency": run.e2e.p99,
		"mean_ttft": run.ttft.mean,
		"p50_ttft": run.ttft.p50,
		"p90_ttft": run.ttft.p90,
		"p99_ttft": run.ttft.p99,
		"mean_tpot": run.tpot.mean,
		"p90_tpot": run.tpot.p90,
		"p99_tpot": run.tpot.p99,
		"mean_itl": run.itl.mean,
		"output_throughput": run.output_throughput,
		"total_throughput": run.total_throughput,
		"request_throughput": run.request_throughput,
		"goodput": goodput,
	}


def _mean(values: Sequence[float | None]) -> float | None:
	vals = [v for v in values if v is not None and math.isfinite(v)]
	return sum(vals) / len(vals) if vals else None


def aggregate_figures(
	runs: Sequence[RunMetrics], all_runs: Sequence[RunMetrics], world_size: int, *, goodput_is_request_rate: bool
) -> dict[str, float | None]:
	"""Average each run figure over `runs` (skipping runs that lack it), add per-GPU figures and the error rate.

	error_rate is errored / sent requests over `all_runs`, dropped ones included, so that failures are never hidden
	by dropping the runs they happened in.
	"""
	per_run = [run_figures(r, goodput_is_request_rate=goodput_is_request_rate) for r in runs]
	figures: dict[str, float | None] = {key: _mean([f[key] for f in per_run]) for key in RUN_FIGURE_KEYS}

	def per_gpu(key: str) -> float | None:
		value = figures[key]
		return None if value is None else value / world_size

	figures["per_gpu_throughput"] = per_gpu("total_throughput")
	figures["per_gpu_output_throughput"] = per_gpu("output_throughput")
	figures["per_gpu_goodput"] = per_gpu("goodput")
	sent = sum(r.total_requests for r in all_runs)
	figures["error_rate"] = sum(r.errored for r in all_runs) / sent if sent else None
	figures["max_load"] = None
	figures["cost_per_mtok"] = None
	return figures


def _describe(v: SLOViolation) -> str:
	return f"{v.metric} {v.actual:.4g} s > {v.threshold:.4g} s (+{v.ratio:.0%})"


def apply_penalty(value: float, penalty: float, direction: Direction) -> float:
	"""Lower-is-better score from an objective value and an SLO penalty (>= 0).

	minimize: value * (1 + penalty), the seed's formula.
	maximize: -value / (1 + penalty). The seed negates a maximised figure to make it lower-is-better; applying its
	formula to that negative base, -value * (1 + penalty), would make a penalised throughput look BETTER (more
	negative). Dividing instead keeps the score in [-value, 0], makes it strictly worse as the penalty grows, and
	costs the same factor (1 + penalty) as for a minimised figure. (The seed's code added penalty * |base|, giving
	-value * (1 - penalty): once penalty > 1 that turns positive, and from then on a HIGHER throughput gives a
	worse score; dividing has neither defect.)
	"""
	factor = 1.0 + max(penalty, 0.0)
	score = value * factor if direction == "minimize" else -value / factor
	if not math.isfinite(score):
		score = math.copysign(sys.float_info.max, score)
	return score + 0.0  # turns -0.0 into 0.0


def score_experiment(
	runs: list[RunMetrics],
	objective: str,
	slo: SLOSpec | None,
	world_size: int = 1,
	*,
	max_load: float | None = None,
	gpu_hour_usd: float | None = None,
) -> ScoreResult:
	"""Score one experiment from its runs (one per concurrency level / request rate and traffic scenario).

	Seed aggregation:
	1. Runs that completed no request have no figures; they are dropped (and noted). None with data -> infeasible.
	2. Each run is checked against the SLOs on its own figures (evaluate_slo).
	3. Runs with a hard SLO violation are dropped, unless every run has one: then the experiment is infeasible.
	4. Each figure is averaged over the kept runs; the objective's figure is the base (objective_value).
	5. penalty = MEAN of the kept runs' penalty sums. The mean (not the sum) keeps the penalty on one scale whatever
	   the number of load levels and scenarios, as the averaged base figure is; and since each run is judged on its
	   own figures, a violation at one load level cannot be hidden by slack at another (the seed judged averaged
	   figures, where it could).
	6. score = apply_penalty(base, penalty, direction): lower is better; maximised figures are negated and divided by
	   (1 + penalty) so that a penalty always worsens the score (see apply_penalty).

	maximize_throughput uses the total (input + output) token throughput per GPU, maximize_goodput the goodput per
	GPU: the run figure divided by world_size, the number of GPUs this configuration uses. With gpu_hour_usd (the
	spec's cost) the figures carry cost_per_mtok, the objective of minimize_cost_per_mtok.
	"""
	if objective not in OBJECTIVE_INFO:
		raise ValueError(f"unknown objective {objective!r}; valid: {', '.join(OBJECTIVE_INFO)}")
	if world_size < 1:
		raise ValueError(f"world_size must be >= 1 (GPUs the configuration uses), got {world_size}")
	info = OBJECTIVE_INFO[objective]
	goodput_is_request_rate = goodput_slo_from(slo) is None
	notes: list[str] = []

	def result(
		*,
		value: float | None,
		figures: dict[str, float | None],
		reason: str | None = None,
		penalty: float = 0.0,
		violations: list[SLOViolation] | None = None,
		runs_kept: int = 0,
	) -> ScoreResult:
		feasible = reason is None and value is not None
		return ScoreResult(
			objective=objective,
			direction=info.direction,
			unit=info.unit,
			score=apply_penalty(value, penalty, info.direction) if feasible and value is not None else None,
			objective_value=value,
			feasible=feasible,
			reason=reason,
			penalty=penalty,
			violations=violations or [],
			figures=figures,
			runs_kept=runs_kept,
			runs_dropped=len(runs) - runs_kept,
			notes=notes,
		)

	data_runs = [r for r in runs if r.completed > 0]
	for r in runs:
		if r.completed <= 0:
			errors = "; ".join(r.errors) or "no error recorded"
			notes.append(f"{run_label(r)}: dropped, no completed request of {r.total_requests} ({errors})")
		elif not r.valid:
			notes.append(
				f"{run_label(r)}: the load generator fell behind its schedule (max send lag {r.max_send_lag:.3g} s); "
				"its figures may understate the load"
			)
	if not data_runs:
		reason = "no run was measured" if not runs else "no run completed any request"
		first_errors = [e for r in runs for e in r.errors][:3]
		if first_errors:
			reason += ": " + "; ".join(first_errors)
		empty = aggregate_figures([], runs, world_size, goodput_is_request_rate=goodput_is_request_rate)
		return result(value=None, figures=empty, reason=reason)

	evaluated: list[tuple[RunMetrics, SLOResult]] = [(r, evaluate_slo(r, slo)) for r in data_runs]
	violations = [v.model_copy(update={"run": run_label(r)}) for r, res in evaluated for v in res.violations]
	kept = [(r, res) for r, res in evaluated if not res.hard_violation]
	for r, res in evaluated:
		if res.hard_violation:
			hard = "; ".join(_describe(v) for v in res.violations if v.hard)
			notes.append(f"{run_label(r)}: dropped, hard SLO violation: {hard}")

	if not kept:
		# Figures of every run with data, for display only.
		run0, res0 = evaluated[0]
		first_hard = f"{run_label(run0)}: " + "; ".join(_describe(v) for v in res0.violations if v.hard)
		figures = aggregate_figures(data_runs, runs, world_size, goodput_is_request_rate=goodput_is_request_rate)
		return result(
			value=figures[info.figure],
			figures=figures,
			reason=f"every run with data ({len(data_runs)}) violated a hard SLO, e.g. {first_hard}",
			violations=violations,
		)

	kept_runs = [r for r, _ in kept]
	figures = aggregate_figures(kept_runs, runs, world_size, goodput_is_request_rate=goodput_is_request_rate)
	figures["max_load"] = max_load
	figures["cost_per_mtok"] = cost_per_mtok(figures["output_throughput"], world_size, gpu_hour_usd)
	penalty = sum(res.penalty_sum for _, res in kept) / len(kept)
	value = figures[info.figure]
	missing: str | None = None
	if value is None:
		if info.figure == "cost_per_mtok":
			missing = "no cost: set cost.gpu_hour_usd in the spec (and the runs must produce output tokens)"
		elif info.figure == "per_gpu_goodput":
			missing = "goodput was not measured: the runs were benchmarked without the SLO's per-request thresholds"
		else:
			missing = f"no kept run measured {info.figure} (e.g. TPOT needs requests with 2+ output tokens)"
	return result(
		value=value, figures=figures, reason=missing, penalty=penalty, violations=violations, runs_kept=len(kept)
	)
