"""What a task's experiments say, computed from the store: the recommended configuration, the baseline, the noise floor
and the Pareto front (the runner reads them while it runs; services/summary.py turns them into the TaskSummary view).

Read-only except refresh_pareto, which stores the Pareto marks. Statistics come from scoring.noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select, update

from ..errors import TaskNotFoundError
from ..scoring.noise import (
	ConfigStats,
	Measurement,
	NoiseFloor,
	group_configs,
	noise_floor,
	recommend,
)
from ..scoring.objectives import OBJECTIVE_INFO
from ..scoring.pareto import pareto_front
from ..store import Experiment, ExperimentOrigin, ExperimentStatus, Store, Task


class ParetoPoint(BaseModel):
	"""A configuration on the Pareto front; objective_values are the means over its successful experiments."""

	experiment_id: int = Field(description="The configuration's first successful experiment")
	number: int
	params: dict[str, Any]
	n: int = Field(description="Successful experiments the means come from")
	experiment_ids: list[int]
	objective_values: list[float] = Field(description="One per objective, in the task's objective order")


def objectives_of(task: Task) -> list[str]:
	"""The task's objectives in order: optimization.objectives, else [optimization.objective]."""
	opt = task.spec.get("optimization") or {}
	names = opt.get("objectives") or [opt.get("objective") or "maximize_throughput"]
	return [str(n) for n in names]


_COLUMNS = (
	Experiment.id,
	Experiment.number,
	Experiment.params,
	Experiment.params_key,
	Experiment.status,
	Experiment.origin,
	Experiment.objective_value,
	Experiment.score,
	Experiment.objective_values,
	Experiment.saved_seconds,
	Experiment.scoring,
	Experiment.runs,
	Experiment.failure_reason,
)


def _load(store: Store, task_id: int) -> tuple[Task, list[Any]]:
	with store.session() as s:
		task = s.get(Task, task_id)
		if task is None:
			raise TaskNotFoundError(f"task {task_id} not found", hint="run `autotuner list` to see tasks")
		s.expunge(task)
		rows = list(s.execute(select(*_COLUMNS).where(Experiment.task_id == task_id).order_by(Experiment.number)))
	return task, rows


def _measurements(rows: list[Any]) -> list[Measurement]:
	return [
		Measurement(
			experiment_id=r.id,
			number=r.number,
			params_key=r.params_key,
			params=r.params or {},
			status=r.status,
			origin=r.origin or ExperimentOrigin.SEARCH,
			objective_value=r.objective_value,
			score=r.score,
			penalty=_penalty(r.scoring),
		)
		for r in rows
	]


def _penalty(scoring: Any) -> float | None:
	value = scoring.get("penalty") if isinstance(scoring, dict) else None
	return float(value) if isinstance(value, int | float) else None


def _noise(rows: list[Any], configs: list[ConfigStats]) -> NoiseFloor | None:
	"""The baseline's spread: every measured objective value of it, infeasible ones too (an SLO it missed does
	not make its figure less of a measurement of the machine's noise), but not those whose runs the audit called
	suspect (another process took the machine: that is interference, not the noise of a quiet measurement) while
	two or more others remain."""
	key = _baseline_key(rows)
	if key is None:
		return None
	measured = (ExperimentStatus.SUCCESS, ExperimentStatus.INFEASIBLE)
	mine = [r for r in rows if r.params_key == key and r.status in measured and r.objective_value is not None]
	clean = [r for r in mine if not _suspect(r.runs)]
	return noise_floor([r.objective_value for r in (clean if len(clean) >= 2 else mine)])


def _suspect(runs: Any) -> bool:
	"""Whether any run of an experiment was judged suspect by its audit (bench/audit.py)."""
	return any(
		isinstance(run, dict) and isinstance(run.get("audit"), dict) and run["audit"].get("status") == "suspect"
		for run in runs or []
	)


