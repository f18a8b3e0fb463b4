"""Every run audits itself: could the client drive the load, and did anything else use the machine meanwhile?

Two halves, merged into one RunAudit stored on RunMetrics.audit (docs/metrics.md, "The run audit"):

- the client's own view (client_audit, from the request records of the built-in client): schedule lag (intended vs
  actual send time; closed loop: a worker's next request is due when its previous one ended), achieved vs asked
  concurrency (time-weighted requests in flight while sending) or request rate, and the event loop's stalls;
- the host's view (HostSampler, around any driver): CPU used by the client (the tuner's process tree without the
  engine's), by the engine's process tree, by OTHER processes (/proc/stat busy time of the cores we run on, minus
  both), CPU steal, the load average, and where the engine and the client were placed (place_apart).

judge() then calls the run `valid` or `suspect` with reasons; `client_bound` marks a run the client could not drive
(its figures are the client's, not the engine's: never scored). Thresholds are the module constants below.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

from ..procs import started
from .metrics import RequestRecord, RunMetrics, percentile
from .runaudit import RunAudit as RunAudit  # the record lives apart: RunMetrics holds one

# thresholds (documented in docs/metrics.md)
OTHER_CPU_MAX_FRACTION = 0.10
"""Other processes may use up to this fraction of the cores we run on (and OTHER_CPU_MIN_CORES) before suspect."""
OTHER_CPU_MIN_CORES = 0.15
STEAL_MAX = 0.05
"""CPU steal (time the hypervisor gave our vCPUs to others) above this fraction: suspect."""
LAG_MAX_S = 0.025
LAG_MAX_E2E = 0.05
"""Closed loop: p99 send lag above max(LAG_MAX_S, LAG_MAX_E2E x median E2E): the client fell behind (suspect; client-
bound only when the achieved concurrency shows the load was not driven)."""
RATE_LAG_MAX_S = 0.05
"""Open loop: p99 lag behind the Poisson schedule above this: the client fell behind."""
ACHIEVED_MIN = 0.90
"""Achieved concurrency or send rate below this fraction of what was asked: the client did not drive the load."""
LOOP_STALL_MAX_S = 0.05
"""The client's event loop woke up this much later than asked (p99): the client was starved (suspect)."""
CLIENT_CPU_MAX = 0.90
"""The client used this many cores or more per client process (each event loop is one thread): saturated."""
LOOP_TICK_S = 0.01


# -- the client's view ------------------------------------------------------------------------------------------
class LoopMonitor:
	"""How late the event loop wakes up from a LOOP_TICK_S sleep: a busy or starved client wakes up late."""

	def __init__(self) -> None:
		self.stalls: list[float] = []
		self._task: asyncio.Task[None] | None = None

	async def _watch(self) -> None:
		perf = time.perf_counter
		while True:
			t = perf()
			await asyncio.sleep(LOOP_TICK_S)
			self.stalls.append(max(0.0, perf() - t - LOOP_TICK_S))

	def start(self) -> None:
		self._task = asyncio.create_task(self._watch())

	async def stop(self) -> None:
		if self._task is not None:
			self._task.cancel()
			await asyncio.gather(self._task, return_exceptions=True)


def _pct(values: Sequence[float], q: float) -> float | None:
	return percentile(sorted(values), q) if values else None


def achieved_concurrency(records: Sequence[RequestRecord]) -> float | None:
	"""Time-weighted mean of requests in flight from the first send to the last send, or to the first completion
	when that is later (a run of no more requests than its concurrency sends them all at once); None under two."""
	if len(records) < 2:
		return None
	start = min(r.sent for r in records)
	ends = [r.end for r in records if r.end is not None]
	stop = max(max(r.sent for r in records), min(ends) if ends else start)
	if stop <= start:
		return None
	area = 0.0
	for r in records:
		end = r.end if r.end is not None else stop
		lo, hi = max(r.sent, start), min(end, stop)
		if hi > lo:
			area += hi - lo
	return area / (stop - start)


