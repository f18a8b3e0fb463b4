"""Task commands of the CLI and the API: create, update, start (resume), cancel, clear, delete; one unit of work each
(commit at this boundary). Status changes are compare-and-set, so concurrent callers cannot both win."""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from typing import Any

from sqlalchemy import delete, func, select, update

from ..errors import Conflict, NotFound, SpecError, SpecProblem, Unavailable
from ..paths import logs_dir, safe_name
from ..runner.budget import planned_for_spec
from ..spec import TaskSpec
from ..spec.compare import same_spec, spec_dump
from ..store import Experiment, Store, Task, TaskStatus
from ..store.db import study_name_for
from ..worker import TaskQueue
from .validate import parse_spec
from .views import find_task, get_task

ACTIVE = (TaskStatus.QUEUED, TaskStatus.RUNNING)
log = logging.getLogger(__name__)


def create_task(store: Store, data: Any, owner_id: int | None = None) -> Task:
	"""Validate everything first (the spec, its search space, what listing the task computes), then write the row in
	one transaction: a refused spec leaves nothing behind."""
	spec = data if isinstance(data, TaskSpec) else parse_spec(data)
	stored = spec_dump(spec)
	planned_for_spec(stored, spec.deployment_mode)  # what GET /api/tasks/ computes for it: fails now, not there
	with store.session() as s:
		if s.scalar(select(Task.id).where(Task.name == spec.task_name)) is not None:
			raise Conflict(
				f"a task named '{spec.task_name}' already exists",
				hint="pick another task_name, or update/restart the existing task",
			)
		task = Task(
			name=spec.task_name,
			description=spec.description,
			spec=stored,
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


def create_and_start(store: Store, queue: TaskQueue, data: Any, owner_id: int | None = None) -> Task:
	"""create_task, then start_task; when the start is refused (the queue is down) the new task is removed again, so
	the request either made a queued task or nothing."""
	task = create_task(store, data, owner_id)
	try:
		return start_task(store, queue, task.id)
	except BaseException:
		with store.session() as s:
			s.execute(delete(Task).where(Task.id == task.id, Task.status == TaskStatus.PENDING))
		raise


def update_task(store: Store, task_id: int, description: str | None, spec_data: Any | None) -> Task:
	spec = parse_spec(spec_data) if spec_data is not None else None
	new = spec_dump(spec) if spec is not None else None
	if new is not None and spec is not None:
		planned_for_spec(new, spec.deployment_mode)
	with store.session() as s:
		# compare-and-set first: the row is locked (SQLite: the database) until this transaction commits, so no start
		# can slip in between the check and the change
		if not _cas(s, task_id, IDLE, status=Task.status):
			raise _refusal(store, task_id, "update", "cancel it first, then update it")
		task = s.get(Task, task_id)
		assert task is not None
		if spec is not None and new is not None:
			n_exps = s.scalar(select(func.count()).where(Experiment.task_id == task_id)) or 0
			if n_exps and not same_spec(task.spec, new):
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


IDLE = (
	TaskStatus.PENDING,
	TaskStatus.COMPLETED,
	TaskStatus.FAILED,
	TaskStatus.CANCELLED,
	TaskStatus.INTERRUPTED,
)  # neither queued, running, nor being cleared: may be updated, cleared, deleted
STARTABLE = (TaskStatus.PENDING, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.INTERRUPTED)


def _cas(s: Any, task_id: int, allowed: tuple[str, ...], **values: Any) -> bool:
	"""UPDATE tasks SET values WHERE id = task_id AND status IN allowed: whether this call changed the row. The first
	statement of its transaction, so on SQLite it takes the write lock (waiting out others) before it reads."""
	res = s.execute(update(Task).where(Task.id == task_id, Task.status.in_(allowed)).values(**values))
	return int(getattr(res, "rowcount", 0) or 0) == 1


def _refusal(store: Store, task_id: int, action: str, hint: str) -> Exception:
	"""Why a compare-and-set found nothing to change: 404 for an unknown task, else 409 naming its status now."""
	with store.session() as s:
		row = s.execute(select(Task.status, Task.name).where(Task.id == task_id)).first()
	status, name = (row[0], row[1]) if row is not None else (None, None)
	if status is None:
		return NotFound(f"task {task_id} not found", hint="`autotuner list` (or GET /api/tasks/) lists the tasks")
	if status == TaskStatus.CLEARING:
		hint = "it is being cleared; wait a moment (a task left `clearing` by a crash can be deleted)"
	if action == "start" and status in ACTIVE:
		return Conflict(f"task '{name}' is already {status}", hint=hint)
	return Conflict(f"task '{name}' is {status}: cannot {action} it", hint=hint)


def _swap(
	store: Store, task_id: int, allowed: tuple[str, ...], action: str, hint: str, **values: Any
) -> tuple[str, str | None]:
	"""Compare-and-set from the status the task has now (one of `allowed`) to `values`; returns the (status, error)
	it had. Concurrent callers: exactly one wins, the others get 409 naming the status the winner set."""
	for _ in range(5):
		with store.session() as s:
			row = s.execute(select(Task.status, Task.error).where(Task.id == task_id)).first()
		if row is None:
			raise NotFound(f"task {task_id} not found", hint="`autotuner list` (or GET /api/tasks/) lists the tasks")
		status, error = str(row[0]), row[1]
		if status not in allowed:
			raise _refusal(store, task_id, action, hint)
		with store.session() as s:
			if _cas(s, task_id, (status,), **values):
				return status, error
	raise _refusal(store, task_id, action, "its status kept changing; try again")


def delete_task(store: Store, task_id: int) -> None:
	"""Compare-and-set: the row goes in the same transaction that checks it is not queued/running (a task being
	cleared may be deleted: that is how one left `clearing` by a crash goes); then its study and logs."""
	with store.session() as s:
		if not _cas(s, task_id, (*IDLE, TaskStatus.CLEARING), status=Task.status):
			raise _refusal(
				store,
				task_id,
				"delete",
				"cancel it first (POST /api/tasks/{id}/cancel, or Ctrl-C in its `autotuner tune`); a task whose tuner "
				"was killed: `autotuner delete --force`",
			)
		row = s.get(Task, task_id)
		assert row is not None
		s.expunge(row)
		s.execute(delete(Experiment).where(Experiment.task_id == task_id))
		s.execute(delete(Task).where(Task.id == task_id))
	try:  # the task is gone and nothing can start it: its study and logs go after
		_delete_study(store, row)
	except Exception:
		log.warning("task %s deleted; its study %s could not be removed", task_id, row.study_name, exc_info=True)
	_delete_logs(row)


def clear_task(store: Store, task_id: int) -> Task:
	"""Forget every experiment, the study and the logs; the task goes back to pending with the same spec.

	Compare-and-set to `clearing` first (no start can slip in while the study is deleted), then experiments and
	status in one transaction that only applies while the task is still `clearing`."""
	previous, _ = _swap(store, task_id, IDLE, "clear", "cancel it first, then clear it", status=TaskStatus.CLEARING)
	task = get_task(store, task_id)
	try:
		_delete_study(store, task)
	except BaseException:
		with store.session() as s:  # nothing was cleared: the task is as it was
			s.execute(
				update(Task).where(Task.id == task_id, Task.status == TaskStatus.CLEARING).values(status=previous)
			)
		raise
	with store.session() as s:
		done = _cas(
			s,
			task_id,
			(TaskStatus.CLEARING,),
			status=TaskStatus.PENDING,
			error=None,
			best_experiment_id=None,
			started_at=None,
			finished_at=None,
			elapsed=0.0,
		)
		if done:
			s.execute(delete(Experiment).where(Experiment.task_id == task_id))
	_delete_logs(task)
	return get_task(store, task_id)


def start_task(store: Store, queue: TaskQueue, task_id: int, *, restart: bool = False) -> Task:
	"""Queue the task: a new one starts, an interrupted/cancelled/failed one resumes exactly where it stopped.

	Compare-and-set on the status it had: of any number of concurrent starts exactly one queues it (the others get
	409), and when the queue refuses it the task gets its status back (503)."""
	if not restart and get_task(store, task_id).status == TaskStatus.COMPLETED:
		raise Conflict(
			f"task {task_id} is completed",
			hint="raise optimization.max_iterations (PUT /api/tasks/{id}) and restart, or clear it",
		)
	allowed = (*STARTABLE, TaskStatus.COMPLETED) if restart else STARTABLE
	status, error = _swap(
		store, task_id, allowed, "start", "cancel it first to restart it", status=TaskStatus.QUEUED, error=None
	)
	try:
		queue.enqueue(task_id)
	except Exception as exc:
		with store.session() as s:  # not queued after all: the task is as it was
			s.execute(
				update(Task)
				.where(Task.id == task_id, Task.status == TaskStatus.QUEUED)
				.values(status=status, error=error)
			)
		raise Unavailable(
			f"the task queue did not take task {task_id}: {type(exc).__name__}: {str(exc)[:200]}",
			hint="check that the queue (Redis) is reachable, then start it again",
		) from None
	return get_task(store, task_id)


def cancel_task(store: Store, queue: TaskQueue, task_id: int, wait: float = 0.0) -> Task:
	"""A queued task is cancelled at once (compare-and-set queued -> cancelled); a running one is asked to stop
	(engine stopped, status cancelled)."""
	with store.session() as s:
		was_queued = _cas(s, task_id, (TaskStatus.QUEUED,), status=TaskStatus.CANCELLED)
	if not was_queued:
		status = get_task(store, task_id).status
		if status != TaskStatus.RUNNING:
			raise Conflict(f"task {task_id} is {status}, not queued or running", hint="nothing to cancel")
	queue.cancel(task_id)  # also when it was queued: a worker may hold it already
	if not was_queued and wait > 0:
		deadline = time.monotonic() + wait
		while time.monotonic() < deadline and get_task(store, task_id).status in ACTIVE:
			time.sleep(0.1)
	return get_task(store, task_id)


def create_or_resume(store: Store, spec: TaskSpec) -> Task:
	"""`autotuner tune`: the task of this name when its spec is the same (spec/compare.py; a new max_iterations or
	description is taken), else a new task; a different spec under a taken name is refused (409 / exit 1)."""
	data = spec_dump(spec)
	with store.session() as s:
		task = s.scalar(select(Task).where(Task.name == spec.task_name))
		if task is not None:
			if not same_spec(task.spec, data):
				raise Conflict(
					f"task '{spec.task_name}' already exists with a different spec",
					hint="give the task a new task_name, or delete the old one (autotuner delete NAME)",
				)
			if task.status == TaskStatus.CLEARING:
				raise Conflict(f"task '{task.name}' is being cleared", hint="wait a moment, then run it again")
			task.spec = data
			task.description = spec.description
			s.flush()
			s.expunge(task)
			return task
	return create_task(store, spec)


def resume_task(store: Store, ref: str | int) -> Task:
	"""`autotuner resume`: the task to run again in this process, exactly where it stopped (a task left running by a
	killed tuner included); not one being cleared."""
	task = find_task(store, ref)
	if task.status == TaskStatus.CLEARING:
		raise Conflict(
			f"task '{task.name}' is being cleared", hint="wait a moment; a task left clearing can be deleted"
		)
	return task


def abandon_task(store: Store, task_id: int) -> None:
	"""`autotuner delete --force`: a task left queued or running by a tuner that is gone (killed) is marked
	interrupted, so the one delete rule lets it go. Never for a task a live tuner runs: the caller says so."""
	with store.session() as s:
		s.execute(update(Task).where(Task.id == task_id, Task.status.in_(ACTIVE)).values(status=TaskStatus.INTERRUPTED))


def experiment_count(store: Store, task_id: int) -> int:
	with store.session() as s:
		return int(s.scalar(select(func.count()).where(Experiment.task_id == task_id)) or 0)
