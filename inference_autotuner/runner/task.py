"""The trial loop: ask the search for parameters, measure, record, tell; checkpoint after every experiment.

Resume is exact: the Optuna study lives in the same database, so a resumed task continues the same study. A trial
left RUNNING by a killed tuner is reconciled: if its experiment row finished, the study is told its score; if not,
the trial is marked failed and the same parameters are measured again in the same experiment row. A parameter set
already measured is never measured again: the study is told the earlier score instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from sqlalchemy import select

from ..bench.workload import describe_workload, load_workload
from ..deploy.ports import ensure_port_free
from ..engines import Engine, get_engine
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
from .events import TaskFinished, TaskStarted
from .launch import baseline_params, model_location
from .phases import noise_phase, repeat_phase
from .quality import quality_guard
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

	# -- the task: prepare, phases (baseline, search, repeats), finish ------------------------------------------
	def run(self) -> TaskResult:
		ctx = self._prepare()
		self._run_phases(ctx)
		return self._finish()

	def _prepare(self) -> RunContext:
		"""The host checks, the model, the space, the study (reconciled after a kill), the first trials; the task
		marked running and announced."""
		spec = self.spec
		engine = self.engine or get_engine(spec.base_runtime)
		self._check_host(engine)
		model_path = self._model_path(engine)
		space = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config)
		slots = self._slots(space)
		study = self._open_study(space, slots)
		redo = self._reconcile(study)
		self._enqueue_first(study, space)
		self._set_task(status=TaskStatus.RUNNING, started_at=utcnow(), finished_at=None, error=None)
		self.emit(
			TaskStarted(
				task_id=self.task_id,
				name=self.name,
				max_iterations=self.max_iterations,
				done=self._final_count(),
				space_size=space.size(),
				parallel=slots,
				planned=self._planned(),
				done_all=self._all_final(),
			)
		)
		return RunContext(study, space, engine, model_path, redo, slots=slots)

	def _open_study(self, space: Space, slots: int) -> optuna.Study:
		"""The task's study, its sampler made for `slots` experiments at once (shared.py: heartbeats too)."""
		opt = self.spec.optimization
		return open_task_study(self.store, self.task_id, make_sampler(opt, space, parallel=slots), opt)

	def _check_host(self, engine: Engine) -> None:
		"""Before any experiment: the fixed port is free, the measurer's preflight (a daemon, an image, a
		cluster resource, a performance database), what a killed earlier run left is removed, catalogue drift."""
		spec = self.spec
		if spec.engine_port is not None:
			ensure_port_free(spec.engine_port, why="engine_port in the spec")
		self.measurer.preflight()  # e.g. docker: the daemon answers and the image is there, before any experiment
		if spec.benchmark.workload_kind is not None:  # a missing or changed workload file fails here, not later
			self._log(describe_workload(load_workload(spec.benchmark)))
		swept = self.measurer.sweep()
		if swept:
			self._log(f"removed {swept} engine process(es) left by an earlier run")
		check = getattr(engine, "drift", None)  # the installed engine vs its packaged flag catalogue
		if check is not None and spec.deployment_mode == "local" and (warning := check()):
			self._log(f"warning: {warning}")

	def _model_path(self, engine: Engine) -> Path:
		"""Where the engine finds the model: the reference as it is for a prediction or a cluster; otherwise the
		model's file, downloaded into the cache when missing (with progress in the log)."""
		spec = self.spec
		if self.deployer is None or self.deployer.remote_model:
			return model_location(spec, self.deployer)
		fmt = getattr(engine, "weights_format", "gguf")  # vLLM, SGLang: a known model as a Hugging Face folder
		return resolve_model(spec.model.ref, file=spec.model.file, say=self._log, format=fmt)

	def _slots(self, space: Space) -> int:
		"""Experiments at once: max_parallel as far as the machine allows (runner/resources.py)."""
		opt = self.spec.optimization
		slots, why = parallel_slots(self.spec, space)
		if opt.max_parallel > 1 and self.spec.engine_port is not None:
			slots, why = 1, "engine_port is fixed: one engine at a time"
		if opt.max_parallel > 1:
			self._log(f"{slots} experiment(s) at once ({why})")
		return slots

	def _phases(self) -> list[tuple[str, Callable[[], bool], Callable[[RunContext], None]]]:
		"""(name, whether it runs now, what it does), in order; a phase never starts once the task is cancelled."""
		opt = self.spec.optimization
		return [
			("baseline", lambda: opt.baseline is not False, lambda ctx: noise_phase(self, ctx)),
			("search", lambda: True, lambda ctx: self._search(ctx, ctx.slots)),
			("repeats", lambda: self._status == TaskStatus.COMPLETED, lambda ctx: repeat_phase(self, ctx)),
		]

	def _run_phases(self, ctx: RunContext) -> None:
		t_start = time.monotonic()
		try:
			ctx.quality = quality_guard(self, ctx)  # the quality guardrail (quality/), when it is on
			for _name, wanted, phase in self._phases():
				if not self.cancel.is_set() and wanted():
					phase(ctx)
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

	def _finish(self) -> TaskResult:
		"""The recommendation, the final status (failed when every experiment failed), the task_finished event."""
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
			TaskFinished(
				task_id=self.task_id,
				status=self._status,
				experiments=count,
				best_experiment_id=best,
				best_number=best_number,  # the recommendation (repeats' intervals), not the best single run
				error=error,
			)
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
