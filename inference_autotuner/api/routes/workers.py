"""/api/workers: the workers, their hosts and resources, and what each is measuring (services/workers.py)."""

from __future__ import annotations

from fastapi import APIRouter

from ...services.workers import WorkerPublic, list_workers
from ..deps import QueueDep, StoreDep

router = APIRouter(prefix="/api/workers", tags=["workers"])


@router.get("/", operation_id="list_workers", response_model=list[WorkerPublic])
def workers(store: StoreDep, queue: QueueDep) -> list[WorkerPublic]:
	"""Every worker with its host, resources (CPU cores, GPUs), tasks and the experiments it is measuring now."""
	return list_workers(store, queue.workers())
