"""The load levels of one experiment, on its running engine: a sweep (num_concurrency or request_rates per traffic
scenario, with in-run early stopping) or a max-load search (benchmark.load_search). Neither ever restarts the engine.

docs/search.md ("Max load under SLO", "Early stopping") describes both; run_experiment (experiment.py) scores the
result.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..bench.audit import HostSampler, Placement, judge, merge, pick
from ..bench.cache import reset_prefix_cache
from ..bench.drivers import Driver, RunRequest
from ..bench.early_stop import EarlyStopper, make_stopper, planned_seconds, saved_seconds
from ..bench.engine_metrics import EngineMetricsSampler
from ..bench.loadsearch import judge_run, search_max_load
from ..bench.metrics import GoodputSLO, RunMetrics
from ..bench.traffic import Scenario
from ..bench.workload import check_workload, scenarios_for
from ..errors import BenchmarkError
from ..spec.models import TaskSpec
from .events import (
	EventSink,
	LoadSearchFinished,
	LogMessage,
	RunFinished,
	RunProgress,
	RunStarted,
	RunStoppedEarly,
)

RunHook = Callable[[list[RunMetrics]], bool]  # as experiment.RunHook: True stops the remaining levels (pruned)


@dataclass
class Bench:
	"""What every run of one experiment shares."""

	spec: TaskSpec
	base_url: str
	driver: Driver
	model: str | None
	tokenizer_dir: str | None
	goodput: GoodputSLO | None
	emit: EventSink
	number: int
	workdir: Path
	deadline: float  # time.monotonic()
	stop: asyncio.Event  # cancel or deadline: the run in progress ends at once
	engine: str | None = None  # whose /metrics names to read (bench/engine_metrics.py)
	metrics_url: str | None = None  # the engine's Prometheus endpoint; None: no engine-side figures
	placement: Placement | None = None  # the engine's processes and cores, for each run's audit (bench/audit.py)

	@property
	def can_stop_early(self) -> bool:
		return bool(getattr(self.driver, "supports_early_stop", False))

	async def run(
		self, scenario: Scenario, level: float, *, rate: bool, stopper: EarlyStopper | None, probe: int | None = None
	) -> RunMetrics:
		"""Measure one load level: concurrency `level`, or Poisson arrivals at `level` req/s when `rate`.

		Every run is audited (bench/audit.py); a suspect one is measured again, up to benchmark.audit_retries more
		times while time is left, and the least suspect attempt is kept (its audit says how many were measured)."""
		conc = None if rate else int(level)
		request_rate = level if rate and self.spec.benchmark.trace is None else None
		self.emit(
			RunStarted(
				number=self.number, scenario=str(scenario), concurrency=conc, request_rate=request_rate, probe=probe
			)
		)
		attempts: list[RunMetrics] = []
		retries = self.spec.benchmark.audit_retries
		while True:
			if attempts and stopper is not None:  # a fresh one: a stopper counts its run's requests
				stopper = make_stopper(self.spec.slo, self.spec.optimization.early_stop, probe=probe is not None)
			t0 = time.monotonic()
			metrics = await self._run_once(scenario, level, rate=rate, stopper=stopper, probe=probe)
			took = time.monotonic() - t0
			attempts.append(metrics)
			audit = metrics.audit
			if audit is None or audit.status == "valid" or len(attempts) > retries:
				break
			if self.stop.is_set():  # (a run stopped early for a lost SLO is measured again too: interference
				break  # may be what lost it)
			if self.deadline - time.monotonic() < 1.2 * took:  # another attempt would not fit: keep this one
				self.emit(
					LogMessage(
						message=f"#{self.number} {_label(metrics)}: suspect run ({'; '.join(audit.reasons)}); "
						"no time left to measure it again (timeout_per_iteration)",
					)
				)
				break
			why = "; ".join(audit.reasons)
			self.emit(
				LogMessage(
					message=f"#{self.number} {_label(metrics)}: suspect run ({why}); measuring it again "
					f"(attempt {len(attempts) + 1} of {retries + 1})",
				)
			)
		kept = pick(attempts) if len(attempts) > 1 else metrics
		if kept.precise_at is not None and kept.half_width is not None:
			self.emit(
				LogMessage(
					message=f"#{self.number} {_label(kept)}: known to ±{kept.half_width * 100:.1f}% (95%) after "
					f"{kept.precise_at} requests; ended there (benchmark.precision "
					f"{(self.spec.benchmark.precision or 0) * 100:g}%)",
				)
			)
		self.emit(RunFinished(number=self.number, metrics=kept.model_dump(mode="json")))
		return kept

	async def _run_once(
		self, scenario: Scenario, level: float, *, rate: bool, stopper: EarlyStopper | None, probe: int | None = None
	) -> RunMetrics:
		b = self.spec.benchmark
		remaining = self.deadline - time.monotonic()
		conc = None if rate else int(level)

		def progress(done: int, total: int) -> None:
			self.emit(RunProgress(number=self.number, concurrency=conc, done=done, total=total))

		tag = f"rate{level:g}" if rate else f"{conc}"
		req = RunRequest(
			self.base_url,
			scenario=scenario,
			concurrency=conc or 1,
			max_requests=b.max_requests_per_iteration,
			max_duration_s=min(b.max_time_per_iteration, remaining),
			warmup=b.warmup_requests,
			endpoint=b.endpoint,
			model=self.model,
			extra_body=dict(b.additional_params),
			goodput_slo=self.goodput,
			tokenizer_dir=self.tokenizer_dir,
			workdir=self.workdir / f"run-{scenario}-{tag}".replace("/", "_"),
			seed=self.spec.optimization.seed or 0,
			request_timeout=max(5.0, remaining),
			progress=progress,
			request_rate=level if rate and b.trace is None else None,
			speedup=level if b.trace is not None else None,
			stop_check=stopper.add if stopper is not None else None,
			objectives=tuple(self.spec.optimization.objectives or [self.spec.optimization.objective]),
			precision=b.precision,
			client_processes=b.client_processes,
		)
		reset = await reset_prefix_cache(self.base_url, self.engine) if b.workload_kind is not None else None
		sampler = EngineMetricsSampler(self.engine, self.metrics_url) if self.engine and self.metrics_url else None
		if sampler is not None:
			await sampler.start()
		host = HostSampler(self.placement)
		host.start()
		try:
			metrics = await self.driver.run(req, self.stop)
		finally:
			engine_side = await sampler.finish() if sampler is not None else None
		audit = judge(merge(metrics.audit, host.finish()), metrics)
		metrics = metrics.model_copy(update={"audit": audit, "valid": metrics.valid and not audit.client_bound})
		if engine_side is not None:
			metrics = metrics.model_copy(update={"engine_metrics": engine_side})
		if reset is not None:
			metrics = metrics.model_copy(update={"cache_reset": reset})
		return metrics

	def saved(self, run: RunMetrics) -> float:
		b = self.spec.benchmark
		return saved_seconds(run, max_requests=b.max_requests_per_iteration, max_time=b.max_time_per_iteration)


@dataclass
class LevelsResult:
	runs: list[RunMetrics] = field(default_factory=list)  # every run measured, in order (probes included)
	saved_seconds: float = 0.0
	notes: list[str] = field(default_factory=list)
	pruned: bool = False
	stopped_early: list[str] = field(default_factory=list)  # one text per run stopped early
	# load search only
	score_runs: list[RunMetrics] | None = None  # per scenario, the run at its max passing load
	max_load: float | None = None  # mean over scenarios of the max passing load (None when one has none)
	no_pass: str | None = None  # why no level passed (a scenario's lowest level failed)
	incomplete: bool = False  # cut short by cancel or timeout_per_iteration before a level passed


def levels_of(spec: TaskSpec) -> tuple[list[float], bool]:
	"""The sweep's load levels per scenario and whether they are request rates."""
	b = spec.benchmark
	if b.trace is not None:  # a trace sets its own times: one level, its speedup (open loop)
		return [b.trace.speedup], True
	if b.request_rates:
		return list(b.request_rates), True
	return [float(c) for c in b.num_concurrency], False


