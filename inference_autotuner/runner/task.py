"""The trial loop: ask the search for parameters, measure, record, tell; checkpoint after every experiment.

Resume is exact: the Optuna study lives in the same database, so a resumed task continues the same study. A trial
left RUNNING by a killed tuner is reconciled: if its experiment row finished, the study is told its score; if not,
the trial is marked failed and the same parameters are measured again in the same experiment row. A parameter set
already measured is never measured again: the study is told the earlier score instead.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from sqlalchemy import func, select

from ..deploy import get_deployer
from ..deploy.base import Deployer
from ..deploy.ports import ensure_port_free
from ..engines import Engine, get_engine
from ..engines.plan import plan_for
from ..errors import AutotunerError
from ..models import resolve_model
from ..paths import logs_dir, safe_name
from ..search import make_sampler, open_study
from ..space import build_task_space, params_key
from ..spec.models import TaskSpec
from ..store import Experiment, ExperimentStatus, Store, Task, TaskStatus
from ..store.models import utcnow
from .events import EventSink, no_events
from .experiment import Outcome, run_experiment

FINAL = (ExperimentStatus.SUCCESS, ExperimentStatus.FAILED, ExperimentStatus.INFEASIBLE, ExperimentStatus.SKIPPED)
MAX_DUPLICATE_ASKS = 50  # continuous spaces: stop when the sampler only proposes what was measured
EXPLORE_AFTER_DUPLICATES = 3  # finite spaces: after this many repeats in a row, measure an unmeasured configuration


@dataclass
class TaskResult:
	task_id: int
	status: str
	experiments: int
	best_experiment_id: int | None


def spec_dump(spec: TaskSpec) -> dict[str, Any]:
	return spec.model_dump(mode="json", exclude_none=True)


def get_or_create_task(store: Store, spec: TaskSpec, *, allow_spec_change: bool = False) -> int:
	"""The task of this name (resumed) or a new one. A different spec for an existing name is refused."""
	data = spec_dump(spec)
	with store.session() as s:
		task = s.scalar(select(Task).where(Task.name == spec.task_name))
		if task is not None:
			old = dict(task.spec)
			new = dict(data)
			old_opt, new_opt = dict(old.get("optimization", {})), dict(new.get("optimization", {}))
			old_opt.pop("max_iterations", None)
			new_opt.pop("max_iterations", None)
			old["optimization"], new["optimization"] = old_opt, new_opt
			if old != new and not allow_spec_change:
				raise AutotunerError(
					f"task '{spec.task_name}' already exists with a different spec",
					hint="give the task a new task_name, or delete the old one (autotuner delete NAME)",
				)
			task.spec = data
			return task.id
		task = Task(
			name=spec.task_name,
			description=spec.description,
			spec=data,
			engine=spec.base_runtime,
			deployment_mode=spec.deployment_mode,
			status=TaskStatus.PENDING,
			study_name="pending",
		)
		s.add(task)
		s.flush()
		task.study_name = f"autotuner-task-{task.id}"
		return task.id


class TaskRunner:
	def __init__(
		self,
		store: Store,
		task_id: int,
		*,
		emit: EventSink = no_events,
		cancel: threading.Event | None = None,
		deployer: Deployer | None = None,
		max_trials: int | None = None,
		engine: Engine | None = None,
		enqueue: list[dict[str, Any]] | None = None,
	) -> None:
		self.store = store
		self.task_id = task_id
		self.emit = emit
		self.cancel = cancel or threading.Event()
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
		self.deployer = deployer or get_deployer(self.spec)  # by deployment_mode: local process, docker, ...
		bind = getattr(self.deployer, "bind_cancel", None)
		if bind is not None:  # e.g. kubernetes: a cancel also ends a long readiness wait at once
			bind(self.cancel)
		self.max_iterations = max_trials or self.spec.optimization.max_iterations

	# -- helpers -----------------------------------------------------------------------------------------------
	def _set_task(self, **fields: Any) -> None:
		with self.store.session() as s:
			task = s.get(Task, self.task_id)
			assert task is not None
			for k, v in fields.items():
				setattr(task, k, v)

	def _final_count(self) -> int:
		with self.store.session() as s:
			q = select(func.count()).where(Experiment.task_id == self.task_id, Experiment.status.in_(FINAL))
			return int(s.scalar(q) or 0)

	def _measured(self, key: str) -> Experiment | None:
		with self.store.session() as s:
			q = select(Experiment).where(
				Experiment.task_id == self.task_id, Experiment.params_key == key, Experiment.status.in_(FINAL)
			)
			return s.scalars(q).first()

	def _update_best(self) -> int | None:
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

	def _reconcile(self, study: optuna.Study) -> list[int]:
		"""Settle what a killed run left: returns experiment ids to measure again (same params, same row)."""
		redo: list[int] = []
		with self.store.session() as s:
			rows = {
				e.trial_number: e
				for e in s.scalars(select(Experiment).where(Experiment.task_id == self.task_id))
				if e.trial_number is not None
			}
			unfinished = s.scalars(
				select(Experiment)
				.where(Experiment.task_id == self.task_id)
				.where(Experiment.status.in_((ExperimentStatus.RUNNING, ExperimentStatus.INTERRUPTED)))
				.order_by(Experiment.number)
			).all()
			redo = [e.id for e in unfinished]
			for e in unfinished:
				e.status = ExperimentStatus.INTERRUPTED
		for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
			row = rows.get(trial.number)
			if (
				row is not None
				and row.status in FINAL
				and row.score is not None
				and row.status == ExperimentStatus.SUCCESS
			):
				study.tell(trial.number, row.score)
			else:
				study.tell(trial.number, state=TrialState.FAIL)
		return redo

	# -- the loop ----------------------------------------------------------------------------------------------
	def run(self) -> TaskResult:
		spec = self.spec
		engine = self.engine or get_engine(spec.base_runtime)
		if spec.engine_port is not None:
			ensure_port_free(spec.engine_port, why="engine_port in the spec")
		preflight = getattr(self.deployer, "preflight", None)
		if preflight is not None:  # e.g. docker: the daemon answers and the image is there, before any experiment
			preflight()
		swept = self.deployer.sweep()
		if swept:
			self.emit({"type": "log", "message": f"removed {swept} engine process(es) left by an earlier run"})
		if hasattr(self.deployer, "predict") or getattr(self.deployer, "remote_model", False):
			# a performance model reads the model's shape itself; a cluster mounts its own copy: no local download
			model_path = Path(spec.model.ref)
		else:
			model_path = resolve_model(
				spec.model.ref, file=spec.model.file, say=lambda m: self.emit({"type": "log", "message": m})
			)
		space = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config)
		study = open_study(self.store.optuna_storage(), self.study_name, make_sampler(spec.optimization, space))
		distributions = space.distributions
		redo = self._reconcile(study)
		for wanted in self.enqueue:
			if self._measured(params_key(space.full(wanted))) is None:
				study.enqueue_trial({k: v for k, v in wanted.items() if k in distributions}, skip_if_exists=False)
		self._set_task(status=TaskStatus.RUNNING, started_at=utcnow(), finished_at=None, error=None)
		self.emit(
			{
				"type": "task_started",
				"task_id": self.task_id,
				"name": self.name,
				"max_iterations": self.max_iterations,
				"done": self._final_count(),
				"space_size": space.size(),
			}
		)
		t_start = time.monotonic()
		duplicates = 0
		status = TaskStatus.COMPLETED
		try:
			while self._final_count() < self.max_iterations:
				if self.cancel.is_set():
					status = TaskStatus.INTERRUPTED
					break
				size = space.size()
				if size is not None and self._distinct_measured() >= size:
					self.emit({"type": "log", "message": f"all {size} configurations measured; the space is exhausted"})
					break
				t_ask = time.monotonic()
				if redo:
					exp_id = redo.pop(0)
					with self.store.session() as s:
						exp = s.get(Experiment, exp_id)
						assert exp is not None
						searched = {k: v for k, v in exp.params.items() if k in distributions}
					study.enqueue_trial(searched, skip_if_exists=False)
					trial = study.ask(distributions)
					params = space.full(trial.params)
					with self.store.session() as s:
						exp = s.get(Experiment, exp_id)
						assert exp is not None
						exp.trial_number = trial.number
						exp.status = ExperimentStatus.RUNNING
						number = exp.number
				else:
					trial = study.ask(distributions)
					params = space.full(trial.params)
					key = params_key(params)
					earlier = self._measured(key)
					if earlier is not None:
						duplicates += 1
						if earlier.status == ExperimentStatus.SUCCESS and earlier.score is not None:
							study.tell(trial, earlier.score)
						else:
							study.tell(trial, state=TrialState.FAIL)
						if duplicates >= EXPLORE_AFTER_DUPLICATES and self._explore(study, space, distributions):
							duplicates = 0  # the next ask gets an unmeasured configuration
						elif duplicates >= MAX_DUPLICATE_ASKS:
							self.emit(
								{
									"type": "log",
									"message": "the search keeps proposing measured configurations; stopping",
								}
							)
							break
						continue
					duplicates = 0
					with self.store.session() as s:
						number = (
							int(
								s.scalar(select(func.max(Experiment.number)).where(Experiment.task_id == self.task_id))
								or 0
							)
							+ 1
						)
						exp = Experiment(
							task_id=self.task_id,
							number=number,
							trial_number=trial.number,
							params=params,
							params_key=key,
							status=ExperimentStatus.RUNNING,
							started_at=utcnow(),
						)
						s.add(exp)
						s.flush()
						exp_id = exp.id
				t_iter = time.monotonic()
				outcome = self._measure(exp_id, number, params, engine, model_path)
				self.timings.append(
					{
						"wall": time.monotonic() - t_iter,
						"startup": outcome.startup_seconds,
						"bench": outcome.bench_seconds,
						"stop": outcome.stop_seconds,
						"ask_to_tell": 0.0,
						"t_iter": t_iter,
					}
				)
				if outcome.status == "interrupted":
					study.tell(trial, state=TrialState.FAIL)
					status = TaskStatus.INTERRUPTED
					break
				if outcome.status == ExperimentStatus.SUCCESS and outcome.score and outcome.score.score is not None:
					study.tell(trial, outcome.score.score)
				else:
					study.tell(trial, state=TrialState.FAIL)
				self._update_best()
				self.timings[-1]["ask_to_tell"] = time.monotonic() - t_ask
		except BaseException as exc:
			status = TaskStatus.INTERRUPTED if isinstance(exc, KeyboardInterrupt) else TaskStatus.FAILED
			self._set_task(
				status=status, error=None if status == TaskStatus.INTERRUPTED else str(exc), finished_at=utcnow()
			)
			raise
		finally:
			with self.store.session() as s:
				task = s.get(Task, self.task_id)
				assert task is not None
				task.elapsed = (task.elapsed or 0.0) + (time.monotonic() - t_start)
		best = self._update_best()
		self._set_task(status=status, finished_at=utcnow())
		count = self._final_count()
		self.emit(
			{
				"type": "task_finished",
				"task_id": self.task_id,
				"status": status,
				"experiments": count,
				"best_experiment_id": best,
			}
		)
		return TaskResult(self.task_id, status, count, best)

	def _explore(self, study: optuna.Study, space: Any, distributions: dict[str, Any]) -> bool:
		"""Enqueue one unmeasured configuration of a finite space (seeded draw); False when there is none.

		A converged sampler (TPE) keeps proposing the best configurations it has seen; each repeat is answered with
		the stored score, and after a few in a row the search measures something new instead of stopping early."""
		if space.size() is None:
			return False
		with self.store.session() as s:
			measured = set(
				s.scalars(
					select(Experiment.params_key).where(
						Experiment.task_id == self.task_id, Experiment.status.in_(FINAL)
					)
				)
			)
		todo = [c for c in space.combinations() if params_key(space.full(c)) not in measured]
		if not todo:
			return False
		rng = random.Random(f"{self.spec.optimization.seed}-{len(measured)}")
		study.enqueue_trial({k: v for k, v in rng.choice(todo).items() if k in distributions}, skip_if_exists=False)
		return True

	def _distinct_measured(self) -> int:
		with self.store.session() as s:
			q = select(func.count(func.distinct(Experiment.params_key))).where(
				Experiment.task_id == self.task_id, Experiment.status.in_(FINAL)
			)
			return int(s.scalar(q) or 0)

	def _measure(self, exp_id: int, number: int, params: dict[str, Any], engine: Any, model_path: Any) -> Outcome:
		log_path = logs_dir() / f"task_{self.task_id}_{safe_name(self.name)}" / f"experiment_{number}.log"
		with self.store.session() as s:
			exp = s.get(Experiment, exp_id)
			assert exp is not None
			exp.log_path = str(log_path)
			plan = plan_for(engine, params, self.spec, model_path)  # quant/parallel mapped to engine flags
			exp.launch_command = engine.display_command(str(model_path), plan.flags) if plan.status == "ok" else None
			exp.started_at = utcnow()
		self.emit({"type": "experiment_started", "task_id": self.task_id, "number": number, "params": params})
		outcome = run_experiment(
			spec=self.spec,
			engine=engine,
			deployer=self.deployer,
			model_path=model_path,
			params=params,
			log_path=log_path,
			cancel=self.cancel,
			emit=self.emit,
			number=number,
			port=self.spec.engine_port,
			labels={"task": str(self.task_id), "experiment": str(number)},
			plan=plan,
		)
		with self.store.session() as s:
			exp = s.get(Experiment, exp_id)
			assert exp is not None
			exp.status = outcome.status
			exp.launch_argv = outcome.argv
			exp.runs = [r.model_dump(mode="json") for r in outcome.runs] or None
			exp.failure_reason = outcome.reason
			exp.duration = outcome.duration
			exp.startup_seconds = outcome.startup_seconds
			exp.bench_seconds = outcome.bench_seconds
			exp.gpu_info = outcome.gpu_info
			exp.predicted = outcome.predicted
			exp.finished_at = utcnow()
			if outcome.score is not None:
				exp.score = outcome.score.score
				exp.objective_value = outcome.score.objective_value
				exp.figures = outcome.score.figures
				exp.scoring = outcome.score.model_dump(mode="json", exclude={"figures"})
		self.emit(
			{
				"type": "experiment_finished",
				"task_id": self.task_id,
				"number": number,
				"status": outcome.status,
				"objective_value": outcome.score.objective_value if outcome.score else None,
				"score": outcome.score.score if outcome.score else None,
				"reason": outcome.reason,
				"figures": outcome.score.figures if outcome.score else None,
				"params": params,
				"duration": outcome.duration,
				"predicted": outcome.predicted,
			}
		)
		return outcome
