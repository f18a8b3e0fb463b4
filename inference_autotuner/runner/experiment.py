"""One experiment: launch the engine with a parameter set, measure every run (scenario x concurrency), stop it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bench.audit import Placement, engine_started, engine_stopped, place_apart
from ..bench.client import fetch_model_name
from ..bench.drivers import get_driver
from ..bench.drivers.tokenizer import resolve_tokenizer
from ..bench.eventloop import run as run_measurement
from ..bench.metrics import GoodputSLO, RunMetrics
from ..deploy.base import Deployer, Deployment
from ..deploy.ports import free_port
from ..engines import Engine
from ..engines.plan import LaunchPlan, plan_for
from ..errors import AutotunerError, BenchmarkError, CancelledError
from ..paths import data_dir
from ..quality import QualityGuard
from ..scoring import ScoreResult, goodput_slo_from, score_experiment
from ..space import params_key
from ..spec.models import TaskSpec
from .events import EventSink
from .launch import is_predicted, launch_for
from .levels import Bench, LevelsResult, check_driver, levels_of, load_search, sweep


@dataclass
class Outcome:
	status: str  # success | failed | infeasible | interrupted | skipped (refused before launch)
	runs: list[RunMetrics] = field(default_factory=list)
	score: ScoreResult | None = None
	reason: str | None = None
	argv: list[str] | None = None
	startup_seconds: float = 0.0
	bench_seconds: float = 0.0
	duration: float = 0.0
	stop_seconds: float = 0.0
	gpu_info: dict[str, Any] | None = None
	predicted: bool = False  # figures from a performance model (deployment_mode predict), not a measurement
	saved_seconds: float = 0.0  # estimated load-run time not spent: early stop of a lost SLO, or pruning
	pruned: bool = False  # on_run asked to stop after some levels (multi-fidelity pruner)
	notes: list[str] = field(default_factory=list)  # why levels were skipped, and the like
	stopped_early: list[str] = field(default_factory=list)  # runs stopped early (a hard SLO clearly lost)
	levels: LevelsResult | None = None  # what the sweep or load search found (max load, the runs it scores)


RunHook = Callable[[list[RunMetrics]], bool]
"""Called after each load run with the runs so far; True stops the experiment's remaining levels (pruned)."""


async def _bench_all(
	spec: TaskSpec,
	base_url: str,
	deadline: float,
	cancel: threading.Event,
	goodput: GoodputSLO | None,
	emit: EventSink,
	number: int,
	model_path: Path | None = None,
	workdir: Path | str = ".",
	on_run: RunHook | None = None,
	out: Outcome | None = None,
	engine: Engine | None = None,
	placement: Placement | None = None,
) -> list[RunMetrics]:
	stop = asyncio.Event()

	async def watch() -> None:
		while not stop.is_set():
			if cancel.is_set() or time.monotonic() > deadline:
				stop.set()
				return
			await asyncio.sleep(0.05)

	watcher = asyncio.create_task(watch())
	b = spec.benchmark
	model = b.model_name or await fetch_model_name(base_url)
	driver = get_driver(b.driver)
	if b.driver == "builtin":
		tokenizer_dir = b.model_tokenizer
	elif (why := driver.missing()) is not None:
		raise BenchmarkError(why)
	else:
		tokenizer_dir = resolve_tokenizer(b.model_tokenizer, model_path, data_dir() / "tokenizers")
	check_driver(spec, driver)
	bench = Bench(
		spec=spec,
		base_url=base_url,
		driver=driver,
		model=model,
		tokenizer_dir=tokenizer_dir,
		goodput=goodput,
		emit=emit,
		number=number,
		workdir=Path(workdir),
		deadline=deadline,
		stop=stop,
		engine=engine.name if engine is not None else None,
		metrics_url=base_url + path if engine is not None and (path := getattr(engine, "metrics_path", None)) else None,
		placement=placement,
	)
	try:
		if b.load_search is not None:
			res = await load_search(bench)
		else:
			res = await sweep(bench, on_run)
	finally:
		stop.set()
		await watcher
	if out is not None:
		out.saved_seconds += res.saved_seconds
		out.notes += res.notes
		out.pruned = out.pruned or res.pruned
		out.stopped_early = res.stopped_early
		out.levels = res
	return res.runs


