"""Multi-process mode of the built-in client (benchmark.client_processes): one run's load split over N processes.

One client process (one event loop, one thread) streams about 170k tokens/s on one core here (docs/drivers.md); a
fast GPU server at high concurrency or request rate can take more. With N > 1 the run's concurrency is split into N
near-equal shares (33 over 2: 17 and 16; at most one process per concurrency slot) and so are its requests (request
i goes to process i mod N). An open-loop run computes its one Poisson schedule here (the same seed gives the same
schedule whatever N) and deals its arrivals out the same way: N shares of one schedule at rate r, each about r / N.

Each process (spawned, not forked: the tuner has threads) builds its own prompts, runs its own warm-up rounds (its
share of benchmark.warmup_requests; steady state judged per process: RunMetrics.warmup_rounds is the most rounds
any process ran, warmup_steady whether every one that warmed up ended steady), then reports ready. Once every process
is ready they all start at one moment this process picks, so the measured phase begins at once everywhere and no
process measures while another still warms up. Every measured request goes back here the moment it finishes; this
process keeps them in finish order and feeds progress, benchmark.precision (one PrecisionTracker over the merged
requests, batch = the whole run's concurrency, as in one process) and the in-run early stop, and tells every process
to send no more (precision reached: those in flight finish) or to stop at once (early stop or cancel: those in flight
are dropped). Figures and the client audit are computed from the merged records here; the event loop stalls of every
process are pooled.

Times from several processes are comparable because time.perf_counter is one system-wide clock: on Linux it is
clock_gettime(CLOCK_MONOTONIC), the time since boot, the same in every process (checked in _shared_clock; macOS's
mach_absolute_time and Windows' QueryPerformanceCounter are system-wide too).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from ..errors import BenchmarkError
from .arrivals import drive_open_loop, poisson_offsets
from .loops import drive_closed_loop, measure
from .metrics import RequestRecord
from .precision import MAX_WARM_ROUNDS
from .prompts import PromptBuilder
from .sender import Endpoint, LoadRun, Planned, client_http
from .tally import Outcome, Tally, shares
from .traffic import Scenario

START_AHEAD_S = 0.05
"""Every process starts measuring this long after the last one reported ready (time for the message to arrive)."""
GRACE_S = 10.0
"""After a stop (early stop, cancel, an error), how long the processes get to report before they are killed."""
_SHARED_CLOCKS = ("clock_gettime(CLOCK_MONOTONIC)", "mach_absolute_time()", "QueryPerformanceCounter()")


@dataclass(frozen=True)
class Job:
	"""What every client process of one run shares."""

	base_url: str
	endpoint: Endpoint
	body: dict[str, Any]
	request_timeout: float
	model_tokenizer: str | None
	scenario: Scenario
	seed: int
	max_duration: float


@dataclass(frozen=True)
class _Part:
	"""One client process's share of a run. Planned requests as (input tokens, output tokens, prompt variant)."""

	index: int
	job: Job
	warm: list[tuple[int, int, int]]
	plan: list[tuple[int, int, int]]
	concurrency: int  # closed loop: its share of the concurrency
	rate: float | None  # open loop: about its share of the rate
	offsets: list[float] | None  # open loop: its share of the run's one Poisson schedule, seconds after the start
	variants_from: int  # its own prompt variants (warm-up rounds after the first) start here


def _shared_clock() -> None:
	impl = time.get_clock_info("perf_counter").implementation
	if impl not in _SHARED_CLOCKS:
		raise BenchmarkError(
			f"benchmark.client_processes > 1 needs a system-wide time.perf_counter clock; this one is {impl}",
			hint="set benchmark.client_processes to 1",
		)


def _pack(rec: RequestRecord) -> tuple[Any, ...]:
	return (
		rec.scheduled,
		rec.sent,
		rec.first_token,
		rec.end,
		rec.chunk_times,
		rec.input_tokens,
		rec.output_tokens,
		rec.error,
		rec.cached_tokens,
	)