def client_audit(
	records: Sequence[RequestRecord],
	*,
	concurrency: int | None,
	request_rate: float | None,
	stalls: Sequence[float] = (),
) -> RunAudit:
	"""The client's half of the audit, from the measured requests' scheduled/sent times (not judged yet)."""
	lags = [max(0.0, r.sent - r.scheduled) for r in records]
	audit = RunAudit(
		lag_p50=_pct(lags, 50),
		lag_p99=_pct(lags, 99),
		loop_stall_p99=_pct(stalls, 99),
		asked_concurrency=concurrency if request_rate is None else None,
		asked_rate=request_rate,
	)
	if request_rate is None:
		audit.achieved_concurrency = achieved_concurrency(records)
	elif len(records) >= 2:
		sent = sorted(r.sent for r in records)
		if sent[-1] > sent[0]:
			audit.achieved_rate = (len(sent) - 1) / (sent[-1] - sent[0])
	return audit


# -- the host's view --------------------------------------------------------------------------------------------
_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(cores: Sequence[int]) -> tuple[float, float, float] | None:
	"""(busy, steal, total) CPU seconds so far over `cores`, from /proc/stat; None where there is no /proc."""
	try:
		with open("/proc/stat", encoding="ascii") as f:
			lines = f.read().splitlines()
	except OSError:
		return None
	want = {f"cpu{c}" for c in cores}
	busy = steal = total = 0.0
	for line in lines:
		parts = line.split()
		if not parts or parts[0] not in want:
			continue
		v = [float(x) for x in parts[1:]]
		# user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user already)
		vals = (v + [0.0] * 8)[:8]
		idle = vals[3] + vals[4]
		st = vals[7]
		tot = sum(vals)
		busy += tot - idle - st
		steal += st
		total += tot
	return busy / _HZ, steal / _HZ, total / _HZ


def _tree(pids: Sequence[int]) -> dict[tuple[int, float], psutil.Process]:
	out: dict[tuple[int, float], psutil.Process] = {}
	for pid in pids:
		try:
			root = psutil.Process(pid)
			for p in [root, *root.children(recursive=True)]:
				# seconds since boot, not psutil's epoch time, which moves with the clock (procs.py)
				out[(p.pid, started(p))] = p
		except psutil.Error:
			continue
	return out


def _cpu(p: psutil.Process, *, reaped: bool = False) -> float:
	try:
		t = p.cpu_times()
	except psutil.Error:
		return 0.0
	return t.user + t.system + ((t.children_user + t.children_system) if reaped else 0.0)


@dataclass
class Placement:
	"""Where the engine and the client run (place_apart), recorded with every run of the experiment."""

	engine_pids: list[int] = field(default_factory=list)
	engine_cores: list[int] | None = None
	client_cores: list[int] | None = None
	notes: list[str] = field(default_factory=list)
	cores: list[int] = field(default_factory=lambda: _cores())  # every core we may use (watched by the audit)
	_client_before: set[int] | None = None

	def restore(self) -> None:
		"""Give the client (this thread) its cores back."""
		if self._client_before is not None:
			try:
				os.sched_setaffinity(0, self._client_before)
			except OSError:
				pass
			self._client_before = None


def _cores() -> list[int]:
	try:
		return sorted(os.sched_getaffinity(0))
	except (AttributeError, OSError):
		return list(range(os.cpu_count() or 1))


def _pin_tree(pids: Sequence[int], cores: set[int]) -> bool:
	"""Pin every thread of every process of the trees (a process's threads each have their own affinity)."""
	done = False
	for p in _tree(pids).values():
		try:
			tids = [t.id for t in p.threads()]
		except psutil.Error:
			tids = [p.pid]
		for tid in tids:
			try:
				os.sched_setaffinity(tid, cores)
				done = True
			except OSError:
				continue
	return done


