"""Measurers: where an experiment's figures come from. The runner picks one per task (`measurer_for`):

- `DeployAndLoad`: a deployer starts the engine (deploy/), the load runs drive it (bench/), then it is stopped;
- `Predicted`: a performance model predicts the figures (deploy/predict.py, aiconfigurator); nothing runs.

Both fill an `Outcome` (runs, timings, what was seen when the load ended); runner/experiment.py judges it (audit,
score, status) the same way for both. A deployer is only ever a place an engine runs: prediction is not one.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..bench.audit import Placement, engine_started, engine_stopped, place_apart
from ..bench.client import fetch_model_name
from ..bench.drivers import get_driver
from ..bench.drivers.tokenizer import resolve_tokenizer
from ..bench.eventloop import run as run_measurement
from ..bench.metrics import GoodputSLO, RunMetrics
from ..deploy.base import Deployer, Deployment
from ..deploy.ports import free_port
from ..engines import Engine
from ..engines.plan import LaunchPlan
from ..errors import AutotunerError, BenchmarkError, CancelledError
from ..paths import data_dir
from ..scoring import goodput_slo_from
from ..spec.models import TaskSpec
from .events import EngineReady, EventSink, RunFinished
from .launch import launch_for
from .levels import Bench, check_driver, levels_of, load_search, sweep
from .outcome import Outcome, RunHook


@dataclass
class Job:
	"""One experiment as a measurer gets it: the spec, the engine and its launch plan (status ok), where to log."""

	spec: TaskSpec
	engine: Engine
	plan: LaunchPlan
	model_path: Path
	log_path: Path
	cancel: threading.Event
	emit: EventSink
	number: int
	port: int | None = None  # None: a free one
	labels: dict[str, str] = field(default_factory=dict)
	on_run: RunHook | None = None
	probes: list[Probe] = field(default_factory=list)  # this experiment's own probes, after the measurer's


class Measurer(Protocol):
	"""Where figures come from. `deployer`: what launches engines (None: nothing is launched)."""

	@property
	def deployer(self) -> Deployer | None: ...

	def preflight(self) -> None: ...

	def sweep(self) -> int: ...

	def bind_cancel(self, event: threading.Event) -> None: ...

	def measure(self, job: Job) -> Outcome: ...


# -- deploy + drive load -----------------------------------------------------------------------------------------


@dataclass
class Running:
	"""A started engine after its load runs, before it is stopped: what a probe sees (and adds to `out`)."""

	job: Job
	deployment: Deployment
	out: Outcome


Probe = Callable[[Running], None]
"""Runs against the engine after the load runs, before it is stopped (e.g. a quality probe); may add to the
Outcome (notes, figures) for the verdict; raising AutotunerError fails the experiment with its message."""


class DeployAndLoad:
	"""Deploy the engine, wait until it is ready, drive the load runs, run the probes, stop it."""

	def __init__(self, deployer: Deployer, probes: Sequence[Probe] = ()) -> None:
		self._deployer = deployer
		self.probes = list(probes)

	@property
	def deployer(self) -> Deployer:
		return self._deployer

	def preflight(self) -> None:
		self._deployer.preflight()

	def sweep(self) -> int:
		return self._deployer.sweep()

	def bind_cancel(self, event: threading.Event) -> None:
		self._deployer.bind_cancel(event)

	def measure(self, job: Job) -> Outcome:
		t0 = time.monotonic()
		port = job.port or free_port()
		launched = launch_for(
			job.spec, job.engine, self._deployer, job.model_path, job.plan.flags, port=port, plan=job.plan,
			labels=job.labels,
		)  # fmt: skip
		assert launched.launch is not None
		out = Outcome(status="failed", argv=launched.argv)
		deployment: Deployment | None = None
		placement: Placement | None = None
		self._deployer.bind_cancel(job.cancel)  # a start-up of minutes (vLLM) stops at once on cancel
		try:
			# start-up has its own budget (startup_timeout), apart from the measurement's
			deployment = self._deployer.start(launched.launch, log_path=job.log_path, timeout=job.spec.startup_timeout)
			self._ready(job, deployment, out, t0)
			placement = self._place(job, deployment)
			self._load(job, deployment, out, placement)
			for probe in [*self.probes, *job.probes]:  # the seam for checks against the running engine (quality, ...)
				probe(Running(job, deployment, out))
			out.measured = True
		except CancelledError:
			out.status, out.reason = "interrupted", "cancelled before the load run"
		except AutotunerError as exc:
			out.status, out.reason = "failed", str(exc)
		except Exception as exc:  # a bug or an unexpected engine answer must not lose the task
			out.status, out.reason = "failed", f"{type(exc).__name__}: {exc}"
		finally:
			self._teardown(deployment, placement, out)
		return out

	# -- phases ----------------------------------------------------------------------------------------------
	def _ready(self, job: Job, deployment: Deployment, out: Outcome, t0: float) -> None:
		out.gpu_info = deployment.info.get("gpu_info")
		pid = deployment.info.get("pid") if job.spec.deployment_mode == "local" else None
		if isinstance(pid, int):  # other experiments' audits count its CPU apart (max_parallel)
			engine_started(pid)
		out.startup_seconds = time.monotonic() - t0
		if job.cancel.is_set():
			raise CancelledError("cancelled")
		job.emit(EngineReady(number=job.number, seconds=out.startup_seconds))

	def _place(self, job: Job, deployment: Deployment) -> Placement:
		"""A CPU engine and the client on disjoint cores where its thread count allows (bench/audit.py)."""
		pid = deployment.info.get("pid") if job.spec.deployment_mode == "local" else None
		return place_apart(
			job.engine.name,
			job.plan.flags,
			[pid] if isinstance(pid, int) else [],
			enabled=job.spec.optimization.max_parallel <= 1,
		)

	def _load(self, job: Job, deployment: Deployment, out: Outcome, placement: Placement) -> None:
		"""Every load run (sweep or load search) within timeout_per_iteration, and what was seen at its end."""
		spec = job.spec
		deadline = time.monotonic() + spec.optimization.timeout_per_iteration  # the load runs, once it is ready
		tb = time.monotonic()
		out.runs = run_measurement(  # on uvloop where installed (bench/eventloop.py)
			_bench_all(job, deployment.base_url, deadline, goodput_slo_from(spec.slo), out, placement)
		)
		out.bench_seconds = time.monotonic() - tb
		out.exit_code = self._deployer.exit_code(deployment)
		out.cancelled = job.cancel.is_set()
		out.timed_out = _timed_out(spec, out, deadline)

	def _teardown(self, deployment: Deployment | None, placement: Placement | None, out: Outcome) -> None:
		if placement is not None:
			placement.restore()
		if deployment is None:
			return
		if isinstance(deployment.info.get("pid"), int):
			engine_stopped(deployment.info["pid"])
		ts = time.monotonic()
		self._deployer.stop(deployment)
		out.stop_seconds = time.monotonic() - ts


async def _bench_all(
	job: Job, base_url: str, deadline: float, goodput: GoodputSLO | None, out: Outcome, placement: Placement | None
) -> list[RunMetrics]:
	spec, engine, cancel = job.spec, job.engine, job.cancel
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
		tokenizer_dir = resolve_tokenizer(b.model_tokenizer, job.model_path, data_dir() / "tokenizers")
	check_driver(spec, driver)
	metrics_path = getattr(engine, "metrics_path", None)
	bench = Bench(
		spec=spec,
		base_url=base_url,
		driver=driver,
		model=model,
		tokenizer_dir=tokenizer_dir,
		goodput=goodput,
		emit=job.emit,
		number=job.number,
		workdir=job.log_path.parent / f"bench-{job.number}",
		deadline=deadline,
		stop=stop,
		engine=engine.name,
		metrics_url=base_url + metrics_path if metrics_path else None,
		placement=placement,
	)
	try:
		if b.load_search is not None:
			res = await load_search(bench)
		else:
			res = await sweep(bench, job.on_run)
	finally:
		stop.set()
		await watcher
	out.saved_seconds += res.saved_seconds
	out.notes += res.notes
	out.pruned = out.pruned or res.pruned
	out.stopped_early = res.stopped_early
	out.levels = res
	return res.runs


def _levels(spec: TaskSpec) -> int:
	return len(spec.benchmark.traffic_scenarios) * len(levels_of(spec)[0])


def _timed_out(spec: TaskSpec, out: Outcome, deadline: float) -> bool:
	"""Out of time before the runs could judge the configuration (levels left unmeasured, not pruned or skipped)."""
	if time.monotonic() <= deadline:
		return False
	if out.levels is not None and spec.benchmark.load_search is not None:
		return out.levels.incomplete
	return len(out.runs) < _levels(spec) and not out.pruned and not out.stopped_early


# -- predict ---------------------------------------------------------------------------------------------------


class Predictor(Protocol):
	"""A performance model: one RunMetrics per (scenario, concurrency) of the spec for a launch plan, and what it
	used (recorded as the experiment's prediction info). deploy/predict.py's aiconfigurator model is one."""

	def preflight(self) -> None: ...

	def bind_cancel(self, event: threading.Event) -> None: ...

	def predict(
		self, *, spec: Any, plan: Any, goodput: GoodputSLO | None = None
	) -> tuple[list[RunMetrics], dict[str, Any]]: ...


class Predicted:
	"""Figures from a Predictor: infeasible when it predicts OOM or has no data. Nothing is launched.

	The pruning hook sees the predicted levels one by one, as it would see measured ones (so pruners can be
	studied on a predicted landscape); a pruned prediction keeps only the levels seen."""

	deployer = None

	def __init__(self, predictor: Predictor) -> None:
		self.predictor = predictor

	def preflight(self) -> None:
		self.predictor.preflight()

	def sweep(self) -> int:
		return 0

	def bind_cancel(self, event: threading.Event) -> None:
		self.predictor.bind_cancel(event)

	def measure(self, job: Job) -> Outcome:
		from ..deploy.predict import PredictionInfeasible

		t0 = time.monotonic()
		out = Outcome(status="failed", predicted=True)
		info: dict[str, Any] = {}
		try:
			predicted, info = self.predictor.predict(
				spec=job.spec, plan=job.plan, goodput=goodput_slo_from(job.spec.slo)
			)
			for run in predicted:
				out.runs.append(run)
				job.emit(RunFinished(number=job.number, metrics=run.model_dump(mode="json")))
				if job.on_run is not None and len(out.runs) < len(predicted) and job.on_run(list(out.runs)):
					out.pruned = True
					out.notes.append(f"pruned after {len(out.runs)} of {len(predicted)} load levels")
					break
			out.measured = True
		except PredictionInfeasible as exc:
			out.status, out.reason = "infeasible", str(exc)
		except AutotunerError as exc:
			out.status, out.reason = "failed", str(exc)
		out.bench_seconds = time.monotonic() - t0
		out.gpu_info = {"prediction": info or None}
		return out


def measurer_for(spec: TaskSpec, deployer: Deployer | None = None) -> Measurer:
	"""The spec's measurer: a prediction for deployment_mode predict, else its deployer (or `deployer`) + load."""
	if spec.deployment_mode == "predict" and deployer is None:
		from ..deploy.predict import AiconfiguratorPredictor

		return Predicted(AiconfiguratorPredictor.from_spec(spec))
	if deployer is None:
		from ..deploy import get_deployer

		deployer = get_deployer(spec)
	return DeployAndLoad(deployer)
