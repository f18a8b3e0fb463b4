"""Per-request records and the run-level Metrics model. All figures are derived from recorded timestamps.

Units: seconds for every time and latency, tokens/s for throughput, requests/s for request rates and goodput.
Definitions (docs/metrics.md):
- TTFT: request sent -> first content token received.
- ITL: gaps between consecutive content chunks of one request.
- TPOT: (E2E - TTFT) / (output_tokens - 1), per request with at least 2 output tokens.
- E2E latency: request sent -> last byte.
- output throughput: sum of output tokens / wall time of the run; total throughput adds input tokens.
- goodput: requests per second that met every given SLO (TTFT, TPOT, E2E).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, Field

from .engine_metrics import EngineMetrics
from .runaudit import RunAudit


class RequestRecord(BaseModel):
	"""One request as measured by the load generator. Times are time.perf_counter() seconds."""

	scheduled: float = Field(description="When the scheduler meant to send it")
	sent: float = Field(description="When the request was sent")
	first_token: float | None = Field(None, description="When the first content token arrived")
	end: float | None = Field(None, description="When the last byte arrived")
	chunk_times: list[float] = Field(default_factory=list, description="Arrival time of each content chunk")
	input_tokens: int = Field(0, description="Prompt tokens (server usage, else tokenizer count)")
	output_tokens: int = Field(0, description="Generated tokens (server usage, else tokenizer count)")
	error: str | None = Field(None, description="Error text; None when the request succeeded")
	cached_tokens: int | None = Field(
		None, description="Prompt tokens the server took from its prefix cache (usage.prompt_tokens_details)"
	)

	@property
	def ok(self) -> bool:
		return self.error is None and self.end is not None and self.first_token is not None

	@property
	def ttft(self) -> float | None:
		return None if self.first_token is None else self.first_token - self.sent

	@property
	def e2e(self) -> float | None:
		return None if self.end is None else self.end - self.sent

	@property
	def tpot(self) -> float | None:
		if not self.ok or self.output_tokens < 2:
			return None
		return (self.end - self.first_token) / (self.output_tokens - 1)  # type: ignore[operator]

	@property
	def itls(self) -> list[float]:
		return [b - a for a, b in zip(self.chunk_times, self.chunk_times[1:], strict=False)]


WARM_SHARE = 0.5
"""A run's first request with more than this share of its prompt from the prefix cache started on a warm cache."""


class Stats(BaseModel):
	"""Summary of one latency figure over a run, in seconds."""

	mean: float | None = None
	min: float | None = None
	max: float | None = None
	p50: float | None = None
	p90: float | None = None
	p95: float | None = None
	p99: float | None = None
	count: int = 0


def percentile(sorted_values: Sequence[float], q: float) -> float:
	"""Linear-interpolated percentile (numpy's default 'linear' method); q in [0, 100]."""
	if not sorted_values:
		raise ValueError("percentile of no values")
	if len(sorted_values) == 1:
		return float(sorted_values[0])
	rank = (len(sorted_values) - 1) * q / 100.0
	lo = math.floor(rank)
	hi = math.ceil(rank)
	frac = rank - lo
	return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac)


def summarize(values: Sequence[float]) -> Stats:
	vals = sorted(v for v in values if v is not None)
	if not vals:
		return Stats()
	return Stats(
		mean=sum(vals) / len(vals),
		min=vals[0],
		max=vals[-1],
		p50=percentile(vals, 50),
		p90=percentile(vals, 90),
		p95=percentile(vals, 95),
		p99=percentile(vals, 99),
		count=len(vals),
	)


class GoodputSLO(BaseModel):
	"""Per-request thresholds in seconds; a request is good when it meets every one that is set."""

	ttft: float | None = None
	tpot: float | None = None
	e2e: float | None = None

	def met_by(self, r: RequestRecord) -> bool:
		if not r.ok:
			return False
		if self.ttft is not None and (r.ttft or 0.0) > self.ttft:
			return False
		if self.tpot is not None and r.tpot is not None and r.tpot > self.tpot:
			return False
		return not (self.e2e is not None and (r.e2e or 0.0) > self.e2e)