def _recommend(rows: list[Any], configs: list[ConfigStats], objectives: list[str]) -> ConfigStats | None:
	noise = _noise(rows, configs)
	direction = OBJECTIVE_INFO[objectives[0]].direction
	return recommend(
		configs,
		direction,
		by="objective",
		baseline_key=_baseline_key(rows),
		noise=noise.floor if noise is not None else None,
	)


def _pareto(rows: list[Any], configs: list[ConfigStats], objectives: list[str]) -> list[ParetoPoint]:
	"""Front over configurations, each at the mean of its successful experiments' complete objective_values."""
	if len(objectives) < 2:
		return []
	values: dict[str, list[list[float]]] = {}
	for r in rows:
		v = r.objective_values
		if r.status != ExperimentStatus.SUCCESS or not isinstance(v, list) or len(v) != len(objectives):
			continue
		if all(isinstance(x, int | float) and math.isfinite(x) for x in v):
			values.setdefault(r.params_key, []).append([float(x) for x in v])
	points: list[tuple[ConfigStats, list[float], int]] = []
	for c in configs:
		vs = values.get(c.params_key)
		if vs:
			points.append((c, [sum(col) / len(vs) for col in zip(*vs, strict=True)], len(vs)))
	front = pareto_front([p for _, p, _ in points], [OBJECTIVE_INFO[o].direction for o in objectives])
	return [
		ParetoPoint(
			experiment_id=c.experiment_id,
			number=c.number,
			params=c.params,
			n=n,
			experiment_ids=c.experiment_ids,
			objective_values=p,
		)
		for c, p, n in (points[i] for i in front)
	]


def recommended_experiment_id(store: Store, task_id: int) -> int | None:
	"""The experiment to call the task's best: the first experiment of the configuration with the best pessimistic
	score bound (see TaskSummary.recommended); with no repeated configuration, the best single score."""
	task, rows = _load(store, task_id)
	best = _recommend(rows, group_configs(_measurements(rows)), objectives_of(task))
	return best.experiment_id if best else None


def _baseline_key(rows: list[Any]) -> str | None:
	return next((r.params_key for r in rows if r.origin == ExperimentOrigin.BASELINE), None)


def refresh_pareto(store: Store, task_id: int) -> list[int]:
	"""Store Experiment.pareto: true for every experiment of a configuration on the front, false elsewhere.

	Single-objective tasks have no front (every mark is cleared). Returns the marked experiment ids.
	"""
	task, rows = _load(store, task_id)
	objectives = objectives_of(task)
	front = _pareto(rows, group_configs(_measurements(rows)), objectives)
	ids = sorted(i for p in front for i in p.experiment_ids)
	with store.session() as s:
		s.execute(update(Experiment).where(Experiment.task_id == task_id).values(pareto=Experiment.id.in_(ids)))
	return ids


@dataclass
class Analysis:
	"""What a task's rows say, computed once: the services' TaskSummary is built from it, the runner reads the noise
	floor from it."""

	task: Task
	rows: list[Any]
	objectives: list[str]
	configs: list[ConfigStats]
	baseline_key: str | None
	best: ConfigStats | None
	noise: NoiseFloor | None


def analyse(store: Store, task_id: int) -> Analysis:
	task, rows = _load(store, task_id)
	objectives = objectives_of(task)
	configs = group_configs(_measurements(rows))
	return Analysis(
		task=task,
		rows=rows,
		objectives=objectives,
		configs=configs,
		baseline_key=_baseline_key(rows),
		best=_recommend(rows, configs, objectives),
		noise=_noise(rows, configs),
	)


def pareto_of(a: Analysis) -> list[ParetoPoint]:
	return _pareto(a.rows, a.configs, a.objectives)


def noise_of(store: Store, task_id: int) -> NoiseFloor | None:
	"""The noise floor from the baseline's repeated measurements (primary objective), None before two of them."""
	return analyse(store, task_id).noise
