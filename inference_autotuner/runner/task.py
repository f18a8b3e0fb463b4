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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from pydantic import ValidationError
from sqlalchemy import func, select

from ..deploy import get_deployer
from ..deploy.base import Deployer
from ..deploy.ports import ensure_port_free
from ..engines import Engine, get_engine
from ..engines.plan import plan_for
from ..errors import AutotunerError
from ..models import resolve_model
from ..paths import logs_dir, safe_name
from ..scoring import score_experiment
from ..search import make_sampler, open_study
from ..space import Space, build_task_space, params_key
from ..spec.models import TaskSpec
from ..store import Experiment, ExperimentOrigin, ExperimentStatus, Store, Task, TaskStatus
from ..store.models import utcnow
from .events import EventSink, no_events
from .experiment import Outcome, RunHook, run_experiment
from .resources import parallel_slots
from .tell import objective_values, tell
from .warmstart import warm_start_configs

FINAL = (
	ExperimentStatus.SUCCESS,
	ExperimentStatus.FAILED,
	ExperimentStatus.INFEASIBLE,
	ExperimentStatus.SKIPPED,
	ExperimentStatus.PRUNED,
)
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
			try:  # the stored spec as today's defaults read it (a field added since then is not a change)
				old = spec_dump(TaskSpec.model_validate(task.spec))
			except ValidationError:
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
	"""Runs one task: baseline, search (max_parallel experiments at once), repeats of the best; resumable."""

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
		self._lock = threading.RLock()  # the study, row numbering and counters, shared by parallel experiments
		self._inflight = 0
		self._duplicates = 0
		self._stop = False  # a worker asks the others to take no new experiment
		self._status = TaskStatus.COMPLETED
		self._error: BaseException | None = None

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

	def _reconcile(self, study: optuna.Study) -> list[int]:
		"""Settle what a killed run left: returns search experiment ids to measure again (same params, same row).

		Unfinished baseline and repeat rows are measured again by their own phases."""
		with self.store.session() as s:
			rows = {
				e.trial_number: (e.status, e.score, e.figures, e.scoring)
				for e in s.scalars(select(Experiment).where(Experiment.task_id == self.task_id))
				if e.trial_number is not None
			}
			unfinished = s.scalars(
				select(Experiment)
				.where(Experiment.task_id == self.task_id)
				.where(Experiment.status.in_((ExperimentStatus.RUNNING, ExperimentStatus.INTERRUPTED)))
				.order_by(Experiment.number)
			).all()
			redo = [e.id for e in unfinished if e.origin in ExperimentOrigin.BUDGETED]
			for e in unfinished:
				e.status = ExperimentStatus.INTERRUPTED
		for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
			row = rows.get(frozen.number)
			if row is not None and row[0] in FINAL:
				trial = optuna.trial.Trial(study, frozen._trial_id)
				tell(study, trial, self.spec.optimization, status=row[0], score=row[1], figures=row[2], scoring=row[3])
			else:
				study.tell(frozen.number, state=TrialState.FAIL)
		return redo

	# -- the task -----------------------------------------------------------------------------------------------
	def run(self) -> TaskResult:
		spec = self.spec
		opt = spec.optimization
		engine = self.engine or get_engine(spec.base_runtime)
		if spec.engine_port is not None:
			ensure_port_free(spec.engine_port, why="engine_port in the spec")
		preflight = getattr(self.deployer, "preflight", None)
		if preflight is not None:  # e.g. docker: the daemon answers and the image is there, before any experiment
			preflight()
		swept = self.deployer.sweep()
		if swept:
			self._log(f"removed {swept} engine process(es) left by an earlier run")
		if hasattr(self.deployer, "predict") or getattr(self.deployer, "remote_model", False):
			# a performance model reads the model's shape itself; a cluster mounts its own copy: no local download
			model_path = Path(spec.model.ref)
		else:
			model_path = resolve_model(spec.model.ref, file=spec.model.file, say=self._log)
		space = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config)
		slots, why = parallel_slots(spec, space)
		if opt.max_parallel > 1 and spec.engine_port is not None:
			slots, why = 1, "engine_port is fixed: one engine at a time"
		if opt.max_parallel > 1:
			self._log(f"{slots} experiment(s) at once ({why})")
		study = open_study(
			self.store.optuna_storage(), self.study_name, make_sampler(opt, space, parallel=slots), opt=opt
		)
		redo = self._reconcile(study)
		self._enqueue_first(study, space)
		self._set_task(status=TaskStatus.RUNNING, started_at=utcnow(), finished_at=None, error=None)
		self.emit(
			{
				"type": "task_started",
				"task_id": self.task_id,
				"name": self.name,
				"max_iterations": self.max_iterations,
				"done": self._final_count(),
				"space_size": space.size(),
				"parallel": slots,
			}
		)
		t_start = time.monotonic()
		ctx = _Ctx(study, space, engine, model_path, redo)
		try:
			if opt.baseline is not False and not self.cancel.is_set():
				self._measure_times(ctx, self._baseline_params(space), ExperimentOrigin.BASELINE, 1)
			if not self.cancel.is_set():
				self._search(ctx, slots)
			if self._status == TaskStatus.COMPLETED and not self.cancel.is_set():
				self._repeat_phase(ctx)
			if self.cancel.is_set():
				self._status = TaskStatus.INTERRUPTED
		except BaseException as exc:
			self.cancel.set()  # parallel experiments stop too
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
		best = self._final_best()
		self._set_task(status=self._status, finished_at=utcnow())
		count = self._final_count()
		self.emit(
			{
				"type": "task_finished",
				"task_id": self.task_id,
				"status": self._status,
				"experiments": count,
				"best_experiment_id": best,
			}
		)
		return TaskResult(self.task_id, self._status, count, best)

	def _log(self, message: str) -> None:
		self.emit({"type": "log", "message": message})

	def _final_best(self) -> int | None:
		best = self._update_best()
		try:
			from .summary import recommended_experiment_id
		except ImportError:  # pragma: no cover - summary is part of the package
			return best
		chosen = recommended_experiment_id(self.store, self.task_id)
		if chosen is not None:
			self._set_task(best_experiment_id=chosen)
			return chosen
		return best

	def _enqueue_first(self, study: optuna.Study, space: Space) -> None:
		"""Explicit configurations (e.g. `autotuner plan`), then warm-start ones, as the study's first trials."""
		distributions = space.distributions
		for wanted in self.enqueue:
			if self._measured(params_key(space.full(wanted))) is None:
				study.enqueue_trial({k: v for k, v in wanted.items() if k in distributions}, skip_if_exists=False)
		if self._final_count() >= self.max_iterations:
			return
		warm = warm_start_configs(self.store, self.task_id, self.spec, space)
		fresh = [w for w in warm if self._measured(params_key(space.full(w.params))) is None]
		for w in fresh:
			study.enqueue_trial(w.params, user_attrs={"origin": ExperimentOrigin.WARM_START}, skip_if_exists=False)
		if fresh:
			sources = ", ".join(sorted({f"{w.source_task} #{w.source_experiment}" for w in fresh}))
			self._log(f"warm start: {len(fresh)} configuration(s) of earlier tasks measured first ({sources})")

	def _baseline_params(self, space: Space) -> dict[str, Any]:
		"""The engine's defaults (only the spec's fixed flags), or the user's current config (baseline: {...})."""
		base = self.spec.optimization.baseline
		return space.full(dict(base) if isinstance(base, dict) else {})

	# -- search -------------------------------------------------------------------------------------------------
	def _search(self, ctx: _Ctx, slots: int) -> None:
		if slots <= 1:
			self._search_worker(ctx)
		else:
			threads = [
				threading.Thread(target=self._search_worker, args=(ctx,), name=f"experiment-{i}", daemon=True)
				for i in range(slots)
			]
			for t in threads:
				t.start()
			try:
				for t in threads:
					while t.is_alive():
						t.join(0.2)
			except BaseException:
				self.cancel.set()
				for t in threads:
					t.join()
				raise
		if self._error is not None:
			raise self._error

	def _search_worker(self, ctx: _Ctx) -> None:
		try:
			while True:
				picked = self._next_trial(ctx)
				if picked is None:
					return
				self._run_trial(ctx, *picked)
		except BaseException as exc:
			with self._lock:
				self._stop = True
				if self._error is None and threading.current_thread() is not threading.main_thread():
					self._error = exc
			if threading.current_thread() is threading.main_thread():
				raise

	def _next_trial(self, ctx: _Ctx) -> tuple[optuna.trial.Trial, int, int, dict[str, Any], str] | None:
		"""Ask the study for the next unmeasured configuration and open its row; None when the search is over."""
		distributions = ctx.space.distributions
		with self._lock:
			while True:
				if self._stop or self.cancel.is_set():
					return None
				if self._final_count() + self._inflight >= self.max_iterations:
					return None
				size = ctx.space.size()
				if size is not None and self._distinct_measured() + self._inflight >= size:
					if self._inflight == 0:
						self._log(f"all {size} configurations measured; the space is exhausted")
					return None
				if ctx.redo:
					exp_id = ctx.redo.pop(0)
					with self.store.session() as s:
						exp = s.get(Experiment, exp_id)
						assert exp is not None
						searched = {k: v for k, v in exp.params.items() if k in distributions}
						origin = exp.origin
					ctx.study.enqueue_trial(searched, skip_if_exists=False)
					trial = ctx.study.ask(distributions)
					params = ctx.space.full(trial.params)
					with self.store.session() as s:
						exp = s.get(Experiment, exp_id)
						assert exp is not None
						exp.trial_number = trial.number
						exp.status = ExperimentStatus.RUNNING
						number = exp.number
					self._inflight += 1
					return trial, exp_id, number, params, origin
				trial = ctx.study.ask(distributions)
				params = ctx.space.full(trial.params)
				key = params_key(params)
				earlier = self._measured(key)
				if earlier is None and any(params_key(p) == key for p in ctx.running):
					ctx.study.tell(trial, state=TrialState.FAIL)  # measured right now by another experiment
					self._duplicates += 1
					if self._duplicates >= MAX_DUPLICATE_ASKS:
						return None
					continue
				if earlier is not None:
					self._duplicates += 1
					tell(
						ctx.study,
						trial,
						self.spec.optimization,
						status=earlier.status,
						score=earlier.score,
						figures=earlier.figures,
						scoring=earlier.scoring,
					)
					if self._duplicates >= EXPLORE_AFTER_DUPLICATES and self._explore(ctx.study, ctx.space):
						self._duplicates = 0  # the next ask gets an unmeasured configuration
					elif self._duplicates >= MAX_DUPLICATE_ASKS:
						self._log("the search keeps proposing measured configurations; stopping")
						self._stop = True
						return None
					continue
				self._duplicates = 0
				origin = str(trial.user_attrs.get("origin", ExperimentOrigin.SEARCH))
				exp_id, number = self._new_row(params, origin, trial.number)
				ctx.running.append(params)
				self._inflight += 1
				return trial, exp_id, number, params, origin

	def _run_trial(
		self, ctx: _Ctx, trial: optuna.trial.Trial, exp_id: int, number: int, params: dict[str, Any], origin: str
	) -> None:
		t_iter = time.monotonic()
		try:
			outcome = self._measure(exp_id, number, params, ctx, origin=origin, trial=trial)
		except BaseException:
			with self._lock:
				self._inflight -= 1
				if params in ctx.running:
					ctx.running.remove(params)
				ctx.study.tell(trial, state=TrialState.FAIL)
			raise
		with self._lock:
			self._inflight -= 1
			if params in ctx.running:
				ctx.running.remove(params)
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
				ctx.study.tell(trial, state=TrialState.FAIL)
				self._status = TaskStatus.INTERRUPTED
				self._stop = True
				return
			score = outcome.score
			tell(
				ctx.study,
				trial,
				self.spec.optimization,
				status=outcome.status,
				score=score.score if score else None,
				figures=score.figures if score else None,
				scoring=score.model_dump(mode="json", exclude={"figures"}) if score else None,
			)
			self._update_best()
			self.timings[-1]["ask_to_tell"] = time.monotonic() - t_iter

	def _explore(self, study: optuna.Study, space: Space) -> bool:
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
		distributions = space.distributions
		study.enqueue_trial({k: v for k, v in rng.choice(todo).items() if k in distributions}, skip_if_exists=False)
		return True

	def _distinct_measured(self) -> int:
		with self.store.session() as s:
			q = select(func.count(func.distinct(Experiment.params_key))).where(
				Experiment.task_id == self.task_id,
				Experiment.status.in_(FINAL),
				Experiment.origin.in_(ExperimentOrigin.BUDGETED),
			)
			return int(s.scalar(q) or 0)

	# -- baseline and repeats ----------------------------------------------------------------------------------
	def _measure_times(self, ctx: _Ctx, params: dict[str, Any], origin: str, times: int) -> None:
		"""Measure `params` until it has `times` finished measurements (any origin): unfinished rows of this
		configuration first (a killed run's), then new rows of `origin` (the first baseline row keeps its origin,
		later ones are repeats)."""
		key = params_key(params)
		with self.store.session() as s:
			unfinished = s.scalars(
				select(Experiment)
				.where(Experiment.task_id == self.task_id, Experiment.params_key == key)
				.where(Experiment.origin.in_((ExperimentOrigin.BASELINE, ExperimentOrigin.REPEAT)))
				.where(Experiment.status.in_((ExperimentStatus.RUNNING, ExperimentStatus.INTERRUPTED)))
				.order_by(Experiment.number)
			).all()
			todo = [(e.id, e.number, e.origin) for e in unfinished]
		while not self.cancel.is_set():
			if todo:
				exp_id, number, row_origin = todo.pop(0)
			else:
				with self.store.session() as s:
					done = int(
						s.scalar(
							select(func.count()).where(
								Experiment.task_id == self.task_id,
								Experiment.params_key == key,
								Experiment.status.in_(FINAL),
							)
						)
						or 0
					)
					has_baseline = bool(
						s.scalar(
							select(func.count()).where(
								Experiment.task_id == self.task_id,
								Experiment.origin == ExperimentOrigin.BASELINE,
							)
						)
					)
				if done >= times:
					return
				row_origin = origin
				if origin == ExperimentOrigin.BASELINE and has_baseline:
					row_origin = ExperimentOrigin.REPEAT
				exp_id, number = self._new_row(params, row_origin, None)
			outcome = self._measure(exp_id, number, params, ctx, origin=row_origin, trial=None)
			if outcome.status == "interrupted":
				self._status = TaskStatus.INTERRUPTED
				return

	def _repeat_phase(self, ctx: _Ctx) -> None:
		"""The top `repeat_top_k` configurations (by their best score) and the baseline, measured `repeats` more
		times each, so that `best` can give a mean and a 95% interval and recommend by its pessimistic bound."""
		opt = self.spec.optimization
		if opt.repeats <= 0:
			return
		if self.spec.deployment_mode == "predict":
			self._log("predicted figures do not vary: no repeats")
			return
		with self.store.session() as s:
			rows = s.execute(
				select(Experiment.params_key, func.min(Experiment.score), func.min(Experiment.number))
				.where(Experiment.task_id == self.task_id, Experiment.status == ExperimentStatus.SUCCESS)
				.where(Experiment.score.is_not(None), Experiment.origin.in_(ExperimentOrigin.BUDGETED))
				.group_by(Experiment.params_key)
				.order_by(func.min(Experiment.score), func.min(Experiment.number))
				.limit(opt.repeat_top_k)
			).all()
			top = []
			for key, _, number in rows:
				row = s.scalar(
					select(Experiment).where(Experiment.task_id == self.task_id, Experiment.number == number)
				)
				if row is not None and row.params_key == key:
					top.append(dict(row.params))
				else:
					first = s.scalars(
						select(Experiment).where(Experiment.task_id == self.task_id, Experiment.params_key == key)
					).first()
					if first is not None:
						top.append(dict(first.params))
		todo = top
		if opt.baseline is not False:
			todo = [*top, self._baseline_params(ctx.space)]
		if todo:
			self._log(f"measuring the {len(top)} best configuration(s) and the baseline {opt.repeats} more time(s)")
		for params in todo:
			if self.cancel.is_set():
				return
			self._measure_times(ctx, params, ExperimentOrigin.REPEAT, 1 + opt.repeats)

	# -- one experiment -----------------------------------------------------------------------------------------
	def _pruning_hook(self, trial: optuna.trial.Trial | None, world_size: int) -> RunHook | None:
		opt = self.spec.optimization
		if trial is None or opt.pruner == "none" or opt.multi_objective:
			return None

		def on_run(runs: list[Any]) -> bool:
			partial = score_experiment(runs, opt.objective, self.spec.slo, world_size=world_size)
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
		ctx: _Ctx,
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
			exp.launch_command = engine.display_command(str(model_path), plan.flags) if plan.status == "ok" else None
			exp.started_at = utcnow()
		self.emit(
			{
				"type": "experiment_started",
				"task_id": self.task_id,
				"number": number,
				"params": params,
				"origin": origin,
			}
		)
		parallel = self.spec.optimization.max_parallel > 1
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
			port=None if parallel else self.spec.engine_port,
			labels={"task": str(self.task_id), "experiment": str(number)},
			plan=plan,
			on_run=self._pruning_hook(trial, plan.world_size if plan.status == "ok" else 1),
		)
		values = objective_values(self.spec.optimization, outcome.score.figures if outcome.score else None)
		with self._lock, self.store.session() as s:
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
			{
				"type": "experiment_finished",
				"task_id": self.task_id,
				"number": number,
				"status": outcome.status,
				"origin": origin,
				"objective_value": outcome.score.objective_value if outcome.score else None,
				"objective_values": values,
				"score": outcome.score.score if outcome.score else None,
				"reason": outcome.reason,
				"figures": outcome.score.figures if outcome.score else None,
				"params": params,
				"duration": outcome.duration,
				"saved_seconds": outcome.saved_seconds,
				"predicted": outcome.predicted,
			}
		)
		return outcome


@dataclass
class _Ctx:
	"""What every experiment of one run of a task shares."""

	study: optuna.Study
	space: Space
	engine: Engine
	model_path: Path
	redo: list[int]
	running: list[dict[str, Any]] = field(default_factory=list)  # parameter sets being measured right now
