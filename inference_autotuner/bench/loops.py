"""The built-in client's run loops: `measure` (run a drive until it ends, is cancelled or halts, watching the event
loop's stalls) and the closed loop (`concurrency` workers, each sending its next request when its previous one ended).
The open loop is arrivals.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp

from .audit import LoopMonitor
from .sender import LoadRun, Planned
from .tally import distinct


async def measure(run: LoadRun, drive: Coroutine[Any, Any, None], cancel: asyncio.Event | None) -> list[float]:
	"""Run `drive` until it ends, `cancel` is set or the run halts (early stop); the event loop's stalls meanwhile.

	On cancel or halt the requests in flight are dropped; BenchmarkError from the drive propagates."""
	task = asyncio.create_task(drive)
	waiter = asyncio.create_task(cancel.wait()) if cancel is not None else None
	halted = asyncio.create_task(run.halt.wait())
	monitor = LoopMonitor()  # the client's own lag: how late its event loop wakes up (bench/audit.py)
	monitor.start()
	try:
		waits = {task, halted} if waiter is None else {task, waiter, halted}
		await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
	finally:
		for t in (task, waiter, halted):
			if t is not None and not t.done():
				t.cancel()
		await asyncio.gather(*(t for t in (waiter, halted) if t is not None), return_exceptions=True)
		await monitor.stop()
	try:
		await task
	except asyncio.CancelledError:
		if (cancel is None or not cancel.is_set()) and not run.halt.is_set():
			raise
	return monitor.stalls


async def drive_closed_loop(
	run: LoadRun,
	warm: list[Planned],
	plan: list[Planned],
	concurrency: int,
	max_duration: float,
	progress: Callable[[int, int], None] | None,
	gate: Callable[[], Awaitable[float]] | None = None,
) -> None:
	"""The closed loop. `gate` (a client process of a multi-process run): awaited once warm, gives the start time
	every process shares (time.perf_counter seconds)."""
	await run.prebuild(distinct(warm + plan))
	clients = [run.worker_client() for _ in range(concurrency)]
	try:
		await run.warm_up(warm, clients, max_duration)
		total = len(plan)
		state = {"next": 0}
		start = time.perf_counter() if gate is None else await gate()
		deadline = start + max_duration

		async def worker(client: aiohttp.ClientSession) -> None:
			due = start  # closed loop: a request is due when its worker's previous one ended (the audit's lag)
			last = 0.0  # the worker's previous request's E2E: one that would end past the deadline is not sent
			while True:
				i = state["next"]
				if i >= total or run.enough or time.perf_counter() + last >= deadline:
					return
				state["next"] = i + 1
				rec = await run.one(client, plan[i], scheduled=due)
				run.finished(rec, progress, total)
				due = rec.end if rec.end is not None else time.perf_counter()
				last = rec.e2e if rec.ok and rec.e2e is not None else 0.0
				if run.halt.is_set():
					return

		await asyncio.gather(*(worker(c) for c in clients[:total]))
	finally:
		await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


async def drive_sessions(
	run: LoadRun,
	warm: list[Planned],
	sessions: list[list[Planned]],
	concurrency: int,
	max_duration: float,
	think_time_s: float,
	progress: Callable[[int, int], None] | None,
) -> None:
	"""Multi-turn sessions, closed loop: `concurrency` workers each run one session at a time, turn after turn; a
	turn re-sends the session's history (earlier turns and the replies the server gave), waits `think_time_s` after
	each reply (not measured: the next turn's `scheduled` is when it was due, after the wait). A failed turn ends its
	session. Sessions start in order; no turn is sent after max_duration or past the planned total."""
	flat = [t for s in sessions for t in s]
	await run.prebuild(distinct(warm + flat))
	clients = [run.worker_client() for _ in range(concurrency)]
	try:
		await run.warm_up(warm, clients, max_duration)
		total = len(flat)
		state = {"session": 0, "sent": 0}
		start = time.perf_counter()
		deadline = start + max_duration

		def more() -> bool:
			return state["sent"] < total and not run.enough and time.perf_counter() < deadline

		async def worker(client: aiohttp.ClientSession) -> None:
			due = start
			while more() and state["session"] < len(sessions):
				turns = sessions[state["session"]]
				state["session"] += 1
				history: list[dict[str, str]] = []
				for turn in turns:
					if not more():
						return
					state["sent"] += 1
					turn.history = list(history)
					rec = await run.one(client, turn, scheduled=due)
					run.finished(rec, progress, total)
					due = rec.end if rec.end is not None else time.perf_counter()
					if run.halt.is_set():
						return
					if not rec.ok:
						break
					history += [
						{"role": "user", "content": turn.prompt or ""},
						{"role": "assistant", "content": turn.answer},
					]
					if think_time_s > 0:
						await asyncio.sleep(think_time_s)
						due = time.perf_counter()

		await asyncio.gather(*(worker(c) for c in clients[: len(sessions)]))
	finally:
		await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