class RunMetrics(BaseModel):
	"""Everything measured in one run: one traffic scenario at one concurrency (or request rate)."""

	scenario: str = Field(description="Traffic scenario, e.g. D(100,100)")
	concurrency: int | None = Field(None, description="Concurrent requests kept in flight")
	request_rate: float | None = Field(None, description="Poisson arrival rate, requests/s, when rate-driven")
	duration: float = Field(description="Wall time of the run, seconds (first send -> last completion)")
	total_requests: int
	completed: int
	errored: int
	error_rate: float
	errors: list[str] = Field(default_factory=list, description="Up to 5 distinct error texts")
	ttft: Stats
	tpot: Stats
	itl: Stats
	e2e: Stats
	input_tokens: int = Field(description="Sum of prompt tokens of completed requests")
	output_tokens: int = Field(description="Sum of generated tokens of completed requests")
	output_throughput: float = Field(description="Output tokens / duration, tokens/s")
	total_throughput: float = Field(description="(Input + output tokens) / duration, tokens/s")
	request_throughput: float = Field(description="Completed requests / duration, requests/s")
	goodput: float | None = Field(None, description="Requests/s that met every SLO (None when no SLO is set)")
	attainment: float | None = Field(
		None, description="Share of the run's requests (errors included) that met every SLO; None when no SLO is set"
	)
	max_send_lag: float = Field(0.0, description="Worst delay between scheduled and actual send, seconds")
	valid: bool = Field(True, description="False when the load generator fell behind its schedule")
	predicted: bool = Field(False, description="True when figures come from a performance model, not a measurement")
	stopped_early: str | None = Field(
		None, description="Why the run was stopped before its planned end (an SLO clearly lost); None when it ran out"
	)
	half_width: float | None = Field(
		None,
		description="Relative 95 % half-width of the objective's figure within this run (batch means, "
		"bench/precision.py); None when too few requests or the driver does not measure it",
	)
	precise_at: int | None = Field(
		None, description="Requests after which benchmark.precision was reached and no more were sent; None: ran out"
	)
	warmup_rounds: int | None = Field(None, description="Warm-up rounds sent before the run (not measured)")
	warmup_steady: bool | None = Field(
		None, description="Whether the warm-up ended at steady state (False: it ran out of rounds or time)"
	)
	engine_metrics: EngineMetrics | None = Field(
		None, description="The engine's own figures for the run (its Prometheus /metrics); None when it has none"
	)
	audit: RunAudit | None = Field(
		None, description="How far the figures can be trusted: client lag, host interference (bench/audit.py)"
	)
	workload: str | None = Field(
		None, description="The real workload the run sent (docs/workloads.md), e.g. dataset(chat.json); None: synthetic"
	)
	workload_sha256: str | None = Field(None, description="sha256 of the workload's file (dataset or trace)")
	speedup: float | None = Field(None, description="Trace replay: recorded times were divided by this")
	cached_share: float | None = Field(
		None,
		description="Share of the completed requests' prompt tokens the server served from its prefix cache (its "
		"usage.prompt_tokens_details.cached_tokens); None when the server does not report it",
	)
	cache_reset: bool | None = Field(
		None,
		description="Whether the engine's prefix cache was reset before the run (a workload run; bench/cache.py): "
		"False when the engine refused; None when not tried",
	)
	warm_start: bool | None = Field(
		None,
		description="True when the run's first request found most of its prompt in the prefix cache: the cache was "
		"warm from an earlier run (docs/workloads.md, cache hygiene); None when the server does not report it",
	)


def compute_run_metrics(
	records: Sequence[RequestRecord],
	*,
	scenario: str,
	concurrency: int | None = None,
	request_rate: float | None = None,
	goodput_slo: GoodputSLO | None = None,
	lag_tolerance: float = 0.05,
) -> RunMetrics:
	"""Derive every figure of a run from its request records."""
	done = [r for r in records if r.ok]
	failed = [r for r in records if not r.ok]
	if records:
		start = min(r.sent for r in records)
		end = max((r.end or r.sent) for r in records)
		duration = max(end - start, 1e-9)
	else:
		duration = 0.0
	inp = sum(r.input_tokens for r in done)
	out = sum(r.output_tokens for r in done)
	itls = [g for r in done for g in r.itls]
	errors: list[str] = []
	for r in failed:
		text = r.error or "incomplete"
		if text not in errors and len(errors) < 5:
			errors.append(text)
	lag = max((r.sent - r.scheduled for r in records), default=0.0)
	goodput = attainment = None
	if goodput_slo is not None and any(v is not None for v in (goodput_slo.ttft, goodput_slo.tpot, goodput_slo.e2e)):
		met = sum(1 for r in done if goodput_slo.met_by(r))
		goodput = met / duration if duration else 0.0
		attainment = met / len(records) if records else None

	def rate(n: float) -> float:
		return n / duration if duration else 0.0

	cached = [r for r in done if r.cached_tokens is not None]
	first = min(records, key=lambda r: r.sent) if records else None
	warm = None
	if first is not None and first.ok and first.cached_tokens is not None and first.input_tokens > 0:
		warm = first.cached_tokens > WARM_SHARE * first.input_tokens
	share = None
	if cached and sum(r.input_tokens for r in cached) > 0:
		share = sum(r.cached_tokens or 0 for r in cached) / sum(r.input_tokens for r in cached)
	return RunMetrics(
		attainment=attainment,
		cached_share=share,
		warm_start=warm,
		scenario=scenario,
		concurrency=concurrency,
		request_rate=request_rate,
		duration=duration,
		total_requests=len(records),
		completed=len(done),
		errored=len(failed),
		error_rate=(len(failed) / len(records)) if records else 0.0,
		errors=errors,
		ttft=summarize([r.ttft for r in done if r.ttft is not None]),
		tpot=summarize([t for r in done if (t := r.tpot) is not None]),
		itl=summarize(itls),
		e2e=summarize([r.e2e for r in done if r.e2e is not None]),
		input_tokens=inp,
		output_tokens=out,
		output_throughput=rate(out),
		total_throughput=rate(inp + out),
		request_throughput=rate(len(done)),
		goodput=goodput,
		max_send_lag=max(lag, 0.0),
		valid=lag <= lag_tolerance if request_rate is not None else True,
	)
