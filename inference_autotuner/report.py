"""Read-side views of tasks and experiments, shared by the CLI (and later the API): no business logic here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .errors import TaskNotFoundError
from .runner.budget import planned_for_spec
from .scoring import OBJECTIVE_INFO
from .store import Experiment, Store, Task

if TYPE_CHECKING:
	from .runner.summary import TaskSummary

FIGURE_COLUMNS = [
	("output_throughput", "out tok/s", 1.0),
	("total_throughput", "total tok/s", 1.0),
	("mean_ttft", "TTFT ms", 1000.0),
	("p90_ttft", "p90 TTFT ms", 1000.0),
	("mean_tpot", "TPOT ms", 1000.0),
	("mean_e2e_latency", "E2E ms", 1000.0),
	("goodput", "goodput req/s", 1.0),
	("error_rate", "errors", 1.0),
]


def find_task(store: Store, ref: str | int) -> Task:
	with store.session() as s:
		task = None
		if isinstance(ref, int) or str(ref).isdigit():
			task = s.get(Task, int(ref))
		if task is None:
			task = s.scalar(select(Task).where(Task.name == str(ref)))
		if task is None:
			raise TaskNotFoundError(f"no task named or numbered '{ref}'", hint="run `autotuner list` to see tasks")
		s.expunge(task)
		return task


def experiments_of(store: Store, task_id: int) -> list[Experiment]:
	with store.session() as s:
		rows = list(s.scalars(select(Experiment).where(Experiment.task_id == task_id).order_by(Experiment.number)))
		for r in rows:
			s.expunge(r)
		return rows


def experiment_dict(e: Experiment) -> dict[str, Any]:
	return {
		"number": e.number,
		"status": e.status,
		"origin": e.origin,
		"params": e.params,
		"objective_value": e.objective_value,
		"objective_values": e.objective_values,
		"score": e.score,
		"pareto": e.pareto,
		"saved_s": e.saved_seconds,
		"figures": e.figures,
		"failure_reason": e.failure_reason,
		"launch_command": e.launch_command,
		"log_path": e.log_path,
		"duration_s": e.duration,
		"startup_s": e.startup_seconds,
		"bench_s": e.bench_seconds,
		"predicted": e.predicted,
		"gpu_info": e.gpu_info,
		"provenance": e.provenance,
		"runs": e.runs,
	}


def task_dict(task: Task, exps: list[Experiment]) -> dict[str, Any]:
	best = next((e for e in exps if e.id == task.best_experiment_id), None)
	opt = task.spec.get("optimization", {})
	objectives = opt.get("objectives") or [opt.get("objective", "maximize_throughput")]
	objective = objectives[0]  # the primary objective: objective_value is in its units
	direction, _key, unit = OBJECTIVE_INFO[objective]
	return {
		"id": task.id,
		"name": task.name,
		"status": task.status,
		"engine": task.engine,
		"deployment_mode": task.deployment_mode,
		"objective": objective,
		"objectives": objectives,
		"objective_unit": unit,
		"direction": direction,
		"created_at": task.created_at.isoformat() if task.created_at else None,
		"elapsed_s": task.elapsed,
		"max_iterations": task.spec.get("optimization", {}).get("max_iterations"),
		"planned": planned_for_spec(task.spec, task.deployment_mode),  # search + baseline + repeats
		"experiments": [experiment_dict(e) for e in exps],
		"best": experiment_dict(best) if best else None,
		"predicted": any(e.predicted for e in exps),  # some figures come from a performance model, not measured
		"error": task.error,
	}


def recommended_of(data: dict[str, Any], summary: TaskSummary | None) -> dict[str, Any] | None:
	"""The experiment to present as the best: the summary's recommendation, else the task's stored best."""
	rec = summary.recommended if summary else None
	if rec is not None:
		found = next((e for e in data["experiments"] if e["number"] == rec.number), None)
		if found is not None:
			return found
	best: dict[str, Any] | None = data.get("best")
	return best