def check_driver(spec: TaskSpec, driver: Driver) -> None:
	b = spec.benchmark
	check_workload(b, driver)
	wants_rate = bool(b.request_rates) or (b.load_search is not None and b.load_search.mode == "rate")
	if wants_rate and not getattr(driver, "supports_rate", False):
		raise BenchmarkError(
			f"request rates (Poisson arrivals) need the builtin, aiperf or guidellm driver; load driver {b.driver!r} "
			"runs closed-loop concurrency only",
			hint="set benchmark.driver: builtin (or aiperf, guidellm), or use num_concurrency",
		)


async def sweep(bench: Bench, on_run: RunHook | None = None) -> LevelsResult:
	"""Every level of every scenario; a run whose SLO is clearly lost skips that scenario's higher levels."""
	spec = bench.spec
	levels, rate = levels_of(spec)
	scenarios = scenarios_for(spec.benchmark)
	total = len(scenarios) * len(levels)
	res = LevelsResult()
	skipped = 0
	for scenario in scenarios:  # the traffic scenarios, or the one workload (bench/workload.py)
		lost_at: RunMetrics | None = None
		for level in levels:
			if lost_at is not None and level > _level(lost_at):
				skipped += 1
				res.saved_seconds += _skipped_estimate(bench, lost_at, level, rate)
				continue
			if bench.deadline - time.monotonic() <= 0 or bench.stop.is_set():
				return res
			stopper = make_stopper(spec.slo, spec.optimization.early_stop)
			t_run = time.monotonic()
			metrics = await bench.run(scenario, level, rate=rate, stopper=stopper if bench.can_stop_early else None)
			res.runs.append(metrics)
			if metrics.precise_at is not None:  # ended once its figures were known to benchmark.precision
				res.saved_seconds += bench.saved(metrics)
			# a load tool's run goes to its end; judged then, a clearly lost SLO still spares the higher levels
			lost = metrics.stopped_early or (stopper.judge(metrics) if stopper and not bench.can_stop_early else None)
			if lost:
				lost_at = metrics
				saved = bench.saved(metrics)
				res.saved_seconds += saved
				higher = [x for x in levels if x > level]
				text = f"{_label(metrics)}: {lost}"
				if higher:
					text += f"; skipped the higher levels {', '.join(f'{x:g}' for x in higher)}"
				res.stopped_early.append(text)
				res.notes.append(text)
				bench.emit(
					RunStoppedEarly(
						number=bench.number,
						scenario=str(scenario),
						level=level,
						reason=lost,
						skipped_levels=higher,
						saved_seconds=saved,
					)
				)
			if on_run is not None and on_run(res.runs):
				left = total - len(res.runs) - skipped
				res.pruned = True
				res.saved_seconds += left * (time.monotonic() - t_run)
				res.notes.append(f"pruned after {len(res.runs)} of {total} load levels")
				return res
	return res


