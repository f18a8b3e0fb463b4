"""What a task found, read from the store: the recommended configuration with its confidence interval, the gain over
the baseline, the time early stopping saved, experiments by origin and status, and the Pareto front.

Read-only except refresh_pareto, which stores the Pareto marks. Statistics come from scoring.noise.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select, update

from ..errors import TaskNotFoundError
from ..scoring.noise import (
	ConfigStats,
	Gain,
	Measurement,
	NoiseFloor,
	Verdict,
	gain_over,
	group_configs,
	noise_floor,
	paired_gain,
	recommend,
	verdict,
)
from ..scoring.objectives import OBJECTIVE_INFO, Direction
from ..scoring.pareto import pareto_front
from ..store import Experiment, ExperimentOrigin, ExperimentStatus, Store, Task


class ObjectiveRef(BaseModel):
	name: str = Field(description="One of the spec's objectives")
	direction: Direction
	unit: str


class ParetoPoint(BaseModel):
	"""A configuration on the Pareto front; objective_values are the means over its successful experiments."""

	experiment_id: int = Field(description="The configuration's first successful experiment")
	number: int
	params: dict[str, Any]
	n: int = Field(description="Successful experiments the means come from")
	experiment_ids: list[int]
	objective_values: list[float] = Field(description="One per objective, in the task's objective order")


class TaskSummary(BaseModel):
	task_id: int
	name: str
	status: str
	objectives: list[ObjectiveRef] = Field(description="The task's objectives; the first is the primary one")
	multi_objective: bool
	recommended: ConfigStats | None = Field(
		None,
		description="The configuration with the best mean of the primary objective among those that met every SLO "
		"(the best mean score when none did); ties (overlapping intervals, or under the noise floor) go to the best "
		"pessimistic bound; among single measurements only when no configuration was measured twice",
	)
	ranking: Literal["confidence_bound", "single_measurement"] | None = Field(
		None, description="confidence_bound: chosen among configurations measured 2+ times; else on single values"
	)
	baseline: ConfigStats | None = Field(None, description="The baseline configuration's statistics, if measured")
	gain: Gain | None = Field(
		None,
		description="Gain of the recommended configuration over the baseline (primary objective; + = better): "
		"paired with the baseline measured next to it when both were measured 2+ times, else Welch or single",
	)
	noise: NoiseFloor | None = Field(
		None, description="Noise floor from the baseline's repeated measurements (primary objective)"
	)
	verdict: Verdict | None = Field(
		None, description="better than baseline by X% (CI) / no detectable difference (noise ±Y%) / worse"
	)
	saved_seconds: float = Field(0.0, description="Seconds early stopping and pruning saved, over every experiment")
	experiments_by_origin: dict[str, int]
	experiments_by_status: dict[str, int]
	pareto: list[ParetoPoint] = Field(
		default_factory=list, description="Multi-objective tasks: the configurations on the Pareto front"
	)
	notes: list[str] = Field(default_factory=list, description="What is missing (no baseline, no repeats, ...)")


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


def task_summary(store: Store, task_id: int) -> TaskSummary:
	task, rows = _load(store, task_id)
	objectives = objectives_of(task)
	primary = OBJECTIVE_INFO[objectives[0]]
	configs = group_configs(_measurements(rows))
	baseline_key = _baseline_key(rows)
	best = _recommend(rows, configs, objectives)
	baseline = next((c for c in configs if c.params_key == baseline_key), None)
	noise = _noise(rows, configs)
	notes: list[str] = []
	repeated = any(c.score is not None and c.score.n >= 2 and c.params_key != baseline_key for c in configs)
	if best is not None and not repeated:
		notes.append(
			"no configuration (besides the baseline) was measured more than once: no confidence interval, ranked on "
			"single values"
		)
	if baseline_key is None:
		notes.append("no baseline was measured: no gain to report")
	elif baseline is None:
		notes.append("the baseline was not measured successfully: no gain to report")
	gain = None
	if best is not None and baseline is not None and best.objective and baseline.objective:
		gain = gain_over(best.objective, baseline.objective, primary.direction)
		if best.params_key != baseline.params_key:
			gain = paired_gain(best.values, baseline.values, primary.direction) or gain
	said = None
	if best is not None and baseline is not None:
		said = verdict(gain, noise, is_baseline=best.params_key == baseline.params_key)
	return TaskSummary(
		task_id=task.id,
		name=task.name,
		status=task.status,
		objectives=[
			ObjectiveRef(name=o, direction=OBJECTIVE_INFO[o].direction, unit=OBJECTIVE_INFO[o].unit) for o in objectives
		],
		multi_objective=len(objectives) > 1,
		recommended=best,
		ranking=None if best is None else ("confidence_bound" if repeated else "single_measurement"),
		baseline=baseline,
		gain=gain,
		noise=noise,
		verdict=said,
		saved_seconds=sum(r.saved_seconds or 0.0 for r in rows),
		experiments_by_origin=dict(Counter(r.origin or ExperimentOrigin.SEARCH for r in rows)),
		experiments_by_status=dict(Counter(r.status for r in rows)),
		pareto=_pareto(rows, configs, objectives),
		notes=notes,
	)