def _unpack(data: tuple[Any, ...]) -> RequestRecord:
	scheduled, sent, first, end, chunks, inp, out, error, cached = data
	return RequestRecord.model_construct(
		scheduled=scheduled,
		sent=sent,
		first_token=first,
		end=end,
		chunk_times=chunks,
		input_tokens=inp,
		output_tokens=out,
		error=error,
		cached_tokens=cached,
	)


def _triple(p: Planned) -> tuple[int, int, int]:
	return (p.input_tokens, p.output_tokens, p.variant)


def split(
	job: Job,
	warm: list[Planned],
	plan: list[Planned],
	n: int,
	concurrency: int,
	request_rate: float | None,
) -> list[_Part]:
	"""The run's shares: concurrency split near-equally, request i (and warm-up request i) to process i mod n; an
	open-loop run's one Poisson schedule dealt out the same way."""
	conc = shares(concurrency, n) if request_rate is None else [1] * n
	offsets = poisson_offsets(request_rate, len(plan), job.seed) if request_rate is not None else None
	parts = []
	for i in range(n):
		mine = warm[i::n]
		parts.append(
			_Part(
				index=i,
				job=job,
				warm=[_triple(p) for p in mine],
				plan=[_triple(p) for p in plan[i::n]],
				concurrency=conc[i],
				rate=request_rate / n if request_rate is not None else None,
				offsets=offsets[i::n] if offsets is not None else None,
				variants_from=PromptBuilder.reserve_variants(MAX_WARM_ROUNDS * len(mine) + 1),
			)
		)
	return parts


async def run_in_processes(
	tally: Tally,
	job: Job,
	warm: list[Planned],
	plan: list[Planned],
	n: int,
	concurrency: int,
	request_rate: float | None,
	cancel: asyncio.Event | None,
	progress: Callable[[int, int], None] | None,
) -> Outcome:
	"""Run one run's load in `n` client processes; their measured requests are fed to `tally` as they finish."""
	_shared_clock()
	parts = split(job, warm, plan, n, concurrency, request_rate)
	loop = asyncio.get_running_loop()
	ctx = multiprocessing.get_context("spawn")
	conns: list[Connection] = []
	procs: list[multiprocessing.process.BaseProcess] = []
	open_: set[int] = set()
	ready: set[int] = set()
	reports: dict[int, dict[str, Any]] = {}
	errors: list[tuple[str, str | None]] = []
	errored: set[int] = set()
	over = loop.create_future()  # every process has reported or gone
	state = {"stopped": False, "enough": False}

	def broadcast(kind: str, data: Any = None) -> None:
		for i in sorted(open_):
			try:
				conns[i].send((kind, data))
			except OSError:
				pass

	def stop() -> None:
		"""Early stop, cancel or an error: every process stops at once; later requests are not counted."""
		if not state["stopped"]:
			state["stopped"] = True
			broadcast("halt")

	def gone(i: int) -> None:
		if i not in open_:
			return
		open_.discard(i)
		loop.remove_reader(conns[i].fileno())
		if i not in reports and i not in errored:
			procs[i].join(1.0)
			errors.append((f"client process {i} exited with code {procs[i].exitcode} before it reported", None))
			stop()
		if not open_ and not over.done():
			over.set_result(None)

	def handle(i: int, kind: str, data: Any) -> None:
		if kind == "rec":
			if state["stopped"]:
				return
			tally.finished(_unpack(data), progress, len(plan))
			if tally.enough and not state["enough"]:
				state["enough"] = True
				broadcast("enough")
			if tally.halt.is_set():
				stop()
		elif kind == "ready":
			ready.add(i)
			if len(ready) == len(parts) and not state["stopped"]:
				broadcast("go", time.perf_counter() + START_AHEAD_S)
		elif kind == "done":
			reports[i] = data
		elif kind == "error":
			message, hint = data
			errors.append((message, hint))
			errored.add(i)
			stop()

	def readable(i: int) -> None:
		conn = conns[i]
		try:
			while i in open_ and conn.poll():
				kind, data = conn.recv()
				handle(i, kind, data)
		except (EOFError, OSError):
			gone(i)

	try:
		for part in parts:
			mine, theirs = ctx.Pipe()
			proc = ctx.Process(
				target=child_main, args=(theirs, part), name=f"autotuner-client-{part.index}", daemon=True
			)
			proc.start()
			theirs.close()
			conns.append(mine)
			procs.append(proc)
			open_.add(part.index)
			loop.add_reader(mine.fileno(), readable, part.index)
		waits: set[asyncio.Future[Any]] = {over, asyncio.ensure_future(tally.halt.wait())}
		if cancel is not None:
			waits.add(asyncio.ensure_future(cancel.wait()))
		try:
			await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
		finally:
			for w in waits:
				if w is not over:
					w.cancel()
		if not over.done():  # early stop or cancel
			stop()
			await asyncio.wait({over}, timeout=GRACE_S)
	finally:
		stop()
		for i in sorted(open_):
			loop.remove_reader(conns[i].fileno())
		open_.clear()
		for child in procs:  # each has reported (or was told to stop): it exits at once
			child.join(2.0)
			if child.is_alive():
				child.kill()
				child.join(5.0)
		for conn in conns:
			conn.close()
	if errors:
		message, hint = errors[0]
		raise BenchmarkError(message, hint=hint)
	warmed = [r for r in reports.values() if r["warm_rounds"]]
	return Outcome(
		records=tally.records,
		stalls=[s for r in reports.values() for s in r["stalls"]],
		warm_rounds=max((r["warm_rounds"] for r in reports.values()), default=0),
		warm_steady=bool(warmed) and all(r["warm_steady"] for r in warmed),
		stopped_early=tally.stopped_early,
		enough=tally.enough,
	)