def engine_threads(engine: str | None, params: dict[str, Any]) -> int | None:
	"""Compute threads a CPU engine will use, from its flags; None when unknown (then: all cores)."""
	if engine not in ("llama.cpp", "llamacpp"):
		return None
	found = [params.get(k) for k in ("threads", "t", "threads-batch", "tb")]
	vals = [int(v) for v in found if isinstance(v, int | str) and str(v).lstrip("-").isdigit() and int(v) > 0]
	return max(vals) if vals else None


def place_apart(
	engine: str | None, params: dict[str, Any], engine_pids: Sequence[int], *, enabled: bool = True
) -> Placement:
	"""On a CPU engine, give the engine its `threads` cores and the client (this thread, and what it starts) the
	others, when the thread count leaves at least one core; otherwise say why they share cores."""
	place = Placement(engine_pids=list(engine_pids))
	cores = place.cores
	if engine not in ("llama.cpp", "llamacpp"):
		return place  # GPU engines: the compute is not on these cores
	if not enabled:
		place.notes.append("engine and client share cores (several experiments at once: not pinned)")
		return place
	if not engine_pids:
		place.notes.append("engine and client share cores (the engine's processes are not visible here)")
		return place
	threads = engine_threads(engine, params)
	if threads is None or threads >= len(cores):
		n = "all" if threads is None else str(threads)
		place.notes.append(
			f"engine and client share cores: the engine uses {n} thread(s) on {len(cores)} core(s), none left for "
			"the client"
		)
		return place
	eng, cli = set(cores[:threads]), set(cores[threads:])
	if not _pin_tree(engine_pids, eng):
		place.notes.append("engine and client share cores (could not pin the engine)")
		return place
	try:
		before = os.sched_getaffinity(0)
		os.sched_setaffinity(0, cli)
		place._client_before = before
	except OSError:
		_pin_tree(engine_pids, set(cores))
		place.notes.append("engine and client share cores (could not pin the client)")
		return place
	place.engine_cores, place.client_cores = sorted(eng), sorted(cli)
	return place


_RUNNING_ENGINES: set[int] = set()  # pids of this process's engines now running (every experiment's)
_ENGINES_LOCK = threading.Lock()


def engine_started(pid: int) -> None:
	"""An experiment's engine process is up: the audits of the other experiments running at once (max_parallel)
	count its CPU apart, not as their client's nor as another user's."""
	with _ENGINES_LOCK:
		_RUNNING_ENGINES.add(pid)


def engine_stopped(pid: int) -> None:
	with _ENGINES_LOCK:
		_RUNNING_ENGINES.discard(pid)


CPU_SLACK_CORES = 0.5
"""CPU counted above every watched core by more than this is an accounting error (see HostSampler.finish)."""


