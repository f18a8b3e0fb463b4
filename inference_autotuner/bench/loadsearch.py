"""Max load under SLO: the highest load level (concurrency, or Poisson request rate) whose run meets every SLO.

The search is pure: it knows nothing of engines, only an async `probe(level)` that measures one load level (on the
engine already running: levels never restart it) and a `judge(result)` that says why a level fails (None: passed).

1. Doubling: probe `start`, 2*start, 4*start, ... (capped at `limit`) until a level fails or `limit` passes.
2. Bisection between the last passing level and the first failing one, until they are within `tolerance` (integer
   midpoints in concurrency mode, where a tolerance of 1 gives the exact answer).
3. At most `max_probes` levels in all; the best passing level found so far is the answer.

If `start` itself fails there is no passing level (best is None). Assumes latency grows with load (a level passes
when every lower one does); a non-monotone engine gets a passing level, not necessarily the highest one.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..scoring.slo import evaluate_slo
from ..spec.models import SLOSpec
from .metrics import RunMetrics

T = TypeVar("T")

MAX_ERROR_RATE = 0.05
"""A probe with more failed requests than this (fraction of those sent) fails its level."""


@dataclass
class Probe(Generic[T]):
	level: float
	result: T
	failure: str | None  # None: the level passed

	@property
	def passed(self) -> bool:
		return self.failure is None


@dataclass
class LoadSearchResult(Generic[T]):
	best: float | None  # highest passing level; None when none passed
	first_fail: float | None  # lowest failing level above best; None when the limit passed (or nothing failed)
	probes: list[Probe[T]] = field(default_factory=list)
	stopped: str = ""  # why the search ended

	@property
	def best_probe(self) -> Probe[T] | None:
		return next((p for p in self.probes if p.passed and p.level == self.best), None)


async def search_max_load(
	probe: Callable[[float], Awaitable[T]],
	judge: Callable[[T], str | None],
	*,
	start: float,
	limit: float,
	tolerance: float,
	max_probes: int,
	integer: bool,
	keep_going: Callable[[], bool] | None = None,
) -> LoadSearchResult[T]:
	"""Doubling then bisection (module docstring). `keep_going()` False ends the search between probes
	(cancel, deadline); the best level so far is kept."""
	if start <= 0 or limit < start or tolerance <= 0 or max_probes < 1:
		raise ValueError("need 0 < start <= limit, tolerance > 0 and max_probes >= 1")

	def norm(x: float) -> float:
		return float(max(1, math.floor(x))) if integer else round(x, 6)

	res: LoadSearchResult[T] = LoadSearchResult(best=None, first_fail=None)
	hi_limit = norm(limit)

	async def measure(level: float) -> bool:
		result = await probe(level)
		p = Probe(level, result, judge(result))
		res.probes.append(p)
		if p.passed:
			res.best = level
		else:
			res.first_fail = level
		return p.passed

	def can_probe() -> bool:
		if len(res.probes) >= max_probes:
			res.stopped = f"max_probes ({max_probes}) reached"
			return False
		if keep_going is not None and not keep_going():
			res.stopped = "cancelled or out of time"
			return False
		return True

	level = min(norm(start), hi_limit)
	while True:  # doubling
		if not can_probe():
			return res
		if not await measure(level):
			break
		if level >= hi_limit:
			res.stopped = f"the limit ({hi_limit:g}) met every SLO"
			return res
		level = min(norm(level * 2), hi_limit)
	if res.best is None:
		res.stopped = f"the lowest level ({level:g}) failed"
		return res
	while True:  # bisection between best (pass) and first_fail (fail)
		lo, hi = res.best, res.first_fail
		assert lo is not None and hi is not None
		mid = norm((lo + hi) / 2)
		if hi - lo <= tolerance or not lo < mid < hi:
			res.stopped = f"pass {lo:g} and fail {hi:g} are within the tolerance ({tolerance:g})"
			return res
		if not can_probe():
			return res
		await measure(mid)


def judge_run(run: RunMetrics, slo: SLOSpec | None, *, max_error_rate: float = MAX_ERROR_RATE) -> str | None:
	"""Why a load level fails, or None when its run passes: it completed requests, at most `max_error_rate` of them
	failed, it was not stopped early, the load generator kept its schedule, and no SLO (soft or hard) was violated.
	"""
	if run.completed <= 0:
		return "no request completed" + (f": {run.errors[0]}" if run.errors else "")
	if run.stopped_early:
		return run.stopped_early
	if run.error_rate > max_error_rate:
		return f"error rate {run.error_rate:.0%} > {max_error_rate:.0%}" + (
			f" ({run.errors[0][:120]})" if run.errors else ""
		)
	if not run.valid:
		return f"the load generator fell behind its schedule (max send lag {run.max_send_lag:.3g} s)"
	result = evaluate_slo(run, slo)
	if result.violations:
		v = result.violations[0]
		if v.metric == "attainment":
			return f"SLO attainment {v.actual:.1%} < {v.threshold:.0%} of requests within every threshold"
		return f"{v.metric} {v.actual:.4g} s > {v.threshold:.4g} s"
	return None
