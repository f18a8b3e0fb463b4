"""The workers view (`autotuner workers`, GET /api/workers): each worker, its host and resources, the tasks it
serves and the experiments it is measuring right now (docs/distributed.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select

from ..store import Experiment, ExperimentStatus, Store, Task


class WorkerExperiment(BaseModel):
	"""An experiment a worker is measuring."""

	task_id: int
	task_name: str
	number: int
	params: dict[str, Any]
	started_at: datetime | None


class WorkerPublic(BaseModel):
	id: str = Field(description="The worker's name (autotuner worker --name; host-pid by default)")
	kind: str = Field(description="redis (autotuner worker) or in-process (a thread of autotuner serve)")
	state: str = Field(description="idle | busy | unreachable (Redis did not answer)")
	host: str | None = None
	pid: int | None = None
	task_id: int | None = Field(None, description="The first task it serves")
	tasks: list[int] = Field(default_factory=list, description="Tasks it runs (took from the queue)")
	joined: list[int] = Field(default_factory=list, description="Tasks whose search it joined (docs/distributed.md)")
	resources: dict[str, Any] = Field(default_factory=dict, description="What it offers: cpus (core ids), gpus (count)")
	running: list[WorkerExperiment] = Field(default_factory=list, description="Experiments it is measuring now")
	error: str | None = None


def list_workers(store: Store, workers: list[dict[str, Any]]) -> list[WorkerPublic]:
	"""`workers`: what the queue knows of them (TaskQueue.workers(): Redis heartbeats, or the in-process threads),
	with the experiments each is measuring now from the database."""
	with store.session() as s:
		rows = s.execute(
			select(
				Experiment.worker,
				Experiment.task_id,
				Task.name,
				Experiment.number,
				Experiment.params,
				Experiment.started_at,
			)
			.join(Task, Task.id == Experiment.task_id)
			.where(Experiment.status == ExperimentStatus.RUNNING, Experiment.worker.is_not(None))
			.order_by(Experiment.task_id, Experiment.number)
		).all()
	running: dict[str, list[WorkerExperiment]] = {}
	for w, tid, name, number, params, started in rows:
		running.setdefault(str(w), []).append(
			WorkerExperiment(task_id=tid, task_name=name, number=number, params=params, started_at=started)
		)
	out = []
	for w in workers:
		item = WorkerPublic.model_validate({k: v for k, v in w.items() if k in WorkerPublic.model_fields})
		item.running = running.get(item.id, [])
		out.append(item)
	return out