class HostSampler:
	"""CPU accounting over one run: the client's, the engine's and everybody else's CPU time on our cores."""

	def __init__(self, placement: Placement | None = None) -> None:
		self.placement = placement or Placement()
		self.cores = self.placement.cores
		self._t0 = 0.0
		self._stat0: tuple[float, float, float] | None = None
		self._engine0: dict[tuple[int, float], float] = {}
		self._client0: dict[tuple[int, float], float] = {}
		self._sibling0: dict[tuple[int, float], float] = {}

	def _split(self) -> tuple[dict[tuple[int, float], psutil.Process], dict[tuple[int, float], psutil.Process]]:
		"""(this run's engine tree, the client: this process's tree without any experiment's engine)."""
		engine = _tree(self.placement.engine_pids)
		siblings = self._siblings(engine)
		client = {k: p for k, p in _tree([os.getpid()]).items() if k not in engine and k not in siblings}
		return engine, client

	def _siblings(self, engine: dict[tuple[int, float], psutil.Process]) -> dict[tuple[int, float], psutil.Process]:
		with _ENGINES_LOCK:
			others = [pid for pid in _RUNNING_ENGINES if pid not in self.placement.engine_pids]
		return {k: p for k, p in _tree(others).items() if k not in engine}

	def start(self) -> None:
		engine, client = self._split()
		self._sibling0 = {k: _cpu(p) for k, p in self._siblings(engine).items()}
		self._engine0 = {k: _cpu(p) for k, p in engine.items()}
		me = os.getpid()
		self._client0 = {k: _cpu(p, reaped=k[0] == me) for k, p in client.items()}
		self._stat0 = _proc_stat(self.cores)
		self._t0 = time.monotonic()

	def finish(self) -> RunAudit:
		wall = max(time.monotonic() - self._t0, 1e-6)
		stat1 = _proc_stat(self.cores)
		engine, client = self._split()
		me = os.getpid()
		used_engine = sum(max(0.0, _cpu(p) - self._engine0.get(k, 0.0)) for k, p in engine.items())
		used_client = sum(max(0.0, _cpu(p, reaped=k[0] == me) - self._client0.get(k, 0.0)) for k, p in client.items())
		# engines of other experiments running at once: counted from the start of this run (one started meanwhile
		# is counted from its own start)
		used_sibling = sum(max(0.0, _cpu(p) - self._sibling0.get(k, 0.0)) for k, p in self._siblings(engine).items())
		place = self.placement
		client_cpu: float | None = used_client / wall
		notes = list(place.notes)
		if client_cpu is not None and client_cpu > len(self.cores) + CPU_SLACK_CORES:
			# more than every core we run on: an accounting error, never the client's figure (it would fail the run)
			notes.append(f"the client's CPU could not be told ({client_cpu:.1f} cores counted on {len(self.cores)})")
			client_cpu = None
		audit = RunAudit(
			cores=len(self.cores),
			client_cpu=client_cpu,
			engine_cpu=used_engine / wall if place.engine_pids else None,
			engine_cores=place.engine_cores,
			client_cores=place.client_cores,
			notes=notes,
		)
		try:
			audit.load_avg = os.getloadavg()[0]
		except OSError:
			pass
		if self._stat0 is not None and stat1 is not None:
			busy = stat1[0] - self._stat0[0]
			steal = stat1[1] - self._stat0[1]
			total = stat1[2] - self._stat0[2]
			audit.steal = steal / total if total > 0 else 0.0
			if place.engine_pids:
				audit.other_cpu = max(0.0, busy - used_engine - used_client - used_sibling) / wall
			else:
				audit.notes.append("the engine's processes are not visible here: other processes not told apart")
		if used_sibling > 0:
			audit.sibling_cpu = used_sibling / wall
			audit.notes.append(
				f"other experiments' engines used {audit.sibling_cpu:.2f} core(s) meanwhile (max_parallel): they share "
				"this machine by design"
			)
		if audit.engine_cpu is not None:
			audit.engine_share = audit.engine_cpu / max(len(self.cores), 1)
		return audit


# -- the verdict ------------------------------------------------------------------------------------------------
def merge(client: RunAudit | None, host: RunAudit | None) -> RunAudit:
	"""One audit from the client's half and the host's half (either may be missing)."""
	if client is None and host is None:
		return RunAudit()
	if client is None or host is None:
		return (client or host).model_copy()  # type: ignore[union-attr]
	data = client.model_dump(exclude_unset=True)
	merged = host.model_copy(update={k: v for k, v in data.items() if v is not None and k != "notes"})
	merged.notes = [*client.notes, *host.notes]
	return merged