async def load_search(bench: Bench) -> LevelsResult:
	"""Per scenario, the highest load that meets every SLO (bench/loadsearch.py), on the same running engine."""
	spec = bench.spec
	ls = spec.benchmark.load_search
	assert ls is not None
	rate = ls.mode in ("rate", "speedup")
	res = LevelsResult(score_runs=[])
	best: list[float] = []
	for scenario in scenarios_for(spec.benchmark):
		cut: set[int] = set()

		async def probe(level: float, _s: Scenario = scenario, _cut: set[int] = cut) -> RunMetrics:
			make = spec.optimization.early_stop
			stopper = make_stopper(spec.slo, make, probe=True) if bench.can_stop_early else None
			metrics = await bench.run(_s, level, rate=rate, stopper=stopper, probe=len(res.runs) + 1)
			res.runs.append(metrics)
			if bench.stop.is_set():
				_cut.add(id(metrics))
			elif metrics.stopped_early:
				res.saved_seconds += bench.saved(metrics)
			return metrics

		def judge(m: RunMetrics, _cut: set[int] = cut) -> str | None:
			if id(m) in _cut:
				return "cut short (cancelled or timeout_per_iteration)"
			return judge_run(m, spec.slo)

		def keep_going() -> bool:
			return not bench.stop.is_set() and bench.deadline - time.monotonic() > 0

		found = await search_max_load(
			probe,
			judge,
			start=ls.start,
			limit=ls.limit,
			tolerance=ls.tolerance,
			max_probes=ls.max_probes,
			integer=not rate,
			keep_going=keep_going,
		)
		unit = "x trace speed" if ls.mode == "speedup" else "req/s" if rate else "concurrent requests"
		fails = "; ".join(f"{p.level:g}: {p.failure}" for p in found.probes if not p.passed)
		summary = (
			f"{scenario}: max load {found.best if found.best is not None else 'none'} ({unit}) in "
			f"{len(found.probes)} probes; {found.stopped}" + (f"; failed levels {fails}" if fails else "")
		)
		res.notes.append(summary)
		bench.emit(
			LoadSearchFinished(
				number=bench.number,
				scenario=str(scenario),
				mode=ls.mode,
				max_load=found.best,
				first_fail=found.first_fail,
				probes=[p.level for p in found.probes],
				stopped=found.stopped,
			)
		)
		bp = found.best_probe
		if bp is None:
			if not found.probes or id(found.probes[-1].result) in cut:
				res.incomplete = True
			if res.no_pass is None:
				first = found.probes[0] if found.probes else None
				why = f"{first.level:g} failed: {first.failure}" if first else "nothing was measured"
				res.no_pass = f"{scenario}: no load level met every SLO (lowest probed {why})"
			continue
		assert res.score_runs is not None
		res.score_runs.append(bp.result)
		best.append(bp.level)
	if res.no_pass is None and best:
		res.max_load = sum(best) / len(best)
	return res


def _level(run: RunMetrics) -> float:
	return float(run.request_rate if run.request_rate is not None else run.concurrency or 0)


def _label(run: RunMetrics) -> str:
	if run.speedup is not None:
		return f"{run.scenario} speedup={run.speedup:g}"
	if run.request_rate is not None:
		return f"{run.scenario} rate={run.request_rate:g}/s"
	return f"{run.scenario} c={run.concurrency}"


def _skipped_estimate(bench: Bench, lost: RunMetrics, level: float, rate: bool) -> float:
	"""Estimated time a skipped level would have taken, seconds: a rate run max_requests / rate; a closed-loop run
	as long as the lost run would have run in full (a higher concurrency is no slower once the engine is saturated,
	which a lost SLO suggests)."""
	b = bench.spec.benchmark
	if rate:
		return min(b.max_time_per_iteration, b.max_requests_per_iteration / level)
	return planned_seconds(lost, max_requests=b.max_requests_per_iteration, max_time=b.max_time_per_iteration)
