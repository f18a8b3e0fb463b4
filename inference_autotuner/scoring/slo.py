"""SLO checks of one run, with the seed's exponential penalty, and per-request goodput thresholds.

Seed rule (kept as it is):
- latency SLOs (p50/p90/p99) are checked against the run's E2E latency percentiles; the TTFT and TPOT SLOs are
  checked against the run's MEAN TTFT and MEAN TPOT.
- violation ratio r = (actual - threshold) / threshold; r <= 0 means the SLO is met and costs nothing.
- hard_fail and r > fail_ratio: a hard violation; the run is infeasible (and adds no penalty).
- otherwise the penalty is weight * exp(r / steepness).

All figures are in seconds.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

from inference_autotuner.bench.metrics import GoodputSLO, RunMetrics
from inference_autotuner.spec.models import SLOSpec, SLOTarget

# exp() overflows a float past ~709. A penalty of e^100 (~2.7e43) already ranks a configuration below every one
# that meets its SLOs, so the exponent is capped there: scores stay finite (storable, comparable) and the base
# figure still orders the hopeless configurations among themselves.
MAX_PENALTY_EXPONENT = 100.0

LATENCY_PERCENTILES = ("p50", "p90", "p99")


class SLOViolation(BaseModel):
	"""One SLO that a run did not meet."""

	metric: str = Field(
		description="Which SLO: latency.p50 / latency.p90 / latency.p99 (E2E), ttft or tpot (means), attainment"
	)
	actual: float = Field(description="Measured figure, seconds (attainment: a share, 0-1)")
	threshold: float = Field(description="SLO threshold, seconds (attainment: a share, 0-1)")
	ratio: float = Field(description="Violation ratio (actual - threshold) / threshold; > 0")
	penalty: float = Field(description="weight * exp(ratio / steepness); 0 for a hard violation")
	hard: bool = Field(description="True when hard_fail is set and ratio > fail_ratio: the run is infeasible")
	run: str | None = Field(default=None, description="Which run (scenario and load level) it happened in, when known")


class SLOResult(BaseModel):
	"""Outcome of checking every SLO of a spec against one run."""

	penalty_sum: float = Field(default=0.0, description="Sum of the soft penalties of this run")
	hard_violation: bool = Field(
		default=False, description="True when any hard_fail SLO was exceeded past its fail_ratio"
	)
	violations: list[SLOViolation] = Field(default_factory=list, description="Each SLO not met (met ones are omitted)")
	unevaluated: list[str] = Field(
		default_factory=list, description="SLOs that could not be checked because the run has no such figure"
	)


def _slo_checks(run: RunMetrics, slo: SLOSpec) -> list[tuple[str, SLOTarget, float | None]]:
	"""(metric name, target, actual figure) for every SLO the spec sets."""
	checks: list[tuple[str, SLOTarget, float | None]] = []
	if slo.latency is not None:
		for pct in LATENCY_PERCENTILES:
			target = getattr(slo.latency, pct)
			if target is not None:
				checks.append((f"latency.{pct}", target, getattr(run.e2e, pct)))
	if slo.ttft is not None:
		checks.append(("ttft", slo.ttft, run.ttft.mean))
	if slo.tpot is not None:
		checks.append(("tpot", slo.tpot, run.tpot.mean))
	return checks


def slo_penalty(ratio: float, weight: float, steepness: float) -> float:
	"""The seed's soft penalty weight * exp(ratio / steepness), 0 when ratio <= 0; the exponent is capped (see
	MAX_PENALTY_EXPONENT)."""
	if ratio <= 0:
		return 0.0
	return weight * math.exp(min(ratio / steepness, MAX_PENALTY_EXPONENT))


def evaluate_slo(run: RunMetrics, slo: SLOSpec | None) -> SLOResult:
	"""Check one run against every SLO of the spec (seed rule, see the module docstring).

	An SLO whose figure the run lacks (no completed request, or no request with 2+ output tokens for TPOT) is listed
	in `unevaluated` and costs nothing: the caller decides what a run without data means.
	"""
	result = SLOResult()
	if slo is None:
		return result
	if slo.attainment is not None:  # tail SLO: a share of requests within every threshold (a hard constraint)
		if run.attainment is None:
			result.unevaluated.append("attainment")
		elif run.attainment < slo.attainment:
			result.hard_violation = True
			ratio = (slo.attainment - run.attainment) / slo.attainment
			result.violations.append(
				SLOViolation(
					metric="attainment",
					actual=run.attainment,
					threshold=slo.attainment,
					ratio=ratio,
					penalty=0.0,
					hard=True,
				)
			)
	for metric, target, actual in _slo_checks(run, slo):
		if actual is None or not math.isfinite(actual):
			result.unevaluated.append(metric)
			continue
		ratio = (actual - target.threshold) / target.threshold
		if ratio <= 0:
			continue
		hard = target.hard_fail and ratio > target.fail_ratio
		penalty = 0.0 if hard else slo_penalty(ratio, target.weight, slo.steepness)
		result.violations.append(
			SLOViolation(
				metric=metric, actual=actual, threshold=target.threshold, ratio=ratio, penalty=penalty, hard=hard
			)
		)
		result.penalty_sum += penalty
		result.hard_violation = result.hard_violation or hard
	return result


def goodput_slo_from(slo: SLOSpec | None) -> GoodputSLO | None:
	"""Per-request thresholds for goodput (requests/s that met every SLO), from the task's SLO spec.

	- ttft / tpot: their thresholds, applied to each request (as `vllm bench --goodput` and DistServe do), although
	  the seed checks these SLOs on the run's means.
	- e2e: the LOOSEST (largest) of the given latency percentile thresholds. A percentile SLO speaks about the whole
	  distribution, not each request: with p50 <= 1 s and p99 <= 4 s, a 2 s request is allowed (it may be one of the
	  slower half), so judging each request by the p50 threshold would count up to half the requests of a
	  configuration that meets every target as bad. A single request above the largest threshold (usually p99's) is
	  certainly out of SLO, so that is the only per-request E2E limit one can draw from the spec.

	Returns None when there is no SLO or it sets no threshold (goodput is then not defined).
	"""
	if slo is None:
		return None
	e2e: float | None = None
	if slo.latency is not None:
		thresholds = [t.threshold for t in (slo.latency.p50, slo.latency.p90, slo.latency.p99) if t is not None]
		e2e = max(thresholds) if thresholds else None
	ttft = slo.ttft.threshold if slo.ttft is not None else None
	tpot = slo.tpot.threshold if slo.tpot is not None else None
	if ttft is None and tpot is None and e2e is None:
		return None
	return GoodputSLO(ttft=ttft, tpot=tpot, e2e=e2e)
