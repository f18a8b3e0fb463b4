"""/api/tasks: create (JSON or YAML spec), list, get, get by name, summary, Pareto front, update, delete, start, cancel,
restart, clear."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import func, select

from ...runner.summary import TaskSummary, task_summary
from ...store import Store, Task
from ...users import owner_names
from .. import tasks_service as svc
from ..auth import Operator, Principal, check_owner
from ..deps import SPEC_BODY, QueueDep, StoreDep, TaskId, read_document
from ..errors import Conflict, NotFound
from ..schemas import ErrorBody, ParetoFront, TaskPublic, TaskUpdate

router = APIRouter(prefix="/api/tasks", tags=["tasks"])
ERRORS: dict[int | str, dict[str, Any]] = {
	404: {"model": ErrorBody},
	409: {"model": ErrorBody},
	422: {"model": ErrorBody},
}


@router.post(
	"/",
	operation_id="create_task",
	status_code=201,
	response_model=TaskPublic,
	responses=ERRORS,
	openapi_extra=SPEC_BODY,
	summary="Create a task from a spec (JSON, or the YAML file itself with Content-Type: application/yaml)",
)
async def create_task(
	request: Request,
	store: StoreDep,
	queue: QueueDep,
	user: Operator,
	start: Annotated[bool, Query(description="Queue the task right away")] = False,
) -> dict[str, Any]:
	"""The task is owned by the signed-in user (operators change only their own tasks)."""
	data = await read_document(request)
	if start:  # in a thread: a queue may wait on this event loop; a refused start leaves no task behind
		task = await asyncio.to_thread(svc.create_and_start, store, queue, data, owner_id=user.user_id)
	else:
		task = await asyncio.to_thread(svc.create_task, store, data, owner_id=user.user_id)
	return await asyncio.to_thread(svc.task_public, store, task)


@router.get("/", operation_id="list_tasks", response_model=list[TaskPublic])
def list_tasks(
	store: StoreDep,
	response: Response,
	status: Annotated[str | None, Query(max_length=20, description="Only tasks with this status")] = None,
	engine: Annotated[str | None, Query(max_length=40)] = None,
	q: Annotated[str | None, Query(max_length=200, description="Name contains")] = None,
	skip: Annotated[int, Query(ge=0, le=10**9)] = 0,
	limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
	"""Newest first; the total before paging is in the X-Total-Count header."""
	query = select(Task)
	if status:
		query = query.where(Task.status == status)
	if engine:
		query = query.where(Task.engine == engine)
	if q:
		query = query.where(Task.name.contains(q, autoescape=True))
	with store.session() as s:
		total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
		tasks = list(s.scalars(query.order_by(Task.id.desc()).offset(skip).limit(limit)))
		for t in tasks:
			s.expunge(t)
	response.headers["X-Total-Count"] = str(total)
	return svc.tasks_public(store, tasks)


@router.get("/name/{name}", operation_id="get_task_by_name", response_model=TaskPublic, responses=ERRORS)
def get_task_by_name(name: str, store: StoreDep) -> dict[str, Any]:
	with store.session() as s:
		task = s.scalar(select(Task).where(Task.name == name))
		if task is None:
			raise NotFound(f"no task named '{name}'", hint="GET /api/tasks/ lists the tasks")
		s.expunge(task)
	return svc.task_public(store, task)


@router.get("/{task_id}", operation_id="get_task", response_model=TaskPublic, responses=ERRORS)
def get_task(task_id: TaskId, store: StoreDep) -> dict[str, Any]:
	return svc.task_public(store, svc.get_task(store, task_id))


@router.get("/{task_id}/summary", operation_id="get_task_summary", response_model=TaskSummary, responses=ERRORS)
def get_task_summary(task_id: TaskId, store: StoreDep) -> TaskSummary:
	"""The recommended configuration (mean and 95 % CI over its repeats), the baseline and the gain over it, the
	time early stopping saved, experiments by origin and status, and (multi-objective tasks) the Pareto front."""
	svc.get_task(store, task_id)
	return task_summary(store, task_id)


@router.get("/{task_id}/pareto", operation_id="get_task_pareto", response_model=ParetoFront, responses=ERRORS)
def get_task_pareto(task_id: TaskId, store: StoreDep) -> ParetoFront:
	"""The Pareto front of a multi-objective task (409 for a single-objective task): each configuration at the
	means of its successful experiments' objective values."""
	svc.get_task(store, task_id)
	summary = task_summary(store, task_id)
	if not summary.multi_objective:
		raise Conflict(
			f"task {task_id} has one objective ({summary.objectives[0].name}): it has no Pareto front",
			hint="list two or more objectives in optimization.objectives; GET /api/tasks/{id}/summary has its best",
		)
	return ParetoFront(task_id=task_id, objectives=summary.objectives, front=summary.pareto)


