"""The runner's shared state and what one experiment does to it (row, launch, record); the loop is in task.py."""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..deploy.base import Deployer
from ..engines import Engine
from ..engines.plan import plan_for
from ..errors import AutotunerError
from ..paths import logs_dir, safe_name
from ..scoring import score_experiment
from ..space import Space, params_key
from ..spec.models import TaskSpec
from ..store import Experiment, ExperimentOrigin, ExperimentStatus, Store, Task, TaskStatus
from ..store.models import utcnow
from .events import EventSink, ExperimentFinished, ExperimentStarted, LogMessage, no_events
from .experiment import Outcome, RunHook, run_experiment
from .measure import Measurer, measurer_for
from .tell import objective_values

FINAL = (
	ExperimentStatus.SUCCESS,
	ExperimentStatus.FAILED,
	ExperimentStatus.INFEASIBLE,
	ExperimentStatus.SKIPPED,
	ExperimentStatus.PRUNED,
)
SPACE_KEYS_MAX = 200_000  # finite spaces up to this size are enumerated once, to count what is left to measure


@dataclass
class RunContext:
	"""What every experiment of one run of a task shares."""

	study: optuna.Study
	space: Space
	engine: Engine
	model_path: Path
	redo: list[int]
	running: list[dict[str, Any]] = field(default_factory=list)  # parameter sets being measured right now
	space_keys: set[str] | None = None  # every configuration of a finite space (up to SPACE_KEYS_MAX)
	slots: int = 1  # experiments measured at once (max_parallel as far as the machine allows)
	quality: Any = None  # the quality guardrail (quality.QualityGuard) when it is on for this task

	def __post_init__(self) -> None:
		size = self.space.size()
		if size is not None and size <= SPACE_KEYS_MAX:
			self.space_keys = {params_key(self.space.full(c)) for c in self.space.combinations()}


