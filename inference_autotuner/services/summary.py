"""What a task found, as a view: the recommended configuration with its confidence interval, the gain over the
baseline, the time early stopping saved, experiments by origin and status, the Pareto front; and the task's detail
(`autotuner show --format json`) and its recommended experiment (`autotuner best --format json`).

The numbers are computed in runner/summary.py (the runner reads the same ones while it runs)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..errors import Conflict
from ..quality.show import quality_rejections
from ..runner.summary import ParetoPoint, analyse, pareto_of
from ..scoring.blocks import fit_configs, side_by_side
from ..scoring.noise import ConfigStats, Gain, NoiseFloor, Verdict, gain_over, verdict
from ..scoring.objectives import OBJECTIVE_INFO, Direction
from ..store import ExperimentOrigin, Store
from .views import ExperimentPublic, TaskPublic, experiment_views, find_task, task_view

__all__ = [
	"ObjectiveRef",
	"ParetoPoint",
	"TaskDetail",
	"TaskSummary",
	"recommended_of",
	"task_data",
	"task_detail",
	"task_summary",
]


class ObjectiveRef(BaseModel):
	name: str = Field(description="One of the spec's objectives")
	direction: Direction
	unit: str


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
	quality_rejections: list[str] = Field(
		default_factory=list,
		description="Configurations whose objective beats the recommendation's but that the quality guardrail "
		"rejected, best first: 'experiment 5 scores higher (14.23 vs 3.951) but is not recommended: quality: ...'",
	)


def task_summary(store: Store, task_id: int) -> TaskSummary:
	a = analyse(store, task_id)
	primary = OBJECTIVE_INFO[a.objectives[0]]
	best = a.best
	baseline = next((c for c in a.configs if c.params_key == a.baseline_key), None)
	notes: list[str] = []
	repeated = any(c.score is not None and c.score.n >= 2 and c.params_key != a.baseline_key for c in a.configs)
	if best is not None and not repeated:
		notes.append(
			"no configuration (besides the baseline) was measured more than once: no confidence interval, ranked on "
			"single values"
		)
	if a.baseline_key is None:
		notes.append("no baseline was measured: no gain to report")
	elif baseline is None:
		notes.append("the baseline was not measured successfully: no gain to report")
	gain = None
	if best is not None and baseline is not None and best.objective and baseline.objective:
		gain = gain_over(best.objective, baseline.objective, primary.direction)
		if best.params_key != baseline.params_key:
			fit = fit_configs(a.configs, a.baseline_key)
			gain = side_by_side(best, baseline, primary.direction, fit) or gain
	said = None
	if best is not None and baseline is not None:
		said = verdict(gain, a.noise, is_baseline=best.params_key == baseline.params_key)
	rows = a.rows
	rejected: list[str] = []
	if best is not None and best.objective is not None:
		experiments = [
			{
				"number": r.number,
				"params_key": r.params_key,
				"objective_value": r.objective_value,
				"failure_reason": r.failure_reason,
			}
			for r in rows
		]
		rec = {"objective_value": best.objective.mean}
		rejected = quality_rejections(experiments, rec, maximize=primary.direction == "maximize")
	return TaskSummary(
		task_id=a.task.id,
		name=a.task.name,
		status=a.task.status,
		objectives=[
			ObjectiveRef(name=o, direction=OBJECTIVE_INFO[o].direction, unit=OBJECTIVE_INFO[o].unit)
			for o in a.objectives
		],
		multi_objective=len(a.objectives) > 1,
		recommended=best,
		ranking=None if best is None else ("confidence_bound" if repeated else "single_measurement"),
		baseline=baseline,
		gain=gain,
		noise=a.noise,
		verdict=said,
		saved_seconds=sum(r.saved_seconds or 0.0 for r in rows),
		experiments_by_origin=dict(Counter(r.origin or ExperimentOrigin.SEARCH for r in rows)),
		experiments_by_status=dict(Counter(r.status for r in rows)),
		pareto=pareto_of(a),
		notes=notes,
		quality_rejections=rejected,
	)


class ParetoFront(BaseModel):
	"""The Pareto front of a multi-objective task: configurations no other one beats on every objective
	(`autotuner pareto --format json`, GET /api/tasks/{id}/pareto)."""

	task_id: int
	objectives: list[ObjectiveRef] = Field(description="The objectives, in the order of objective_values")
	front: list[ParetoPoint]


def pareto_front(store: Store, task_id: int) -> ParetoFront:
	"""The task's front; a single-objective task has none (409 / exit 1)."""
	summary = task_summary(store, task_id)
	if not summary.multi_objective:
		raise Conflict(
			f"task '{summary.name}' has one objective ({summary.objectives[0].name}): it has no Pareto front",
			hint="a multi-objective task lists two or more objectives in optimization.objectives "
			"(strategy nsga2 or mo_tpe); `autotuner best` (GET /api/tasks/{id}/summary) shows its best configuration",
		)
	return ParetoFront(task_id=task_id, objectives=summary.objectives, front=summary.pareto)


class TaskDetail(TaskPublic):
	"""A task with every experiment and its summary: `autotuner show --format json`; the API gives the same as
	GET /api/tasks/{id}, GET /api/experiments/task/{id} and GET /api/tasks/{id}/summary."""

	experiments: list[ExperimentPublic]
	summary: TaskSummary


def recommended_of(
	experiments: list[ExperimentPublic], summary: TaskSummary | None, best_id: int | None
) -> ExperimentPublic | None:
	"""The experiment to present as the best: the summary's recommendation, else the task's stored best."""
	rec = summary.recommended if summary else None
	wanted = rec.experiment_id if rec is not None else best_id
	return next((e for e in experiments if e.id == wanted), None) or next(
		(e for e in experiments if e.id == best_id), None
	)


def task_detail(store: Store, task_id: int) -> TaskDetail:
	view = task_view(store, task_id)
	return TaskDetail(
		**view.model_dump(), experiments=experiment_views(store, task_id), summary=task_summary(store, task_id)
	)


def task_data(store: Store, ref: str | int) -> tuple[dict[str, Any], TaskSummary, dict[str, Any] | None]:
	"""(task detail as JSON data, its summary, the recommended experiment as JSON data): what `show`, `best`,
	`export` and the report read."""
	detail = task_detail(store, find_task(store, ref).id)
	rec = recommended_of(detail.experiments, detail.summary, detail.best_experiment_id)
	return detail.model_dump(mode="json"), detail.summary, rec.model_dump(mode="json") if rec else None
