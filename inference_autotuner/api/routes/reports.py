"""GET /api/tasks/{id}/report: the task's report (reporting/) as a file to download, HTML or Markdown; GET
/api/tasks/{id}/importance: the report's parameter importance as data (the web's "What mattered"); GET
/api/tasks/{id}/export: the task's results as csv, json, or the result folders of vLLM's sweep and genai-bench (zip)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
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


class UnknownObjective(AutotunerError):
	http_status = 422


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


EXPORT_MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json", "zip": "application/zip"}


@router.get(
	"/{task_id}/export",
	operation_id="export_task",
	response_class=Response,
	responses={
		200: {
			"content": {"text/csv": {}, "application/json": {}, "application/zip": {}},
			"description": "The export: one file (csv, json) or a zip of the peer tool's result folder",
		},
		404: {"model": ErrorBody},
		422: {"model": ErrorBody},
	},
)
def export_task(
	task_id: TaskId,
	store: StoreDep,
	format: Annotated[
		Literal["csv", "json", "vllm-sweep", "genai-bench"],
		Query(description="csv, json, vllm-sweep or genai-bench (the last two as a zip of their result folder)"),
	] = "csv",
) -> Response:
	"""The task's results as `autotuner export` writes them (docs/report.md, Export)."""
	from ...reporting.export_formats import build_export, folder_name, zip_bytes

	task = svc.get_task(store, task_id)
	try:
		exported = build_export(store, task_id, format)
	except AutotunerError as exc:
		if exc.http_status == 404:  # the task was deleted meanwhile
			raise NotFound(exc.message) from None
		raise
	if exported.folder:
		root = folder_name(safe_name(task.name), format)
		body: bytes | str = zip_bytes(exported, root)
		name, media = f"{root}.zip", EXPORT_MEDIA["zip"]
	else:
		name, body = next(iter(exported.files.items()))
		media = EXPORT_MEDIA[format]
	headers = {"Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"}
	return Response(content=body, media_type=media, headers=headers)


class TaskProvenance(BaseModel):
	"""The provenance the web compare page sets side by side (`autotuner compare` compares the same fields)."""

	task_id: int
	experiment_number: int | None = Field(
		None, description="The experiment it is from: the recommended one, else the first with provenance"
	)
	provenance: dict[str, str | int | float | bool | None] | None = Field(
		None,
		description="Flat dotted fields (engine.version, host.gpus, tools.optuna, workload_hash, ...), without the "
		"per-experiment ones (argv); null for results measured before provenance was kept",
	)
	differs_within: list[str] = Field(
		default_factory=list, description="Fields the task's own experiments differ in (their figures may not compare)"
	)


@router.get(
	"/{task_id}/provenance",
	operation_id="get_task_provenance",
	response_model=TaskProvenance,
	responses={404: {"model": ErrorBody}},
)
def get_task_provenance(task_id: TaskId, store: StoreDep) -> TaskProvenance:
	"""Where and with what the task's recommended result was measured (engine and version, GPUs, driver, host, tools,
	workload hash, tuner revision), for comparing tasks."""
	from ...reporting.collect import comparable_provenance

	svc.get_task(store, task_id)
	try:
		number, flat, differs = comparable_provenance(store, task_id)
	except AutotunerError as exc:  # deleted meanwhile
		raise NotFound(exc.message) from None
	return TaskProvenance(task_id=task_id, experiment_number=number, provenance=flat, differs_within=differs)


@router.get(
	"/{task_id}/importance",
	operation_id="get_task_importance",
	response_model=ParamImportance,
	responses={404: {"model": ErrorBody}},
)
def get_task_importance(
	task_id: TaskId,
	store: StoreDep,
	objective: Annotated[
		str | None,
		Query(max_length=64, description="One of the task's objectives (default: its primary one)"),
	] = None,
) -> ParamImportance:
	"""Parameter importance for one of the task's objectives, the primary one by default (PED-ANOVA on the task's
	Optuna study, as in the report), or a note saying why it cannot be computed yet."""
	from ...reporting.collect import param_importance

	task = svc.get_task(store, task_id)
	names = objectives_of(task.spec)
	if objective is not None and objective not in names:
		raise UnknownObjective(
			f"task {task_id} has no objective '{objective}'", hint="its objectives: " + ", ".join(names)
		)
	chosen = objective or names[0]
	found, note = param_importance(store, dict(task.spec), task.study_name, names.index(chosen))
	info = OBJECTIVE_INFO[chosen]
	with store.session() as s:
		predicted = s.scalar(
			select(Experiment.id).where(Experiment.task_id == task_id, Experiment.predicted.is_(True)).limit(1)
		)
	return ParamImportance(
		task_id=task_id,
		objective=ObjectiveRef(name=chosen, direction=info.direction, unit=info.unit),
		importances=found or {},
		note=note,
		predicted=predicted is not None,
	)
