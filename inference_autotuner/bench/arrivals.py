"""Open-loop load for the built-in client: Poisson arrivals at a fixed request rate (benchmark.request_rates).

Inter-arrival times are exponential with mean 1/rate seconds, drawn from their own random stream seeded by the run's
seed (the same seed gives the same schedule). Request i is sent at start + offsets[i] whether or not earlier ones
finished, so the number in flight is whatever the server's speed makes it. No request is sent after `max_duration`
seconds or past `max_requests`; those in flight then finish (each within request_timeout). Each record's
`scheduled` is its planned send time, so RunMetrics.max_send_lag / valid show a load generator that fell behind.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence

import aiohttp

from .sender import LoadRun, Planned
from .tally import distinct


def poisson_offsets(rate: float, count: int, seed: int = 0) -> list[float]:
	"""Send times of `count` requests, seconds after the start: cumulative exponential gaps (mean 1/rate).

	The first request goes at 0 (a run starts with a request, not with an idle wait)."""
	if rate <= 0:
		raise ValueError("rate must be > 0 (requests/s)")
	rng = random.Random(f"poisson-arrivals-{seed}")
	offsets: list[float] = []
	t = 0.0
	for i in range(count):
		if i:
			t += rng.expovariate(rate)
		offsets.append(t)
	return offsets


async def drive_open_loop(
	run: LoadRun,
	warm: list[Planned],
	plan: list[Planned],
	rate: float,
	max_duration: float,
	seed: int,
	progress: Callable[[int, int], None] | None,
	offsets: Sequence[float] | None = None,
	gate: Callable[[], Awaitable[float]] | None = None,
) -> None:
	"""Send `plan` at Poisson arrival times; warm-up requests first (up to 4 at once, not measured). No more are
	sent once the objective is known to benchmark.precision (run.enough).

	A client process of a multi-process run (processes.py) gets its share of the run's one schedule as `offsets`
	(then `rate` and `seed` are not used) and `gate`, awaited once warm, which gives the start time every process
	shares (time.perf_counter seconds)."""
	await run.prebuild(distinct(warm + plan))
	idle: list[aiohttp.ClientSession] = []  # one-connection sessions not in use (see LoadRun.worker_client)
	every: list[aiohttp.ClientSession] = []
	inflight: set[asyncio.Task[None]] = set()

	def take() -> aiohttp.ClientSession:
		if idle:
			return idle.pop()
		client = run.worker_client()
		every.append(client)
		return client

	async def send(item: Planned, at: float | None, measured: bool) -> None:
		client = take()
		try:
			rec = await run.one(client, item, scheduled=at)
		finally:
			idle.append(client)
		if measured:
			run.finished(rec, progress, len(plan))

	try:
		if warm:  # up to 4 at once, in rounds until steady state (bench/precision.py)
			warmers = [take() for _ in range(min(4, len(warm)))]
			idle.extend(warmers)
			await run.warm_up(warm, warmers, max_duration)
		if offsets is None:
			offsets = poisson_offsets(rate, len(plan), seed)
		start = time.perf_counter() if gate is None else await gate()
		for item, offset in zip(plan, offsets, strict=True):
			if offset >= max_duration or run.halt.is_set() or run.enough:
				break
			at = start + offset
			delay = at - time.perf_counter()
			if delay > 0:
				await asyncio.sleep(delay)
			task = asyncio.create_task(send(item, at, measured=True))
			inflight.add(task)
			task.add_done_callback(inflight.discard)
		if inflight:
			await asyncio.gather(*inflight)
	finally:
		left = list(inflight)
		for task in left:
			task.cancel()
		await asyncio.gather(*left, return_exceptions=True)
		await asyncio.gather(*(c.close() for c in every), return_exceptions=True)
