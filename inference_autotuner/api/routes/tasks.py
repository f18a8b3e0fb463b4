"""/api/tasks: create (JSON or YAML spec), list, get, get by name, summary, Pareto front, update, delete, start, cancel,
restart, clear."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from ...services import commands as svc
from ...services.summary import ParetoFront, TaskSummary, pareto_front, task_summary
from ...services.views import TaskPublic, find_task, task_view
from ...services.views import list_tasks as list_task_views
from ...store import Store
from ...users import owner_names
from ..auth import Operator, Principal, check_owner
from ..deps import SPEC_BODY, QueueDep, StoreDep, TaskId, read_document
from ..schemas import ErrorBody, TaskUpdate

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
) -> TaskPublic:
	"""The task is owned by the signed-in user (operators change only their own tasks)."""
	data = await read_document(request)
	if start:  # in a thread: a queue may wait on this event loop; a refused start leaves no task behind
		task = await asyncio.to_thread(svc.create_and_start, store, queue, data, owner_id=user.user_id)
	else:
		task = await asyncio.to_thread(svc.create_task, store, data, owner_id=user.user_id)
	return await asyncio.to_thread(task_view, store, task.id)


@router.get("/", operation_id="list_tasks", response_model=list[TaskPublic])
def list_tasks(
	store: StoreDep,
	response: Response,
	status: Annotated[str | None, Query(max_length=20, description="Only tasks with this status")] = None,
	engine: Annotated[str | None, Query(max_length=40)] = None,
	q: Annotated[str | None, Query(max_length=200, description="Name contains")] = None,
	skip: Annotated[int, Query(ge=0, le=10**9)] = 0,
	limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TaskPublic]:
	"""Newest first; the total before paging is in the X-Total-Count header (the list `autotuner list` prints)."""
	total, tasks = list_task_views(store, status=status, engine=engine, q=q, skip=skip, limit=limit)
	response.headers["X-Total-Count"] = str(total)
	return tasks


@router.get("/name/{name}", operation_id="get_task_by_name", response_model=TaskPublic, responses=ERRORS)
def get_task_by_name(name: str, store: StoreDep) -> TaskPublic:
	return task_view(store, find_task(store, name, by_id=False).id)


@router.get("/{task_id}", operation_id="get_task", response_model=TaskPublic, responses=ERRORS)
def get_task(task_id: TaskId, store: StoreDep) -> TaskPublic:
	return task_view(store, task_id)


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
	return pareto_front(store, task_id)


@router.put("/{task_id}", operation_id="update_task", response_model=TaskPublic, responses=ERRORS)
def update_task(task_id: TaskId, body: TaskUpdate, store: StoreDep, user: Operator) -> TaskPublic:
	"""Change the description or the spec of a task that is not queued or running."""
	_own(store, task_id, user)
	return task_view(store, svc.update_task(store, task_id, body.description, body.spec).id)


@router.delete("/{task_id}", operation_id="delete_task", status_code=204, responses=ERRORS)
def delete_task(task_id: TaskId, store: StoreDep, user: Operator) -> Response:
	"""Delete a task with its experiments, logs and Optuna study (not while it is queued or running)."""
	_own(store, task_id, user)
	svc.delete_task(store, task_id)
	return Response(status_code=204)


@router.post("/{task_id}/start", operation_id="start_task", response_model=TaskPublic, responses=ERRORS)
def start_task(task_id: TaskId, store: StoreDep, queue: QueueDep, user: Operator) -> TaskPublic:
	"""Queue a pending task, or resume an interrupted, cancelled or failed one exactly where it stopped."""
	_own(store, task_id, user)
	return task_view(store, svc.start_task(store, queue, task_id).id)


@router.post("/{task_id}/restart", operation_id="restart_task", response_model=TaskPublic, responses=ERRORS)
def restart_task(task_id: TaskId, store: StoreDep, queue: QueueDep, user: Operator) -> TaskPublic:
	"""Like start, also for a completed task (it runs until the, possibly raised, max_iterations)."""
	_own(store, task_id, user)
	return task_view(store, svc.start_task(store, queue, task_id, restart=True).id)


@router.post("/{task_id}/cancel", operation_id="cancel_task", response_model=TaskPublic, responses=ERRORS)
def cancel_task(
	task_id: TaskId,
	store: StoreDep,
	queue: QueueDep,
	user: Operator,
	wait: Annotated[float, Query(ge=0, le=60, description="Seconds to wait until it has stopped")] = 0,
) -> TaskPublic:
	"""Stop a queued or running task: its engine is stopped and it becomes `cancelled` (resumable with start)."""
	_own(store, task_id, user)
	return task_view(store, svc.cancel_task(store, queue, task_id, wait).id)


@router.post("/{task_id}/clear", operation_id="clear_task", response_model=TaskPublic, responses=ERRORS)
def clear_task(task_id: TaskId, store: StoreDep, user: Operator) -> TaskPublic:
	"""Delete every experiment, the study and the logs; the task becomes pending with the same spec."""
	_own(store, task_id, user)
	return task_view(store, svc.clear_task(store, task_id).id)


def _own(store: Store, task_id: int, user: Principal) -> None:
	"""404 for an unknown task; 403 unless the user is an admin or the operator who created it."""
	task = svc.get_task(store, task_id)
	if not user.owns(task.owner_id):
		owner = owner_names(store, {task.owner_id}).get(task.owner_id) if task.owner_id is not None else None
		check_owner(user, task.owner_id, f"task {task_id}", owner)
