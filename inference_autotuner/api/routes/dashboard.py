"""/api/dashboard: GPU status, worker status, database statistics, experiment timeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from ...store import Experiment, Task
from ...store.models import Preset, utcnow
from ..deps import QueueDep, StoreDep
from ..schemas import as_utc

router = APIRouter(prefix="/api/dashboard", tags=["dashboard"])


@router.get("/gpu-status", operation_id="gpu_status")
def gpu_status() -> dict[str, Any]:
	"""GPUs on this host (empty when there are none or no GPU module is available)."""
	try:
		from ... import gpus  # type: ignore[attr-defined]

		found = gpus.detect() if hasattr(gpus, "detect") else []
		items = [g.model_dump(mode="json") if hasattr(g, "model_dump") else dict(vars(g)) for g in found]
	except Exception:
		items = []
	return {"available": bool(items), "gpus": items}


@router.get("/worker-status", operation_id="worker_status")
def worker_status(store: StoreDep, queue: QueueDep) -> dict[str, Any]:
	with store.session() as s:
		rows = s.execute(select(Task.status, func.count()).group_by(Task.status)).all()
	counts = {str(k): int(v) for k, v in rows}
	return {
		"mode": queue.mode,
		"workers": queue.workers(),
		"queued": counts.get("queued", 0),
		"running": counts.get("running", 0),
	}


@router.get("/db-statistics", operation_id="db_statistics")
def db_statistics(store: StoreDep) -> dict[str, Any]:
	with store.session() as s:
		tasks = {str(k): int(v) for k, v in s.execute(select(Task.status, func.count()).group_by(Task.status))}
		# one scan of the covering index (status, duration): counts, and the mean duration from sum / count
		rows = s.execute(
			select(
				Experiment.status, func.count(), func.sum(Experiment.duration), func.count(Experiment.duration)
			).group_by(Experiment.status)
		).all()
		presets = int(s.scalar(select(func.count()).select_from(Preset)) or 0)
	exps = {str(k): int(n) for k, n, _, _ in rows}
	timed = sum(int(c) for _, _, _, c in rows)
	avg = sum(float(d or 0) for _, _, d, _ in rows) / timed if timed else None
	return {
		"tasks": {"total": sum(tasks.values()), "by_status": tasks},
		"experiments": {"total": sum(exps.values()), "by_status": exps, "mean_duration_s": avg},
		"presets": presets,
		"dialect": store.engine.dialect.name,
	}


@router.get("/experiment-timeline", operation_id="experiment_timeline")
def experiment_timeline(
	store: StoreDep,
	hours: Annotated[float, Query(gt=0, le=24 * 365)] = 24,
	limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[dict[str, Any]]:
	"""Experiments started in the last `hours`, newest first, with their task's name."""
	since = utcnow() - timedelta(hours=hours)
	cols = (
		Experiment.id,
		Experiment.task_id,
		Task.name,
		Experiment.number,
		Experiment.status,
		Experiment.objective_value,
		Experiment.started_at,
		Experiment.finished_at,
		Experiment.duration,
		Experiment.worker,
		Experiment.host,
	)
	q = (  # only the columns shown: loading whole rows (their JSON) would cost ~0.2 ms each
		select(*cols)
		.join(Task, Task.id == Experiment.task_id)
		.where(Experiment.started_at.is_not(None), Experiment.started_at >= since)
		.order_by(Experiment.started_at.desc())
		.limit(limit)
	)
	with store.session() as s:
		return [
			{
				"id": e.id,
				"task_id": e.task_id,
				"task_name": e.name,
				"number": e.number,
				"status": e.status,
				"objective_value": e.objective_value,
				"started_at": as_utc(e.started_at).isoformat() if e.started_at else None,
				"finished_at": as_utc(e.finished_at).isoformat() if e.finished_at else None,
				"duration": e.duration,
				"worker": e.worker,  # the timeline's lane when workers share tasks (docs/distributed.md)
				"host": e.host,
			}
			for e in s.execute(q)
		]