def run_experiment(
	*,
	spec: TaskSpec,
	engine: Engine,
	deployer: Deployer,
	model_path: Path,
	params: dict[str, Any],
	log_path: Path,
	cancel: threading.Event,
	emit: EventSink,
	number: int,
	port: int | None = None,
	labels: dict[str, str] | None = None,
	plan: LaunchPlan | None = None,
	on_run: RunHook | None = None,
	quality: QualityGuard | None = None,
) -> Outcome:
	t0 = time.monotonic()
	# quant_config / parallel_config -> engine flags; a refused or non-fitting config is recorded, never launched
	plan = plan or plan_for(engine, params, spec, model_path)
	if plan.status != "ok":
		return Outcome(status=plan.status, reason=plan.reason, gpu_info={"plan": plan.record()})
	if is_predicted(deployer):  # a performance model, not a process: no launch, no port, no load
		return _run_predicted(spec, engine, deployer, plan, emit, number, t0, on_run)
	params = plan.flags
	deadline = t0 + spec.optimization.timeout_per_iteration
	port = port or free_port()
	launch = launch_for(spec, engine, deployer, model_path, params, port=port, plan=plan)  # what explain prints
	assert launch.argv is not None
	argv = launch.argv
	labels = {**(labels or {}), "world_size": str(plan.world_size)}
	out = Outcome(status="failed", argv=argv)
	deployment: Deployment | None = None
	placement: Placement | None = None
	deployer.bind_cancel(cancel)  # a start-up of minutes (vLLM) stops at once on cancel
	try:
		deployment = deployer.start(  # start-up has its own budget (startup_timeout), apart from the measurement's
			argv,
			port=port,
			health_path=engine.health_path,
			log_path=log_path,
			env=launch.env,  # the spec's env, then env:NAME parameters (what explain prints)
			timeout=spec.startup_timeout,
			labels=labels,
		)
		out.gpu_info = deployment.info.get("gpu_info")
		engine_pid = deployment.info.get("pid") if spec.deployment_mode == "local" else None
		if isinstance(engine_pid, int):  # other experiments' audits count its CPU apart (max_parallel)
			engine_started(engine_pid)
		out.startup_seconds = time.monotonic() - t0
		deadline = time.monotonic() + spec.optimization.timeout_per_iteration  # the load runs, once it is ready
		if cancel.is_set():
			raise CancelledError("cancelled")
		emit({"type": "engine_ready", "number": number, "seconds": out.startup_seconds})
		tb = time.monotonic()
		goodput = goodput_slo_from(spec.slo)
		pid = deployment.info.get("pid") if spec.deployment_mode == "local" else None
		# a CPU engine and the client on disjoint cores where its thread count allows (bench/audit.py)
		placement = place_apart(
			engine.name, params, [pid] if isinstance(pid, int) else [], enabled=spec.optimization.max_parallel <= 1
		)
		out.runs = run_measurement(  # on uvloop where installed (bench/eventloop.py)
			_bench_all(
				spec,
				deployment.base_url,
				deadline,
				cancel,
				goodput,
				emit,
				number,
				model_path=model_path,
				workdir=log_path.parent / f"bench-{number}",
				on_run=on_run,
				out=out,
				engine=engine,
				placement=placement,
			)
		)
		out.bench_seconds = time.monotonic() - tb
		crashed = _exit_code(deployment)
		if cancel.is_set():
			out.status, out.reason = "interrupted", "cancelled during the load run"
		elif crashed is not None:
			out.reason = f"engine exited with code {crashed} during the load run (log: {log_path})"
		elif _timed_out(spec, out, deadline):
			out.reason = f"timed out after {spec.optimization.timeout_per_iteration:.0f} s (timeout_per_iteration)"
		elif bound := [r for r in out.runs if r.audit is not None and r.audit.client_bound]:
			# what a run the client could not drive measured is the client, not the engine: never scored
			a = bound[0].audit
			assert a is not None
			out.reason = (
				f"the load generator could not drive the load ({bound[0].scenario}, after {a.attempts} attempt(s)): "
				+ "; ".join(r for r in a.reasons)
			)
		else:
			out.score = _score(spec, out, engine.world_size(params))
			if quality is not None:  # probed while the engine is up (quality/guard.py); below a threshold: infeasible
				quality.check(out, deployment.base_url, params_key(params), cancel)
			if not out.score.feasible:
				completed = sum(r.completed for r in out.runs)
				out.status = "infeasible" if completed else "failed"
				errors = sorted({e for r in out.runs for e in r.errors})
				out.reason = out.score.reason or "infeasible"
				if not completed and errors:
					out.reason = f"no request completed: {errors[0][:300]}"
				elif out.stopped_early and spec.benchmark.load_search is None:
					out.reason = f"{out.reason}; stopped early: {out.stopped_early[0]}"
			elif out.pruned:
				out.status = "pruned"
				out.reason = out.notes[-1]
			else:
				out.status = "success"
	except CancelledError:
		out.status, out.reason = "interrupted", "cancelled before the load run"
	except AutotunerError as exc:
		out.status, out.reason = "failed", str(exc)
	except Exception as exc:  # a bug or an unexpected engine answer must not lose the task
		out.status, out.reason = "failed", f"{type(exc).__name__}: {exc}"
	finally:
		if placement is not None:
			placement.restore()
		if deployment is not None:
			if isinstance(deployment.info.get("pid"), int):
				engine_stopped(deployment.info["pid"])
			ts = time.monotonic()
			deployer.stop(deployment)
			out.stop_seconds = time.monotonic() - ts
		out.duration = time.monotonic() - t0
		out.gpu_info = {**(out.gpu_info or {}), "plan": plan.record()}
	return out


