"""Runs long enough, not longer (benchmark.precision) and warm-up that ends at steady state.

Precision: a run's requests are cut, in the order they finished, into batches of `batch` requests; each batch gives
the objective's figure (a rate over the batch's span of time for throughput and goodput, a mean or p90 over its
requests for latencies). The batch figures are treated as independent samples (the batch-means method): the run's
relative 95 % half-width is t(0.975, k-1) x sd / sqrt(k) / |mean| over its k batches. Once it is at most the target
(after at least MIN_BATCHES batches) the client sends no more requests and lets those in flight finish; the run
otherwise ends at its time or request cap as before. Each run records its half-width (RunMetrics.half_width).

Warm-up: rounds of warm-up requests (not measured); the warm-up ends after a round whose mean E2E latency is within
STEADY_TOLERANCE of the round before (steady state), or after MAX_WARM_ROUNDS rounds, or when a quarter of the
run's time is spent, whichever comes first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..scoring.noise import t95
from .metrics import GoodputSLO, RequestRecord, percentile

MIN_BATCHES = 6
"""Batches needed before a run may end for precision (5 degrees of freedom: t = 2.571)."""
MIN_BATCH = 4
STEADY_TOLERANCE = 0.25
MAX_WARM_ROUNDS = 3
WARM_TIME_SHARE = 0.25

# objective -> how one batch gives its figure: ("rate", what is counted) or ("latency", figure, statistic)
_RATE = {
	"maximize_throughput": "tokens",
	"minimize_cost_per_mtok": "output_tokens",
	"maximize_goodput": "good",
}
_LATENCY = {
	"minimize_latency": ("e2e", "mean"),
	"minimize_ttft": ("ttft", "mean"),
	"minimize_tpot": ("tpot", "mean"),
	"minimize_p90_ttft": ("ttft", "p90"),
	"minimize_p90_latency": ("e2e", "p90"),
	"minimize_p90_tpot": ("tpot", "p90"),
}


def supports(objective: str) -> bool:
	"""Whether a run can be judged precise for this objective (max load is a pass/fail search: it cannot)."""
	return objective in _RATE or objective in _LATENCY


def batch_size(concurrency: int | None) -> int:
	"""Requests per batch: one round of the closed loop (at least MIN_BATCH), MIN_BATCH * 2 for open-loop runs."""
	return max(concurrency or 2 * MIN_BATCH, MIN_BATCH)


def _latency(rec: RequestRecord, what: str) -> float | None:
	if not rec.ok:
		return None
	return rec.ttft if what == "ttft" else rec.tpot if what == "tpot" else rec.e2e


def batch_figure(
	batch: Sequence[RequestRecord], since: float, objective: str, goodput_slo: GoodputSLO | None = None
) -> float | None:
	"""One batch's figure; `since` is when the batch began (the previous batch's last end, or the run's start)."""
	if objective in _RATE:
		span = max((r.end or r.sent) for r in batch) - since
		if span <= 0:
			return None
		what = _RATE[objective]
		ok = [r for r in batch if r.ok]
		if what == "tokens":
			count = float(sum(r.input_tokens + r.output_tokens for r in ok))
		elif what == "output_tokens":
			count = float(sum(r.output_tokens for r in ok))
		else:
			count = float(sum(1 for r in ok if goodput_slo is None or goodput_slo.met_by(r)))
		return count / span
	what, stat = _LATENCY[objective]
	values = sorted(v for r in batch if (v := _latency(r, what)) is not None)
	if not values:
		return None
	return sum(values) / len(values) if stat == "mean" else percentile(values, 90)


def relative_half_width(figures: Sequence[float]) -> float | None:
	"""t(0.975, k-1) x sd / sqrt(k) / |mean| of k batch figures; None under MIN_BATCHES or with a zero mean."""
	k = len(figures)
	if k < MIN_BATCHES:
		return None
	mean = sum(figures) / k
	if mean == 0 or not math.isfinite(mean):
		return None
	sd = math.sqrt(sum((f - mean) ** 2 for f in figures) / (k - 1))
	return t95(k - 1) * sd / math.sqrt(k) / abs(mean)


@dataclass
class PrecisionTracker:
	"""Fed every measured request as it finishes; says when the objectives' figures are known well enough.

	objectives: every objective must reach `target` (a multi-objective task asks for all of them)."""

	objectives: tuple[str, ...]
	target: float | None
	batch: int
	goodput_slo: GoodputSLO | None = None
	_pending: list[RequestRecord] = field(default_factory=list)
	_figures: dict[str, list[float]] = field(default_factory=dict)
	_since: float | None = None  # the previous batch's last end; None before the first batch
	reached_at: int | None = None
	_count: int = 0

	def __post_init__(self) -> None:
		self.objectives = tuple(o for o in self.objectives if supports(o))
		self._figures = {o: [] for o in self.objectives}

	def add(self, rec: RequestRecord) -> bool:
		"""Take one finished request; True once the target is reached (and from then on)."""
		self._count += 1
		self._pending.append(rec)
		if len(self._pending) >= self.batch:
			batch, self._pending = self._pending, []
			since = self._since if self._since is not None else min(r.sent for r in batch)
			for o in self.objectives:
				fig = batch_figure(batch, since, o, self.goodput_slo)
				if fig is not None:
					self._figures[o].append(fig)
			self._since = max((r.end or r.sent) for r in batch)
			if self.reached_at is None and self.target is not None and self._precise():
				self.reached_at = self._count
		return self.reached_at is not None

	def _precise(self) -> bool:
		if not self.objectives:
			return False
		widths = [relative_half_width(self._figures[o]) for o in self.objectives]
		return all(w is not None and w <= (self.target or 0) for w in widths)

	def half_width(self) -> float | None:
		"""The widest relative half-width over the objectives now; None when there are too few batches."""
		widths = [relative_half_width(self._figures[o]) for o in self.objectives]
		if not widths or any(w is None for w in widths):
			return None
		return max(w for w in widths if w is not None)


def steady(previous: Sequence[RequestRecord], last: Sequence[RequestRecord]) -> bool:
	"""Whether the last warm-up round's mean E2E latency is within STEADY_TOLERANCE of the round before."""
	a = [r.e2e for r in previous if r.ok and r.e2e is not None]
	b = [r.e2e for r in last if r.ok and r.e2e is not None]
	if not a or not b:
		return False
	ma, mb = sum(a) / len(a), sum(b) / len(b)
	return ma > 0 and abs(mb - ma) / ma <= STEADY_TOLERANCE
