"""GET /metrics: Prometheus exposition (text, or OpenMetrics when the scraper asks for it).

What this process counted from the runner's events (its in-process worker's experiments, start-up times, load-client
lag), plus tasks by status and the queue depth read from the store at scrape time (inference_autotuner/telemetry.py).
Like every read it needs a viewer token once users exist (Prometheus: `authorization: {credentials_file: ...}`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ... import telemetry
from ..deps import QueueDep, StoreDep

router = APIRouter(tags=["metrics"])


@router.get(
	"/metrics",
	operation_id="metrics",
	response_class=Response,
	responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format 0.0.4"}},
)
def metrics(request: Request, store: StoreDep, queue: QueueDep) -> Response:
	"""Prometheus metrics: tasks by status, queue depth, workers, experiments started/finished by status and reason
	class, experiment duration, engine start-up time, load-client lag, and the process's own figures."""
	body, content_type = telemetry.exposition(request.headers.get("accept"), telemetry.StoreCollector(store, queue))
	return Response(content=body, media_type=content_type)