def judge(audit: RunAudit, run: RunMetrics) -> RunAudit:
	"""Fill status, reasons and client_bound from the figures (thresholds: module constants)."""
	reasons: list[str] = []
	bound: list[str] = []
	e2e = run.e2e.p50 or 0.0
	if audit.lag_p99 is not None:
		if audit.asked_rate is not None:
			if audit.lag_p99 > RATE_LAG_MAX_S:
				bound.append(f"the client sent late: p99 {audit.lag_p99 * 1e3:.0f} ms behind its Poisson schedule")
		elif audit.lag_p99 > max(LAG_MAX_S, LAG_MAX_E2E * e2e):
			# closed loop: a late send is a symptom (CPU taken from the client, often by the engine or other
			# processes); the load was not driven only when the achieved concurrency shows it (below)
			reasons.append(
				f"the client fell behind: p99 {audit.lag_p99 * 1e3:.0f} ms from a slot freeing to its next send "
				f"(median E2E {e2e * 1e3:.0f} ms)"
			)
	asked = audit.asked_concurrency
	if asked and audit.achieved_concurrency is not None and run.total_requests > asked and not run.stopped_early:
		if audit.achieved_concurrency < ACHIEVED_MIN * asked:
			bound.append(f"the client kept {audit.achieved_concurrency:.2f} of {asked} requests in flight")
	if audit.asked_rate and audit.achieved_rate is not None and run.total_requests >= 10:
		if audit.achieved_rate < ACHIEVED_MIN * audit.asked_rate and audit.lag_p99 and audit.lag_p99 > RATE_LAG_MAX_S:
			bound.append(f"the client sent {audit.achieved_rate:.2f} of {audit.asked_rate:g} requests/s")
	if audit.loop_stall_p99 is not None and audit.loop_stall_p99 > LOOP_STALL_MAX_S:
		reasons.append(f"the client's event loop stalled (p99 {audit.loop_stall_p99 * 1e3:.0f} ms late)")
	procs = audit.client_processes or 1
	if audit.client_cpu is not None and audit.client_cpu >= CLIENT_CPU_MAX * procs:
		if procs == 1:
			bound.append(f"the client used {audit.client_cpu:.0%} of a core (saturated)")
		else:
			bound.append(f"the client used {audit.client_cpu / procs:.0%} of a core per process, {procs} processes")
	cores = audit.cores or 1
	if audit.other_cpu is not None and audit.other_cpu > max(OTHER_CPU_MIN_CORES, OTHER_CPU_MAX_FRACTION * cores):
		reasons.append(f"other processes used {audit.other_cpu:.2f} of {cores} core(s) during the run")
	if audit.steal is not None and audit.steal > STEAL_MAX:
		reasons.append(f"CPU steal {audit.steal:.0%}")
	out = audit.model_copy()
	out.reasons = bound + reasons
	out.client_bound = bool(bound)
	out.status = "suspect" if out.reasons else "valid"
	return out


def severity(run: RunMetrics) -> tuple[int, int, int, float]:
	"""Order of preference among attempts of one run: one with completed requests, not client-bound, valid, then
	the least interference."""
	a = run.audit
	empty = int(run.completed == 0)
	if a is None:
		return (empty, 0, 0, 0.0)
	load = (a.other_cpu or 0.0) + (a.steal or 0.0) * (a.cores or 1)
	return (empty, int(a.client_bound), int(a.status != "valid"), load)


def pick(attempts: Sequence[RunMetrics]) -> RunMetrics:
	"""The attempt to keep (the least suspect; the latest of equals), its audit telling how many were measured."""
	best = min(reversed(list(attempts)), key=severity)
	earlier = [
		f"attempt {i + 1}: " + "; ".join(r.audit.reasons)
		for i, r in enumerate(attempts)
		if r is not best and r.audit is not None and r.audit.reasons
	]
	if best.audit is None:
		return best
	audit = best.audit.model_copy(update={"attempts": len(attempts), "earlier": earlier})
	return best.model_copy(update={"audit": audit})


def badge(audit: dict[str, Any] | RunAudit | None) -> str:
	"""A short mark for tables: '' valid, 'suspect' or 'client-bound', with the attempts when re-measured."""
	if audit is None:
		return ""
	a = audit if isinstance(audit, RunAudit) else RunAudit.model_validate(audit)
	mark = "client-bound" if a.client_bound else ("suspect" if a.status == "suspect" else "")
	if a.attempts > 1:
		mark = f"{mark} x{a.attempts}".strip()
	return mark