class RunnerBase:
	"""A task's runner state: the store, spec, deployer, cancel event, and the lock parallel experiments share."""

	def __init__(
		self,
		store: Store,
		task_id: int,
		*,
		emit: EventSink = no_events,
		cancel: threading.Event | None = None,
		deployer: Deployer | None = None,
		measurer: Measurer | None = None,
		max_trials: int | None = None,
		engine: Engine | None = None,
		enqueue: list[dict[str, Any]] | None = None,
		cancel_status: Callable[[], str] | None = None,
	) -> None:
		self.store = store
		self.task_id = task_id
		self.emit = emit
		self.cancel = cancel or threading.Event()
		# the status a cancelled run ends with: `interrupted` (resumable) unless the caller knows better, e.g. a
		# worker: `cancelled` for a user's cancel, `queued` when the worker itself shuts down
		self.cancel_status = cancel_status or (lambda: TaskStatus.INTERRUPTED)
		self.engine = engine
		self.enqueue = list(enqueue or [])  # parameter sets measured first, in this order (e.g. `autotuner plan`)
		self.timings: list[dict[str, float]] = []  # per experiment: wall, startup, bench, stop (for benchmarks)
		with store.session() as s:
			task = s.get(Task, task_id)
			if task is None:
				raise AutotunerError(f"task {task_id} not found")
			self.spec = TaskSpec.model_validate(task.spec)
			self.study_name = task.study_name
			self.name = task.name
		# where figures come from: deploy + load on the deployment_mode's deployer (local process, docker, ...), or
		# a prediction; `deployer` or `measurer` stand in for the spec's own (tests, benchmarks)
		self.measurer = measurer or measurer_for(self.spec, deployer)
		self.measurer.bind_cancel(self.cancel)  # a cancel also ends a long start-up or readiness wait at once
		self.max_iterations = max_trials or self.spec.optimization.max_iterations
		self._lock = threading.RLock()  # the study, row numbering and counters, shared by parallel experiments
		self._inflight = 0
		self._duplicates = 0
		self._stop = False  # a worker asks the others to take no new experiment
		self._status: str = TaskStatus.COMPLETED
		self._error: BaseException | None = None
		self._engine_version: dict[str, Any] | None = None  # provenance: asked once per run of the task

	@property
	def deployer(self) -> Deployer | None:
		"""What launches the engines (None: nothing is launched, a prediction)."""
		return self.measurer.deployer

	# -- store helpers ------------------------------------------------------------------------------------------
	def _set_task(self, **fields: Any) -> None:
		with self.store.session() as s:
			task = s.get(Task, self.task_id)
			assert task is not None
			for k, v in fields.items():
				setattr(task, k, v)

	def _final_count(self) -> int:
		"""Finished experiments that count against max_iterations (search and warm start)."""
		with self.store.session() as s:
			q = select(func.count()).where(
				Experiment.task_id == self.task_id,
				Experiment.status.in_(FINAL),
				Experiment.origin.in_(ExperimentOrigin.BUDGETED),
			)
			return int(s.scalar(q) or 0)

	def _measured(self, key: str) -> Experiment | None:
		with self.store.session() as s:
			q = (
				select(Experiment)
				.where(Experiment.task_id == self.task_id, Experiment.params_key == key, Experiment.status.in_(FINAL))
				.order_by(Experiment.number)
			)
			return s.scalars(q).first()

	def _update_best(self) -> int | None:
		"""The best single measurement so far (during the search); the end of the task uses the repeats."""
		with self.store.session() as s:
			q = (
				select(Experiment)
				.where(Experiment.task_id == self.task_id, Experiment.status == ExperimentStatus.SUCCESS)
				.where(Experiment.score.is_not(None))
				.order_by(Experiment.score.asc(), Experiment.number.asc())
			)
			best = s.scalars(q).first()
			task = s.get(Task, self.task_id)
			assert task is not None
			task.best_experiment_id = best.id if best else None
			return task.best_experiment_id

	def _new_row(self, params: dict[str, Any], origin: str, trial_number: int | None) -> tuple[int, int]:
		"""A RUNNING experiment row: (id, number)."""
		with self._lock, self.store.session() as s:
			number = (
				int(s.scalar(select(func.max(Experiment.number)).where(Experiment.task_id == self.task_id)) or 0) + 1
			)
			exp = Experiment(
				task_id=self.task_id,
				number=number,
				trial_number=trial_number,
				params=params,
				params_key=params_key(params),
				status=ExperimentStatus.RUNNING,
				origin=origin,
				started_at=utcnow(),
			)
			s.add(exp)
			s.flush()
			return exp.id, number

	def _still_mine(self, s: Session, exp: Experiment, trial: optuna.trial.Trial | None) -> bool:
		"""Whether this runner may write its result into `exp` (shared tasks: runner/shared.py)."""
		return True

	def _all_final(self) -> int:
		with self.store.session() as s:
			q = select(func.count()).where(Experiment.task_id == self.task_id, Experiment.status.in_(FINAL))
			return int(s.scalar(q) or 0)

	def _log(self, message: str) -> None:
		self.emit(LogMessage(message=message))

	def _provenance(self, engine: Engine, outcome: Outcome) -> dict[str, Any] | None:
		"""What produced this experiment's figures (provenance.py); never fails the experiment."""
		from .. import provenance

		try:
			if self._engine_version is None:
				image = self.deployer.image if self.deployer is not None else None
				self._engine_version = provenance.engine_version(engine, self.spec.deployment_mode, image)
			prediction = (outcome.gpu_info or {}).get("prediction") if outcome.predicted else None
			return provenance.for_experiment(
				provenance.host_and_tools(), self._engine_version, self.spec, argv=outcome.argv, prediction=prediction
			)
		except Exception as exc:  # noqa: BLE001 - provenance is a record, not a reason to lose a measurement
			self._log(f"warning: provenance not recorded: {type(exc).__name__}: {exc}")
			return None

	# -- one experiment -----------------------------------------------------------------------------------------
	def _pruning_hook(self, trial: optuna.trial.Trial | None, world_size: int) -> RunHook | None:
		opt = self.spec.optimization
		if trial is None or opt.pruner == "none" or opt.multi_objective:
			return None

		def on_run(runs: list[Any]) -> bool:
			cost = self.spec.cost.gpu_hour_usd if self.spec.cost is not None else None
			partial = score_experiment(runs, opt.objective, self.spec.slo, world_size=world_size, gpu_hour_usd=cost)
			if partial.score is None:
				return False
			with self._lock:
				trial.report(partial.score, step=len(runs))
				return bool(trial.should_prune())

		return on_run

	def _measure(
		self,
		exp_id: int,
		number: int,
		params: dict[str, Any],
		ctx: RunContext,
		*,
		origin: str,
		trial: optuna.trial.Trial | None,
	) -> Outcome:
		engine, model_path = ctx.engine, ctx.model_path
		log_path = logs_dir() / f"task_{self.task_id}_{safe_name(self.name)}" / f"experiment_{number}.log"
		with self.store.session() as s:
			exp = s.get(Experiment, exp_id)
			assert exp is not None
			exp.log_path = str(log_path)
			plan = plan_for(engine, params, self.spec, model_path)  # quant/parallel mapped to engine flags
			command = engine.display_command(str(model_path), plan.flags) if plan.status == "ok" else None
			if command and plan.env:  # env:NAME parameters go before the command, as a shell takes them
				command = " ".join([*(shlex.quote(f"{k}={v}") for k, v in plan.env.items()), command])
			exp.launch_command = command
			exp.started_at = utcnow()
		self.emit(ExperimentStarted(task_id=self.task_id, number=number, params=params, origin=origin))
		parallel = self.spec.optimization.max_parallel > 1
		outcome = run_experiment(
			spec=self.spec,
			engine=engine,
			measurer=self.measurer,
			model_path=model_path,
			params=params,
			log_path=log_path,
			cancel=self.cancel,
			emit=self.emit,
			number=number,
			port=None if parallel else self.spec.engine_port,
			labels={"task": str(self.task_id), "experiment": str(number)},
			plan=plan,
			on_run=self._pruning_hook(trial, plan.world_size if plan.status == "ok" else 1),
			quality=ctx.quality,
		)
		values = objective_values(self.spec.optimization, outcome.score.figures if outcome.score else None)
		prov = self._provenance(engine, outcome)
		with self._lock, self.store.session() as s:
			exp = s.get(Experiment, exp_id)
			assert exp is not None
			if not self._still_mine(s, exp, trial):
				raise optuna.exceptions.UpdateFinishedTrialError(f"experiment {number} was taken over by {exp.worker}")
			exp.status = outcome.status
			exp.launch_argv = outcome.argv
			exp.runs = [r.model_dump(mode="json") for r in outcome.runs] or None
			exp.failure_reason = outcome.reason
			exp.duration = outcome.duration
			exp.startup_seconds = outcome.startup_seconds
			exp.bench_seconds = outcome.bench_seconds
			exp.gpu_info = outcome.gpu_info
			exp.provenance = prov
			exp.predicted = outcome.predicted
			exp.saved_seconds = outcome.saved_seconds or None
			exp.finished_at = utcnow()
			if outcome.score is not None:
				exp.score = outcome.score.score
				exp.objective_value = outcome.score.objective_value
				exp.objective_values = values
				exp.figures = outcome.score.figures
				exp.scoring = outcome.score.model_dump(mode="json", exclude={"figures"})
		if self.spec.optimization.multi_objective:
			from .summary import refresh_pareto

			with self._lock:
				refresh_pareto(self.store, self.task_id)
		self.emit(
			ExperimentFinished(
				task_id=self.task_id,
				number=number,
				status=outcome.status,
				origin=origin,
				objective_value=outcome.score.objective_value if outcome.score else None,
				objective_values=values,
				score=outcome.score.score if outcome.score else None,
				reason=outcome.reason,
				figures=outcome.score.figures if outcome.score else None,
				params=params,
				duration=outcome.duration,
				saved_seconds=outcome.saved_seconds,
				predicted=outcome.predicted,
			)
		)
		return outcome
