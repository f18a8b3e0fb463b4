"""/api/experiments: the experiments of a task (sort, filter by status, paginate) and one experiment."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy import func, select

from ...services import commands as svc
from ...store import Experiment
from ..deps import ExperimentId, StoreDep, TaskId
from ..errors import NotFound
from ..schemas import ErrorBody, ExperimentPublic

router = APIRouter(prefix="/api/experiments", tags=["experiments"])
SORTS = {
	"number": Experiment.number,
	"score": Experiment.score,
	"objective_value": Experiment.objective_value,
	"duration": Experiment.duration,
	"started_at": Experiment.started_at,
	"status": Experiment.status,
}


@router.get(
	"/task/{task_id}",
	operation_id="list_task_experiments",
	response_model=list[ExperimentPublic],
	responses={404: {"model": ErrorBody}},
)
def list_task_experiments(
	task_id: TaskId,
	store: StoreDep,
	response: Response,
	status: Annotated[str | None, Query(max_length=20, description="Only this status (success, failed, ...)")] = None,
	sort_by: Annotated[Literal["number", "score", "objective_value", "duration", "started_at", "status"], Query()] = (
		"number"
	),
	order: Annotated[Literal["asc", "desc"], Query()] = "asc",
	skip: Annotated[int, Query(ge=0, le=10**9)] = 0,
	limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[Any]:
	"""Experiments of a task; the total before paging is in the X-Total-Count header. Nulls sort last."""
	svc.get_task(store, task_id)
	col = SORTS[sort_by]
	query = select(Experiment.id).where(Experiment.task_id == task_id)
	if status:
		query = query.where(Experiment.status == status)
	ordering = col.desc() if order == "desc" else col.asc()
	with store.session() as s:
		total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
		# The page's ids first (the sort handles small records, not whole rows with their JSON), then those rows.
		ids = list(
			s.scalars(query.order_by(col.is_(None), ordering, Experiment.number.asc()).offset(skip).limit(limit))
		)
		by_id = {e.id: e for e in s.scalars(select(Experiment).where(Experiment.id.in_(ids)))} if ids else {}
		rows = [by_id[i] for i in ids if i in by_id]
		for r in rows:
			s.expunge(r)
	response.headers["X-Total-Count"] = str(total)
	return rows


@router.get(
	"/{experiment_id}",
	operation_id="get_experiment",
	response_model=ExperimentPublic,
	responses={404: {"model": ErrorBody}},
)
def get_experiment(experiment_id: ExperimentId, store: StoreDep) -> Any:
	with store.session() as s:
		exp = s.get(Experiment, experiment_id)
		if exp is None:
			raise NotFound(f"experiment {experiment_id} not found")
		s.expunge(exp)
		return exp