def _run_predicted(
	spec: TaskSpec,
	engine: Engine,
	deployer: Any,
	plan: LaunchPlan,
	emit: EventSink,
	number: int,
	t0: float,
	on_run: RunHook | None = None,
) -> Outcome:
	"""Figures from `deployer.predict` (deploy/predict.py): infeasible when it predicts OOM or has no data.

	The pruning hook sees the predicted levels one by one, as it would see measured ones (so pruners can be
	studied on a predicted landscape); a pruned prediction keeps only the levels seen."""
	from ..deploy.predict import PredictionInfeasible

	out = Outcome(status="failed", predicted=True)
	info: dict[str, Any] = {}
	try:
		predicted, info = deployer.predict(spec=spec, plan=plan, goodput=goodput_slo_from(spec.slo))
		for run in predicted:
			out.runs.append(run)
			emit({"type": "run_finished", "number": number, "metrics": run.model_dump(mode="json")})
			if on_run is not None and len(out.runs) < len(predicted) and on_run(list(out.runs)):
				out.pruned = True
				out.notes.append(f"pruned after {len(out.runs)} of {len(predicted)} load levels")
				break
		out.score = score_experiment(
			out.runs, spec.optimization.objective, spec.slo, world_size=plan.world_size, gpu_hour_usd=_price(spec)
		)
		out.status = "success" if out.score.feasible else "infeasible"
		out.reason = None if out.score.feasible else (out.score.reason or "infeasible")
		if out.pruned and out.score.feasible:
			out.status, out.reason = "pruned", out.notes[-1]
	except PredictionInfeasible as exc:
		out.status, out.reason = "infeasible", str(exc)
	except AutotunerError as exc:
		out.status, out.reason = "failed", str(exc)
	out.duration = out.bench_seconds = time.monotonic() - t0
	out.gpu_info = {"plan": plan.record(), "prediction": info or None}
	return out


def _price(spec: TaskSpec) -> float | None:
	"""The price of one GPU-hour (spec.cost), for the cost figure and objective."""
	return spec.cost.gpu_hour_usd if spec.cost is not None else None


def _levels(spec: TaskSpec) -> int:
	return len(spec.benchmark.traffic_scenarios) * len(levels_of(spec)[0])


def _timed_out(spec: TaskSpec, out: Outcome, deadline: float) -> bool:
	"""Out of time before the runs could judge the configuration (levels left unmeasured, not pruned or skipped)."""
	if time.monotonic() <= deadline:
		return False
	if out.levels is not None and spec.benchmark.load_search is not None:
		return out.levels.incomplete
	return len(out.runs) < _levels(spec) and not out.pruned and not out.stopped_early


def _score(spec: TaskSpec, out: Outcome, world_size: int) -> ScoreResult:
	"""Score the sweep's runs; with a load search, the run at each scenario's max passing load (max_load figure)."""
	objective, slo = spec.optimization.objective, spec.slo
	found = out.levels
	if spec.benchmark.load_search is None or found is None:
		return score_experiment(out.runs, objective, slo, world_size=world_size, gpu_hour_usd=_price(spec))
	if found.no_pass is not None or not found.score_runs:
		shown = score_experiment(out.runs, objective, slo, world_size=world_size, gpu_hour_usd=_price(spec))
		reason = found.no_pass or "load search: no level was measured"
		return shown.model_copy(update={"feasible": False, "score": None, "reason": reason})
	score = score_experiment(
		found.score_runs, objective, slo, world_size=world_size, max_load=found.max_load, gpu_hour_usd=_price(spec)
	)
	score.notes += found.notes
	return score


def _exit_code(deployment: Deployment) -> int | None:
	proc = deployment.handle
	poll = getattr(proc, "poll", None)
	return poll() if poll else None
