"""Engine-side figures: the engine's own Prometheus /metrics, read before, during (1 Hz) and after each load run.

What the client cannot see: how full the KV cache got, how many requests the engine held running and waiting, how
many it preempted, how often its prefix cache hit. Each engine names these differently; MAPS maps them to one
EngineMetrics (gauges: mean and max over the samples; counters: the change over the run).

- vLLM (`vllm:` metrics): kv_cache_usage_perc, num_requests_running / _waiting, num_preemptions_total,
  prefix_cache_hits_total / prefix_cache_queries_total, prompt_tokens_total, generation_tokens_total.
- llama.cpp (`llamacpp:` metrics, always on here): kv_cache_usage_ratio (older servers), requests_processing /
  requests_deferred, prompt_tokens_cached_total / (that + prompt_tokens_total: the tokens it processed) as the
  prefix-cache hit rate, tokens_predicted_total.
- SGLang (`sglang:` metrics, with --enable-metrics; names read from sglang 0.5.23): token_usage (KV pool use),
  num_running_reqs / num_queue_reqs, num_retracted_requests_total (its preemptions), cached_tokens_total /
  prompt_tokens_total (else its cache_hit_rate gauge), generation_tokens_total.

A figure the engine does not expose stays None; an engine that answers no /metrics gives no EngineMetrics at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
from dataclasses import dataclass, field

import httpx
from pydantic import BaseModel, Field

Samples = dict[str, float]  # metric name -> value summed over its label sets


class EngineMetrics(BaseModel):
	"""The engine's own view of one load run (from its Prometheus /metrics)."""

	engine: str = Field(description="Which engine's metric names were read (vllm, llamacpp, sglang)")
	samples: int = Field(0, description="Scrapes during the run (about one a second), before and after included")
	kv_cache_usage_mean: float | None = Field(None, description="Mean KV cache use over the run, fraction 0-1")
	kv_cache_usage_max: float | None = Field(None, description="Highest KV cache use seen, fraction 0-1")
	running_mean: float | None = Field(None, description="Mean requests the engine was running")
	running_max: float | None = Field(None, description="Most requests running at once")
	waiting_mean: float | None = Field(None, description="Mean requests queued in the engine")
	waiting_max: float | None = Field(None, description="Most requests queued at once")
	preemptions: float | None = Field(None, description="Requests preempted (vLLM) or retracted (SGLang) in the run")
	prefix_cache_hit_rate: float | None = Field(
		None, description="Prefix-cache hits / queries in the run (tokens, vLLM); SGLang's own rate, mean"
	)
	prompt_tokens: float | None = Field(None, description="Prompt tokens the engine counted in the run")
	generation_tokens: float | None = Field(None, description="Tokens the engine generated in the run")


@dataclass(frozen=True)
class MetricMap:
	"""Which metric names hold which figure, for one engine."""

	kv_usage: tuple[str, ...] = ()
	running: tuple[str, ...] = ()
	waiting: tuple[str, ...] = ()
	preemptions: tuple[str, ...] = ()
	prefix_hits: tuple[str, ...] = ()
	prefix_queries: tuple[str, ...] = ()
	hit_rate_gauge: tuple[str, ...] = ()
	prompt_tokens: tuple[str, ...] = ()
	generation_tokens: tuple[str, ...] = ()
	kv_usage_percent: bool = False  # the gauge is 0-100, not 0-1
	queries_exclude_hits: bool = False  # the "queries" counter counts only tokens not found in the cache


MAPS: dict[str, MetricMap] = {
	"vllm": MetricMap(
		kv_usage=("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
		running=("vllm:num_requests_running",),
		waiting=("vllm:num_requests_waiting",),
		preemptions=("vllm:num_preemptions_total",),
		prefix_hits=("vllm:prefix_cache_hits_total",),
		prefix_queries=("vllm:prefix_cache_queries_total",),
		prompt_tokens=("vllm:prompt_tokens_total",),
		generation_tokens=("vllm:generation_tokens_total",),
	),
	"llamacpp": MetricMap(
		kv_usage=("llamacpp:kv_cache_usage_ratio",),
		running=("llamacpp:requests_processing",),
		waiting=("llamacpp:requests_deferred",),
		prefix_hits=("llamacpp:prompt_tokens_cached_total",),
		prefix_queries=("llamacpp:prompt_tokens_total",),
		queries_exclude_hits=True,
		prompt_tokens=("llamacpp:prompt_tokens_total",),
		generation_tokens=("llamacpp:tokens_predicted_total",),
	),
	"sglang": MetricMap(
		kv_usage=("sglang:token_usage",),
		running=("sglang:num_running_reqs",),
		waiting=("sglang:num_queue_reqs",),
		preemptions=("sglang:num_retracted_requests_total",),
		prefix_hits=("sglang:cached_tokens_total",),
		prefix_queries=("sglang:prompt_tokens_total",),
		hit_rate_gauge=("sglang:cache_hit_rate",),
		prompt_tokens=("sglang:prompt_tokens_total",),
		generation_tokens=("sglang:generation_tokens_total",),
	),
}

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)")


