"""GET /api/tasks/{id}/report: the task's report (reporting/) as a file to download, HTML or Markdown."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from ...errors import AutotunerError
from ...paths import safe_name
from .. import tasks_service as svc
from ..deps import StoreDep, TaskId
from ..errors import NotFound
from ..schemas import ErrorBody

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