@router.put("/{task_id}", operation_id="update_task", response_model=TaskPublic, responses=ERRORS)
def update_task(task_id: TaskId, body: TaskUpdate, store: StoreDep, user: Operator) -> dict[str, Any]:
	"""Change the description or the spec of a task that is not queued or running."""
	_own(store, task_id, user)
	return svc.task_public(store, svc.update_task(store, task_id, body.description, body.spec))


@router.delete("/{task_id}", operation_id="delete_task", status_code=204, responses=ERRORS)
def delete_task(task_id: TaskId, store: StoreDep, user: Operator) -> Response:
	"""Delete a task with its experiments, logs and Optuna study (not while it is queued or running)."""
	_own(store, task_id, user)
	svc.delete_task(store, task_id)
	return Response(status_code=204)


@router.post("/{task_id}/start", operation_id="start_task", response_model=TaskPublic, responses=ERRORS)
def start_task(task_id: TaskId, store: StoreDep, queue: QueueDep, user: Operator) -> dict[str, Any]:
	"""Queue a pending task, or resume an interrupted, cancelled or failed one exactly where it stopped."""
	_own(store, task_id, user)
	return svc.task_public(store, svc.start_task(store, queue, task_id))


@router.post("/{task_id}/restart", operation_id="restart_task", response_model=TaskPublic, responses=ERRORS)
def restart_task(task_id: TaskId, store: StoreDep, queue: QueueDep, user: Operator) -> dict[str, Any]:
	"""Like start, also for a completed task (it runs until the, possibly raised, max_iterations)."""
	_own(store, task_id, user)
	return svc.task_public(store, svc.start_task(store, queue, task_id, restart=True))


@router.post("/{task_id}/cancel", operation_id="cancel_task", response_model=TaskPublic, responses=ERRORS)
def cancel_task(
	task_id: TaskId,
	store: StoreDep,
	queue: QueueDep,
	user: Operator,
	wait: Annotated[float, Query(ge=0, le=60, description="Seconds to wait until it has stopped")] = 0,
) -> dict[str, Any]:
	"""Stop a queued or running task: its engine is stopped and it becomes `cancelled` (resumable with start)."""
	_own(store, task_id, user)
	return svc.task_public(store, svc.cancel_task(store, queue, task_id, wait))


@router.post("/{task_id}/clear", operation_id="clear_task", response_model=TaskPublic, responses=ERRORS)
def clear_task(task_id: TaskId, store: StoreDep, user: Operator) -> dict[str, Any]:
	"""Delete every experiment, the study and the logs; the task becomes pending with the same spec."""
	_own(store, task_id, user)
	return svc.task_public(store, svc.clear_task(store, task_id))


def _own(store: Store, task_id: int, user: Principal) -> None:
	"""404 for an unknown task; 403 unless the user is an admin or the operator who created it."""
	task = svc.get_task(store, task_id)
	if not user.owns(task.owner_id):
		owner = owner_names(store, {task.owner_id}).get(task.owner_id) if task.owner_id is not None else None
		check_owner(user, task.owner_id, f"task {task_id}", owner)