def parse_prometheus(text: str) -> Samples:
	"""Prometheus text format -> {name: value summed over label sets} (comments, NaN and +Inf skipped)."""
	out: Samples = {}
	for line in text.splitlines():
		if not line or line.startswith("#"):
			continue
		m = _LINE.match(line)
		if m is None:
			continue
		try:
			value = float(m.group(3))
		except ValueError:
			continue
		if math.isfinite(value):
			out[m.group(1)] = out.get(m.group(1), 0.0) + value
	return out


async def scrape(client: httpx.AsyncClient, url: str) -> Samples | None:
	"""One read of the engine's /metrics (None when it does not answer with metrics)."""
	try:
		resp = await client.get(url)
	except httpx.HTTPError:
		return None
	if resp.status_code != 200:
		return None
	samples = parse_prometheus(resp.text)
	return samples or None


def _first(samples: Samples, names: tuple[str, ...]) -> float | None:
	return next((samples[n] for n in names if n in samples), None)


def summarize(engine: str, before: Samples, during: list[Samples], after: Samples) -> EngineMetrics:
	"""One EngineMetrics from the scrapes of one run."""
	mapping = MAPS[engine]
	every = [before, *during, after]

	def gauge(names: tuple[str, ...], scale: float = 1.0) -> tuple[float | None, float | None]:
		values = [v * scale for s in every if (v := _first(s, names)) is not None]
		return (sum(values) / len(values), max(values)) if values else (None, None)

	def delta(names: tuple[str, ...]) -> float | None:
		a, b = _first(before, names), _first(after, names)
		return None if a is None or b is None else max(b - a, 0.0)

	kv_mean, kv_max = gauge(mapping.kv_usage, 0.01 if mapping.kv_usage_percent else 1.0)
	run_mean, run_max = gauge(mapping.running)
	wait_mean, wait_max = gauge(mapping.waiting)
	hits, queries = delta(mapping.prefix_hits), delta(mapping.prefix_queries)
	if mapping.queries_exclude_hits and hits is not None and queries is not None:
		queries += hits
	hit_rate = None
	if hits is not None and queries:
		hit_rate = hits / queries
	elif mapping.hit_rate_gauge:
		hit_rate = gauge(mapping.hit_rate_gauge)[0]
	return EngineMetrics(
		engine=engine,
		samples=len(every),
		kv_cache_usage_mean=kv_mean,
		kv_cache_usage_max=kv_max,
		running_mean=run_mean,
		running_max=run_max,
		waiting_mean=wait_mean,
		waiting_max=wait_max,
		preemptions=delta(mapping.preemptions),
		prefix_cache_hit_rate=hit_rate,
		prompt_tokens=delta(mapping.prompt_tokens),
		generation_tokens=delta(mapping.generation_tokens),
	)


@dataclass
class EngineMetricsSampler:
	"""Reads the engine's /metrics before a run, about once a second during it, and after it."""

	engine: str
	url: str
	interval: float = 1.0
	_client: httpx.AsyncClient | None = None
	_before: Samples | None = None
	_during: list[Samples] = field(default_factory=list)
	_task: asyncio.Task[None] | None = None

	async def start(self) -> None:
		if self.engine not in MAPS:
			return
		self._client = httpx.AsyncClient(timeout=5.0)
		self._before = await scrape(self._client, self.url)
		if self._before is not None:
			self._task = asyncio.create_task(self._poll())

	async def _poll(self) -> None:
		assert self._client is not None
		while True:
			await asyncio.sleep(self.interval)
			samples = await scrape(self._client, self.url)
			if samples is not None:
				self._during.append(samples)

	async def finish(self) -> EngineMetrics | None:
		"""The run's EngineMetrics (None when the engine exposes no metrics)."""
		if self._task is not None:
			self._task.cancel()
			with contextlib.suppress(asyncio.CancelledError):
				await self._task
		if self._client is None:
			return None
		try:
			after = await scrape(self._client, self.url) if self._before is not None else None
		finally:
			await self._client.aclose()
		if self._before is None or after is None:
			return None
		return summarize(self.engine, self._before, self._during, after)
