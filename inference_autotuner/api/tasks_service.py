"""Task operations behind the routes (one unit of work each; commit at this boundary)."""

from __future__ import annotations

import contextlib
import shutil
import time
from typing import Any

from sqlalchemy import func, select, update

from ..errors import SpecError, SpecProblem
from ..paths import logs_dir, safe_name
from ..runner.budget import planned_for_spec
from ..runner.task import spec_dump
from ..scoring import OBJECTIVE_INFO
from ..spec import parse_spec
from ..store import Experiment, ExperimentStatus, Store, Task, TaskStatus
from ..store.db import study_name_for
from ..users import owner_names
from ..worker import TaskQueue
from .errors import Conflict, NotFound

ACTIVE = (TaskStatus.QUEUED, TaskStatus.RUNNING)


def get_task(store: Store, task_id: int) -> Task:
	with store.session() as s:
		task = s.get(Task, task_id)
		if task is None:
			raise NotFound(f"task {task_id} not found", hint="GET /api/tasks/ lists the tasks")
		s.expunge(task)
		return task


def _status_counts(store: Store, task_ids: list[int]) -> dict[int, dict[str, int]]:
	"""Experiment counts by status for these tasks, in one query (index ix_experiments_task_status covers it)."""
	out: dict[int, dict[str, int]] = {tid: {} for tid in task_ids}
	if not task_ids:
		return out
	with store.session() as s:
		rows = s.execute(
			select(Experiment.task_id, Experiment.status, func.count())
			.where(Experiment.task_id.in_(task_ids))
			.group_by(Experiment.task_id, Experiment.status)
		).all()
	for tid, status, n in rows:
		out.setdefault(int(tid), {})[str(status)] = int(n)
	return out


def _best_values(store: Store, tasks: list[Task]) -> dict[int, float | None]:
	"""objective_value of each task's best experiment, in one query (by primary key)."""
	ids = [t.best_experiment_id for t in tasks if t.best_experiment_id is not None]
	if not ids:
		return {}
	with store.session() as s:
		rows = s.execute(select(Experiment.id, Experiment.objective_value).where(Experiment.id.in_(ids))).all()
	return {int(eid): (float(v) if v is not None else None) for eid, v in rows}


def task_public(
	store: Store,
	task: Task,
	counts: dict[str, int] | None = None,
	best_values: dict[int, float | None] | None = None,
	owners: dict[int, str] | None = None,
) -> dict[str, Any]:
	if counts is None:
		counts = _status_counts(store, [task.id])[task.id]
	if best_values is None:
		best_values = _best_values(store, [task])
	if owners is None:
		owners = owner_names(store, {task.owner_id} if task.owner_id is not None else set())
	data = {c: getattr(task, c) for c in Task.__table__.columns.keys()}  # noqa: SIM118
	optimization = task.spec.get("optimization") or {}
	data["max_iterations"] = optimization.get("max_iterations")
	data["experiments_total"] = sum(counts.values())
	data["experiments_planned"] = planned_for_spec(task.spec, task.deployment_mode)
	data["experiments_successful"] = counts.get(ExperimentStatus.SUCCESS, 0)
	primary = (optimization.get("objectives") or [optimization.get("objective") or "maximize_throughput"])[0]
	info = OBJECTIVE_INFO.get(primary)
	data["objective_unit"] = info.unit if info else None
	data["best_objective_value"] = best_values.get(task.best_experiment_id) if task.best_experiment_id else None
	data["owner"] = owners.get(task.owner_id) if task.owner_id is not None else None
	return data


def tasks_public(store: Store, tasks: list[Task]) -> list[dict[str, Any]]:
	"""task_public for a page of tasks with one count query and one best-value query (not one per task)."""
	counts = _status_counts(store, [t.id for t in tasks])
	best_values = _best_values(store, tasks)
	owners = owner_names(store, {t.owner_id for t in tasks if t.owner_id is not None})
	return [task_public(store, t, counts.get(t.id, {}), best_values, owners) for t in tasks]


def create_task(store: Store, data: Any, owner_id: int | None = None) -> Task:
	spec = parse_spec(data)
	with store.session() as s:
		if s.scalar(select(Task.id).where(Task.name == spec.task_name)) is not None:
			raise Conflict(
				f"a task named '{spec.task_name}' already exists",
				hint="pick another task_name, or update/restart the existing task",
			)
		task = Task(
			name=spec.task_name,
			description=spec.description,
			spec=spec_dump(spec),
			engine=spec.base_runtime,
			deployment_mode=spec.deployment_mode,
			status=TaskStatus.PENDING,
			study_name="pending",
			owner_id=owner_id,
		)
		s.add(task)
		s.flush()
		task.study_name = study_name_for(task.id, task.spec)
		s.flush()
		s.expunge(task)
		return task


def _without_budget(spec: dict[str, Any]) -> dict[str, Any]:
	out = dict(spec)
	opt = dict(out.get("optimization") or {})
	opt.pop("max_iterations", None)
	out["optimization"] = opt
	out.pop("description", None)
	return out