# -- in a client process ----------------------------------------------------------------------------------------
def child_main(conn: Connection, part: _Part) -> None:
	"""A client process: run its share and report to the parent through `conn`."""
	from .eventloop import run

	signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it tells us to stop
	try:
		run(_child(conn, part))
	except BaseException as exc:  # anything unexpected: the parent reports it, never a silent hole in the run
		try:
			conn.send(("error", (f"client process {part.index}: {type(exc).__name__}: {exc}"[:500], None)))
		except OSError:
			pass
	finally:
		conn.close()


async def _child(conn: Connection, part: _Part) -> None:
	job = part.job
	loop = asyncio.get_running_loop()
	PromptBuilder.use_variants_from(part.variants_from)
	go: asyncio.Future[float] = loop.create_future()

	def send(kind: str, data: Any) -> None:
		conn.send((kind, data))

	async with client_http(job.request_timeout) as client:
		run = LoadRun(
			client,
			job.base_url,
			job.endpoint,
			job.body,
			job.request_timeout,
			job.model_tokenizer,
			sink=lambda rec: send("rec", _pack(rec)),
		)
		run.scenario = job.scenario
		run.warm_rng = random.Random(f"warm-up-{job.seed}-{part.index}")

		def command() -> None:
			try:
				while conn.poll():
					kind, data = conn.recv()
					if kind == "go" and not go.done():
						go.set_result(float(data))
					elif kind == "enough":
						run.enough = True
					elif kind == "halt":
						run.halt.set()
			except (EOFError, OSError):  # the parent is gone: stop
				loop.remove_reader(conn.fileno())
				run.halt.set()

		async def gate() -> float:
			send("ready", None)
			start = await go
			delay = start - time.perf_counter()
			if delay > 0:
				await asyncio.sleep(delay)
			return start

		warm = [Planned(*t) for t in part.warm]
		plan = [Planned(*t) for t in part.plan]
		if part.offsets is not None:
			rate = part.rate or 1.0
			drive = drive_open_loop(
				run, warm, plan, rate, job.max_duration, job.seed, None, offsets=part.offsets, gate=gate
			)
		else:
			drive = drive_closed_loop(run, warm, plan, part.concurrency, job.max_duration, None, gate=gate)
		loop.add_reader(conn.fileno(), command)
		try:
			stalls = await measure(run, drive, None)
		except BenchmarkError as exc:
			send("error", (exc.message, exc.hint))
			return
		finally:
			try:
				loop.remove_reader(conn.fileno())
			except (OSError, ValueError):
				pass
	send("done", {"stalls": stalls, "warm_rounds": run.warm_rounds, "warm_steady": run.warm_steady})
