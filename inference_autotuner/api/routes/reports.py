"""GET /api/tasks/{id}/report: the task's report (reporting/) as a file to download, HTML or Markdown; GET
/api/tasks/{id}/importance: the report's parameter importance as data (the web's "What mattered")."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from ...errors import AutotunerError
from ...paths import safe_name
from ...scoring.objectives import OBJECTIVE_INFO
from ...services import commands as svc
from ...services.summary import ObjectiveRef
from ...services.views import objectives_of
from ...store import Experiment
from ..deps import StoreDep, TaskId
from ..errors import NotFound
from ..schemas import ErrorBody, ParamImportance

router = APIRouter(prefix="/api/tasks", tags=["reports"])
MEDIA = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8"}
# The report has no script and needs nothing from anywhere: opened from the API's origin, it may not run or fetch any.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


@router.get(
	"/{task_id}/report",
	operation_id="get_task_report",
	response_class=Response,
	responses={
		200: {"content": {"text/html": {}, "text/markdown": {}}, "description": "The report file"},
		404: {"model": ErrorBody},
	},
)
def get_task_report(
	task_id: TaskId,
	store: StoreDep,
	format: Annotated[Literal["html", "md"], Query(description="html (plots inline) or md")] = "html",
	gpu_hour_usd: Annotated[
		float | None,
		Query(ge=0, le=1e6, description="Price of one GPU-hour for the cost figures (default: the spec's)"),
	] = None,
) -> Response:
	"""One self-contained file: the question, the recommendation vs the baseline, plots, parameter importance,
	failures by reason, cost, provenance, and the commands that serve the recommended configuration."""
	from ...reporting import build_report

	task = svc.get_task(store, task_id)
	try:
		text = build_report(store, task_id, format, gpu_hour_usd=gpu_hour_usd)
	except AutotunerError as exc:  # the task was deleted meanwhile
		raise NotFound(exc.message) from None
	name = f"{safe_name(task.name)}-report.{format}"
	return Response(
		content=text,
		media_type=MEDIA[format],
		headers={
			"Content-Disposition": f'attachment; filename="{name}"',
			"Content-Security-Policy": CSP,
			"X-Content-Type-Options": "nosniff",
		},
	)


@router.get(
	"/{task_id}/importance",
	operation_id="get_task_importance",
	response_model=ParamImportance,
	responses={404: {"model": ErrorBody}},
)
def get_task_importance(task_id: TaskId, store: StoreDep) -> ParamImportance:
	"""Parameter importance for the primary objective (PED-ANOVA on the task's Optuna study, as in the report), or
	a note saying why it cannot be computed yet."""
	from ...reporting.collect import param_importance

	task = svc.get_task(store, task_id)
	found, note = param_importance(store, dict(task.spec), task.study_name)
	primary = objectives_of(task.spec)[0]
	info = OBJECTIVE_INFO[primary]
	with store.session() as s:
		predicted = s.scalar(
			select(Experiment.id).where(Experiment.task_id == task_id, Experiment.predicted.is_(True)).limit(1)
		)
	return ParamImportance(
		task_id=task_id,
		objective=ObjectiveRef(name=primary, direction=info.direction, unit=info.unit),
		importances=found or {},
		note=note,
		predicted=predicted is not None,
	)
