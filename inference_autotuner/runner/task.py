"""The trial loop: ask the search for parameters, measure, record, tell; checkpoint after every experiment.

Resume is exact: the Optuna study lives in the same database, so a resumed task continues the same study. A trial
left RUNNING by a killed tuner is reconciled: if its experiment row finished, the study is told its score; if not,
the trial is marked failed and the same parameters are measured again in the same experiment row. A parameter set
already measured is never measured again: the study is told the earlier score instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState
from sqlalchemy import func, select

from ..deploy.ports import ensure_port_free
from ..engines import get_engine
from ..errors import Conflict
from ..models import resolve_model
from ..search import make_sampler
from ..space import Space, build_task_space, params_key
from ..spec.compare import same_spec, spec_dump
from ..spec.models import TaskSpec
from ..store import Experiment, ExperimentOrigin, ExperimentStatus, Store, Task, TaskStatus
from ..store.db import study_name_for
from ..store.models import utcnow
from .base import FINAL, RunContext
from .budget import planned_experiments
from .launch import baseline_params, is_predicted, model_location
from .resources import parallel_slots
from .search_loop import SearchLoop
from .similarity import Match
from .study import open_task_study
from .tell import tell
from .verdict import all_failed
from .warmstart import warm_start_configs

__all__ = ["FINAL", "TaskResult", "TaskRunner", "get_or_create_task", "planned_experiments", "spec_dump"]


@dataclass
class TaskResult:
	task_id: int
	status: str
	experiments: int
	best_experiment_id: int | None
	error: str | None = None  # why the task failed (status `failed`)


def get_or_create_task(store: Store, spec: TaskSpec, *, allow_spec_change: bool = False) -> int:
	"""The task of this name (resumed) or a new one. A different spec for an existing name is refused (the one rule
	of spec/compare.py, as services.commands applies it)."""
	data = spec_dump(spec)
	with store.session() as s:
		task = s.scalar(select(Task).where(Task.name == spec.task_name))
		if task is not None:
			if not same_spec(task.spec, data) and not allow_spec_change:
				raise Conflict(
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
		task.study_name = study_name_for(task.id, data)
		return task.id


class TaskRunner(SearchLoop):
	"""Runs one task: baseline, search (max_parallel experiments at once), repeats of the best; resumable."""

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
		self.deployer.preflight()  # e.g. docker: the daemon answers and the image is there, before any experiment
		swept = self.deployer.sweep()
		if swept:
			self._log(f"removed {swept} engine process(es) left by an earlier run")
		check = getattr(engine, "drift", None)  # the installed engine vs its packaged flag catalogue
		if check is not None and spec.deployment_mode == "local" and (warning := check()):
			self._log(f"warning: {warning}")
		if is_predicted(self.deployer) or self.deployer.remote_model:
			model_path = model_location(spec, self.deployer)
		else:  # the model's file, downloaded into the cache when missing (with progress in the log)
			fmt = getattr(engine, "weights_format", "gguf")  # vLLM, SGLang: a known model as a Hugging Face folder
			model_path = resolve_model(spec.model.ref, file=spec.model.file, say=self._log, format=fmt)
		space = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config)
		slots, why = parallel_slots(spec, space)
		if opt.max_parallel > 1 and spec.engine_port is not None:
			slots, why = 1, "engine_port is fixed: one engine at a time"
		if opt.max_parallel > 1:
			self._log(f"{slots} experiment(s) at once ({why})")
		study = open_task_study(self.store, self.task_id, make_sampler(opt, space, parallel=slots), opt)
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
				"planned": self._planned(),
				"done_all": self._all_final(),
			}
		)
		t_start = time.monotonic()
		ctx = RunContext(study, space, engine, model_path, redo)
		try:
			if opt.baseline is not False and not self.cancel.is_set():
				self._noise_phase(ctx)
			if not self.cancel.is_set():
				self._search(ctx, slots)
			if self._status == TaskStatus.COMPLETED and not self.cancel.is_set():
				self._repeat_phase(ctx)
			if self.cancel.is_set():
				self._status = self.cancel_status()
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
		error = all_failed(self.store, self.task_id) if self._status == TaskStatus.COMPLETED else None
		if error is not None:  # nothing was measured: every experiment failed (skipped/infeasible do not count)
			self._status = TaskStatus.FAILED
			self._log(error)
		self._set_task(status=self._status, finished_at=utcnow(), **({"error": error} if error else {}))
		count = self._final_count()
		with self.store.session() as s:
			best_row = s.get(Experiment, best) if best is not None else None
			best_number = best_row.number if best_row is not None else None
		self.emit(
			{
				"type": "task_finished",
				"task_id": self.task_id,
				"status": self._status,
				"experiments": count,
				"best_experiment_id": best,
				"best_number": best_number,  # the recommendation (repeats' intervals), not the best single run
				"error": error,
			}
		)
		return TaskResult(self.task_id, self._status, count, best, error)

	def _planned(self) -> int:
		space = build_task_space(self.spec.parameters, self.spec.quant_config, self.spec.parallel_config)
		return planned_experiments(
			self.spec.optimization, self.spec.deployment_mode, self.max_iterations, space_size=space.size()
		)

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
			sources = ", ".join(
				dict.fromkeys(
					f"{w.source_task} #{w.source_experiment}" + ("" if w.match == Match.SAME else f" [{w.match.label}]")
					for w in fresh
				)
			)
			self._log(f"warm start: {len(fresh)} configuration(s) of earlier tasks measured first ({sources})")

	def _baseline_params(self, space: Space) -> dict[str, Any]:
		"""The engine's defaults (only the spec's fixed flags), or the user's current config (baseline: {...})."""
		return baseline_params(self.spec, space)

	# -- baseline and repeats ----------------------------------------------------------------------------------
	def _measure_times(
		self, ctx: RunContext, params: dict[str, Any], origin: str, times: int, *, keep_origin: bool = False
	) -> None:
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
				if origin == ExperimentOrigin.BASELINE and has_baseline and not keep_origin:
					row_origin = ExperimentOrigin.REPEAT
				exp_id, number = self._new_row(params, row_origin, None)
			outcome = self._measure(exp_id, number, params, ctx, origin=row_origin, trial=None)
			if outcome.status == "interrupted":
				self._status = TaskStatus.INTERRUPTED
				return

	def _count_before_repeats(self, params: dict[str, Any]) -> int:
		"""Finished measurements of a configuration before the repeat phase (origin other than repeat): the same
		number on a resume, so the rounds' targets are too."""
		with self.store.session() as s:
			q = select(func.count()).where(
				Experiment.task_id == self.task_id,
				Experiment.params_key == params_key(params),
				Experiment.status.in_(FINAL),
				Experiment.origin != ExperimentOrigin.REPEAT,
			)
			return int(s.scalar(q) or 0)

	def _noise_phase(self, ctx: RunContext) -> None:
		"""The baseline, `noise_runs` times, first: its spread is the noise floor, logged before the search."""
		from .summary import noise_of

		opt = self.spec.optimization
		times = 1 if self.spec.deployment_mode == "predict" else opt.noise_runs
		if times > 1:
			self._log(f"measuring the baseline {times} times first: its spread is the noise floor")
		self._measure_times(ctx, self._baseline_params(ctx.space), ExperimentOrigin.BASELINE, times, keep_origin=True)
		if times > 1 and not self.cancel.is_set():
			noise = noise_of(self.store, self.task_id)
			if noise is None:
				self._log("noise floor: unknown (fewer than 2 successful baseline measurements)")
			else:
				self._log(
					f"noise floor: ±{noise.floor:.1%} at 95% (baseline cv {noise.cv:.1%}, n={noise.n}): differences "
					"under it are ties" + ("; a noisy machine (see each run's audit)" if noise.floor > 0.1 else "")
				)

	def _repeat_phase(self, ctx: RunContext) -> None:
		"""The top `repeat_top_k` configurations (by their best score) measured again in rounds interleaved with the
		baseline (B, C1, C2, B, C1, C2, ...: gains come from pairs measured side by side, so drift cancels), up to
		`repeats` rounds, and only while their 95% intervals overlap (scoring.noise.undecided): a configuration
		separated from the leader, or a leader separated from all, is not measured again."""
		from ..scoring.noise import paired_gain, undecided
		from ..scoring.objectives import OBJECTIVE_INFO
		from .summary import _baseline_key, _load, _measurements, group_configs

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
		base = self._baseline_params(ctx.space) if opt.baseline is not False else None
		if base is not None:
			top = [p for p in top if params_key(p) != params_key(base)]
		if not top:
			return
		start = {params_key(p): self._count_before_repeats(p) for p in top}
		base_start = self._count_before_repeats(base) if base is not None else 0
		with_base = " interleaved with the baseline" if base is not None else ""
		self._log(
			f"measuring the {len(top)} best configuration(s) again{with_base}: up to {opt.repeats} round(s), "
			"while their 95% intervals overlap"
		)
		direction = OBJECTIVE_INFO[(opt.objectives or [opt.objective])[0]].direction
		active, measure_base = list(top), base is not None
		for round_ in range(1, opt.repeats + 1):
			order = ([base] if measure_base and base is not None else []) + active
			for params in order:
				if self.cancel.is_set():
					return
				is_base = base is not None and params_key(params) == params_key(base)
				target = (base_start if is_base else start.get(params_key(params), 1)) + round_
				self._measure_times(ctx, params, ExperimentOrigin.REPEAT, target)
				if self._status == TaskStatus.INTERRUPTED:
					return
			_task, rows_ = _load(self.store, self.task_id)
			configs = group_configs(_measurements(rows_))
			bkey = _baseline_key(rows_)
			left = undecided(configs, direction, baseline_key=bkey)
			if bkey in left and left:
				leader = next(c for c in configs if c.params_key == left[0])
				basec = next((c for c in configs if c.params_key == bkey), None)
				gain = paired_gain(leader.values, basec.values, direction) if basec is not None else None
				if gain is not None and gain.ci_low is not None and gain.ci_high is not None:
					if gain.ci_low > 0 or gain.ci_high < 0:  # the paired gain already tells them apart
						left = [k for k in left if k != bkey]
						if left == [leader.params_key]:
							left = []
			if not left:
				self._log(f"repeats: the best configuration is separated after {round_} round(s)")
				return
			keys = {params_key(p): p for p in top}
			active = [keys[k] for k in left if k in keys]
			measure_base = bkey in left or bool(active)
		self._log(f"repeats: {opt.repeats} round(s) spent; the intervals still overlap (see `autotuner best`)")