def update_task(store: Store, task_id: int, description: str | None, spec_data: Any | None) -> Task:
	with store.session() as s:
		task = s.get(Task, task_id)
		if task is None:
			raise NotFound(f"task {task_id} not found")
		if task.status in ACTIVE:
			raise Conflict(f"task {task_id} is {task.status}", hint="cancel it first, then update it")
		if spec_data is not None:
			spec = parse_spec(spec_data)
			new = spec_dump(spec)
			n_exps = s.scalar(select(func.count()).where(Experiment.task_id == task_id)) or 0
			if n_exps and _without_budget(new) != _without_budget(task.spec):
				raise Conflict(
					f"task {task_id} has {n_exps} experiment(s); only optimization.max_iterations and the "
					"description can change",
					hint="clear the task (POST /api/tasks/{id}/clear) to change anything else, or create a new task",
				)
			if spec.task_name != task.name:
				other = s.scalar(select(Task.id).where(Task.name == spec.task_name, Task.id != task_id))
				if other is not None:
					raise SpecError([SpecProblem("task_name", f"a task named '{spec.task_name}' already exists")])
				task.name = spec.task_name
			if not n_exps:  # nothing measured yet: the study follows the spec's optimization.study_name
				task.study_name = study_name_for(task.id, new)
			task.spec = new
			task.engine = spec.base_runtime
			task.deployment_mode = spec.deployment_mode
			task.description = spec.description
		if description is not None:
			task.description = description
		s.flush()
		s.expunge(task)
		return task


def _delete_study(store: Store, task: Task) -> None:
	import optuna

	with contextlib.suppress(KeyError):
		optuna.delete_study(study_name=task.study_name, storage=store.study_storage(task.spec))


def _delete_logs(task: Task) -> None:
	folder = logs_dir() / f"task_{task.id}_{safe_name(task.name)}"
	if folder.resolve().is_relative_to(logs_dir().resolve()):
		shutil.rmtree(folder, ignore_errors=True)


def delete_task(store: Store, task_id: int) -> None:
	task = get_task(store, task_id)
	if task.status in ACTIVE:
		raise Conflict(f"task {task_id} is {task.status}", hint="cancel it first (POST /api/tasks/{id}/cancel)")
	_delete_study(store, task)
	with store.session() as s:
		row = s.get(Task, task_id)
		if row is not None:
			s.delete(row)
	_delete_logs(task)


def clear_task(store: Store, task_id: int) -> Task:
	"""Forget every experiment, the study and the logs; the task goes back to pending with the same spec."""
	task = get_task(store, task_id)
	if task.status in ACTIVE:
		raise Conflict(f"task {task_id} is {task.status}", hint="cancel it first, then clear it")
	_delete_study(store, task)
	with store.session() as s:
		for e in s.scalars(select(Experiment).where(Experiment.task_id == task_id)):
			s.delete(e)
		row = s.get(Task, task_id)
		assert row is not None
		row.status, row.error, row.best_experiment_id = TaskStatus.PENDING, None, None
		row.started_at = row.finished_at = None
		row.elapsed = 0.0
	_delete_logs(task)
	return get_task(store, task_id)


def start_task(store: Store, queue: TaskQueue, task_id: int, *, restart: bool = False) -> Task:
	"""Queue the task: a new one starts, an interrupted/cancelled/failed one resumes exactly where it stopped."""
	with store.session() as s:
		task = s.get(Task, task_id)
		if task is None:
			raise NotFound(f"task {task_id} not found")
		if task.status in ACTIVE:
			raise Conflict(f"task {task_id} is already {task.status}", hint="cancel it first to restart it")
		if task.status == TaskStatus.COMPLETED and not restart:
			raise Conflict(
				f"task {task_id} is completed",
				hint="raise optimization.max_iterations (PUT /api/tasks/{id}) and restart, or clear it",
			)
		task.status, task.error = TaskStatus.QUEUED, None
	queue.enqueue(task_id)
	return get_task(store, task_id)


def cancel_task(store: Store, queue: TaskQueue, task_id: int, wait: float = 0.0) -> Task:
	"""A queued task is cancelled at once; a running one is asked to stop (engine stopped, status cancelled)."""
	task = get_task(store, task_id)
	if task.status not in ACTIVE:
		raise Conflict(f"task {task_id} is {task.status}, not queued or running", hint="nothing to cancel")
	with store.session() as s:
		res = s.execute(
			update(Task).where(Task.id == task_id, Task.status == TaskStatus.QUEUED).values(status=TaskStatus.CANCELLED)
		)
		was_queued = getattr(res, "rowcount", 0) == 1
	queue.cancel(task_id)  # also when it was queued: a worker may hold it already
	if not was_queued and wait > 0:
		deadline = time.monotonic() + wait
		while time.monotonic() < deadline and get_task(store, task_id).status in ACTIVE:
			time.sleep(0.1)
	return get_task(store, task_id)
