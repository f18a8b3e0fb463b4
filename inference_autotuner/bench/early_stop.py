"""In-run early stopping: stop a load run as soon as its SLO is clearly lost (docs/search.md, "Early stopping").

The judged figures are the ones scoring/slo.py checks (the seed rule): the SLO's percentile of E2E latency for a
latency SLO, the MEAN TTFT and MEAN TPOT for the ttft / tpot SLOs, over the requests completed so far. After
`min_requests` completed requests, a run is stopped when one of them is past

- threshold * (1 + fail_ratio) * (1 + margin), for a hard_fail target, in a normal run (a soft SLO only costs a
  penalty: it is never "lost", so it never stops a run);
- threshold * (1 + margin), for any target, in a load-search probe (there any violation fails the level).

All figures are in seconds. The checker is fed one finished request at a time (the built-in client calls it), keeps
the E2E latencies sorted and running sums for the means, so each check costs O(completed requests) at most.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from ..spec.models import EarlyStopSpec, SLOSpec, SLOTarget
from .metrics import RequestRecord, RunMetrics, percentile

_PCT = {"p50": 50.0, "p90": 90.0, "p99": 99.0}


@dataclass(frozen=True)
class _Limit:
	metric: str  # latency.p90 | ttft | tpot
	threshold: float
	limit: float


@dataclass
class EarlyStopper:
	"""Judges a run's requests as they finish; `add(record)` returns why the run is lost, or None."""

	limits: list[_Limit]
	min_requests: int
	_e2e: list[float] = field(default_factory=list)
	_ttft_sum: float = 0.0
	_ttft_n: int = 0
	_tpot_sum: float = 0.0
	_tpot_n: int = 0
	reason: str | None = None

	def add(self, rec: RequestRecord) -> str | None:
		"""Record one finished request; the stop reason once the SLO is clearly lost (and from then on)."""
		if self.reason is not None or not rec.ok:
			return self.reason
		bisect.insort(self._e2e, rec.e2e or 0.0)
		ttft, tpot = rec.ttft, rec.tpot
		if ttft is not None:
			self._ttft_sum += ttft
			self._ttft_n += 1
		if tpot is not None:
			self._tpot_sum += tpot
			self._tpot_n += 1
		if len(self._e2e) < self.min_requests:
			return None
		for lim in self.limits:
			actual = self._figure(lim.metric)
			if actual is not None and actual > lim.limit:
				self.reason = (
					f"stopped early after {len(self._e2e)} completed requests: {lim.metric} {actual:.4g} s > "
					f"{lim.limit:.4g} s (threshold {lim.threshold:.4g} s with fail_ratio and margin)"
				)
				return self.reason
		return None

	def judge(self, run: RunMetrics) -> str | None:
		"""The same rule on a finished run's figures: for a load tool whose requests are not seen one by one (it ran
		in full, but a run clearly lost at this level means the higher levels are not worth running)."""
		if run.completed < self.min_requests:
			return None
		for lim in self.limits:
			if lim.metric.startswith("latency."):
				actual = getattr(run.e2e, lim.metric.split(".", 1)[1])
			else:
				actual = getattr(run, lim.metric).mean
			if actual is not None and actual > lim.limit:
				return (
					f"SLO clearly lost over {run.completed} requests: {lim.metric} {actual:.4g} s > {lim.limit:.4g} s "
					f"(threshold {lim.threshold:.4g} s with fail_ratio and margin)"
				)
		return None

	def _figure(self, metric: str) -> float | None:
		if metric.startswith("latency."):
			return percentile(self._e2e, _PCT[metric.split(".", 1)[1]])
		if metric == "ttft":
			return self._ttft_sum / self._ttft_n if self._ttft_n else None
		return self._tpot_sum / self._tpot_n if self._tpot_n else None


def _targets(slo: SLOSpec) -> list[tuple[str, SLOTarget]]:
	out: list[tuple[str, SLOTarget]] = []
	if slo.latency is not None:
		for name in _PCT:
			target = getattr(slo.latency, name)
			if target is not None:
				out.append((f"latency.{name}", target))
	if slo.ttft is not None:
		out.append(("ttft", slo.ttft))
	if slo.tpot is not None:
		out.append(("tpot", slo.tpot))
	return out


def make_stopper(slo: SLOSpec | None, spec: EarlyStopSpec, *, probe: bool = False) -> EarlyStopper | None:
	"""A fresh checker for one run, or None when nothing can stop it (disabled, no SLO, no hard_fail target).

	probe: a load-search probe, which fails on any SLO violation: every target counts, without its fail_ratio.
	"""
	if not spec.enabled or slo is None:
		return None
	limits: list[_Limit] = []
	for metric, t in _targets(slo):
		if probe:
			limits.append(_Limit(metric, t.threshold, t.threshold * (1 + spec.margin)))
		elif t.hard_fail:
			limits.append(_Limit(metric, t.threshold, t.threshold * (1 + t.fail_ratio) * (1 + spec.margin)))
	return EarlyStopper(limits, spec.min_requests) if limits else None


def planned_seconds(run: RunMetrics, *, max_requests: int, max_time: float) -> float:
	"""Estimated wall time the run would have taken had it not been stopped, seconds.

	Rate mode: max_requests / rate. Closed loop: its pace so far (duration per completed request) times
	max_requests. Both capped at max_time (max_time_per_iteration).
	"""
	if run.request_rate:
		return min(max_time, max_requests / run.request_rate)
	if run.completed <= 0:
		return min(max_time, run.duration)
	return min(max_time, run.duration * max_requests / run.completed)


def saved_seconds(run: RunMetrics, *, max_requests: int, max_time: float) -> float:
	"""Estimated time an early stop saved on this run: planned time minus the time it ran, seconds (>= 0)."""
	return max(0.0, planned_seconds(run, max_requests=max_requests, max_time=max_time) - run.duration)
