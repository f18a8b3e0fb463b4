"""Read views of tasks and experiments (pydantic; what `autotuner ... --format json` prints and the API returns).

One list query: tasks with their experiment counts, best value, owner and whether any figure is predicted come from
one SELECT with aggregates (no query per task, no experiment's runs loaded)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import Integer, case, cast, func, select
from sqlalchemy.orm import aliased

from ..errors import NotFound
from ..runner.budget import planned_for_spec
from ..scoring import OBJECTIVE_INFO
from ..store import Experiment, ExperimentStatus, Store, Task
from ..store.models import User
from ..store.queries import experiments_of

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
__all__ = ["FIGURE_COLUMNS", "ExperimentPublic", "TaskPublic", "experiments_of", "find_task", "get_task", "list_tasks"]

FINISHED = ("success", "failed", "infeasible", "skipped", "pruned")  # statuses that count as done for progress


def as_utc(value: datetime) -> datetime:
	"""Times are stored in UTC; SQLite gives them back naive: mark them UTC so they serialize as RFC 3339."""
	return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class _Public(BaseModel):
	model_config = ConfigDict(from_attributes=True)


class TaskPublic(_Public):
	id: int
	name: str
	description: str | None
	status: str
	engine: str
	deployment_mode: str
	spec: dict[str, Any]
	study_name: str
	best_experiment_id: int | None
	error: str | None
	created_at: UtcDatetime
	started_at: UtcDatetime | None
	finished_at: UtcDatetime | None
	elapsed: float = Field(description="Seconds spent running, over every start")
	max_iterations: int | None = None
	experiments_total: int = 0
	experiments_planned: int = Field(
		0,
		description="Experiments the task will run in all: max_iterations + baseline + repeats "
		"(repeats * (repeat_top_k + baseline); none in predict mode)",
	)
	experiments_successful: int = 0
	experiments_finished: int = Field(
		0, description="Experiments that ended (success, failed, infeasible, skipped, pruned): the progress"
	)
	objective: str = Field("maximize_throughput", description="The primary objective (best_objective_value's)")
	objectives: list[str] = Field(default_factory=list, description="Every objective, the primary one first")
	direction: Literal["maximize", "minimize"] = "maximize"
	best_objective_value: float | None = Field(
		None, description="objective_value of the best experiment (natural units, without penalty)"
	)
	objective_unit: str | None = Field(None, description="Unit of best_objective_value, e.g. tokens/s/GPU")
	predicted: bool = Field(
		False, description="Some figures come from a performance model (aiconfigurator), not measurements"
	)
	owner_id: int | None = Field(None, description="Id of the user who created it (null: single-user mode)")
	owner: str | None = Field(None, description="Name of the user who created it (null: single-user mode)")


class ExperimentPublic(_Public):
	id: int
	task_id: int
	number: int
	trial_number: int | None
	params: dict[str, Any]
	status: str
	objective_value: float | None
	score: float | None = Field(description="Lower is better (SLO penalties included)")
	figures: dict[str, Any] | None = Field(description="Aggregated metrics; latencies in seconds")
	runs: list[dict[str, Any]] | None
	scoring: dict[str, Any] | None
	failure_reason: str | None
	gpu_info: dict[str, Any] | None
	launch_argv: list[str] | None
	launch_command: str | None
	predicted: bool
	started_at: UtcDatetime | None
	finished_at: UtcDatetime | None
	duration: float | None
	startup_seconds: float | None
	bench_seconds: float | None
	origin: str = Field(
		"search", description="What proposed it: search | warm_start | baseline | repeat (same params measured again)"
	)
	objective_values: list[float | None] | None = Field(
		None, description="One value per objective (natural units), in the task's objective order"
	)
	saved_seconds: float | None = Field(None, description="Seconds early stopping or pruning saved")
	pareto: bool = Field(False, description="Multi-objective tasks: its configuration is on the Pareto front")
	provenance: dict[str, Any] | None = Field(
		None, description="What produced the figures: tuner, engine and driver versions, host, model"
	)
	worker: str | None = Field(None, description="The worker that measured it (docs/distributed.md); null in-process")
	host: str | None = Field(None, description="The host of that worker")


def objectives_of(spec: dict[str, Any]) -> list[str]:
	"""The task's objectives in order: optimization.objectives, else [optimization.objective]."""
	opt = spec.get("optimization") or {}
	return [str(n) for n in (opt.get("objectives") or [opt.get("objective") or "maximize_throughput"])]


def find_task(store: Store, ref: str | int, *, by_id: bool = True) -> Task:
	"""A task by id or name (a name made of digits is tried as an id first, unless by_id is false)."""
	with store.session() as s:
		task = None
		if by_id and (isinstance(ref, int) or str(ref).isdigit()):
			task = s.get(Task, int(ref))
		if task is None:
			task = s.scalar(select(Task).where(Task.name == str(ref)))
		if task is None:
			raise NotFound(
				f"no task named or numbered '{ref}'", hint="`autotuner list` (or GET /api/tasks/) lists the tasks"
			)
		s.expunge(task)
		return task


def get_task(store: Store, task_id: int) -> Task:
	with store.session() as s:
		task = s.get(Task, task_id)
		if task is None:
			raise NotFound(f"task {task_id} not found", hint="`autotuner list` (or GET /api/tasks/) lists the tasks")
		s.expunge(task)
		return task


def experiment_views(store: Store, task_id: int) -> list[ExperimentPublic]:
	return [ExperimentPublic.model_validate(e) for e in experiments_of(store, task_id)]


def _task_query() -> Any:
	"""Tasks with their aggregates, in one SELECT: counts over a grouped subquery of experiments (only small
	columns), the best experiment's value and the owner's name by outer joins."""
	agg = (
		select(
			Experiment.task_id.label("task_id"),
			func.count().label("total"),
			func.sum(case((Experiment.status == ExperimentStatus.SUCCESS, 1), else_=0)).label("ok"),
			func.sum(case((Experiment.status.in_(FINISHED), 1), else_=0)).label("done"),
			func.max(cast(Experiment.predicted, Integer)).label("predicted"),
		)
		.group_by(Experiment.task_id)
		.subquery()
	)
	best = aliased(Experiment)
	return (
		select(Task, agg.c.total, agg.c.ok, agg.c.done, agg.c.predicted, best.objective_value, User.name)
		.outerjoin(agg, agg.c.task_id == Task.id)
		.outerjoin(best, best.id == Task.best_experiment_id)
		.outerjoin(User, User.id == Task.owner_id)
	)


def _view(row: Any) -> TaskPublic:
	task, total, ok, done, predicted, best_value, owner = row
	objectives = objectives_of(task.spec)
	info = OBJECTIVE_INFO.get(objectives[0])
	return TaskPublic.model_validate(
		{
			**{c: getattr(task, c) for c in Task.__table__.columns.keys()},  # noqa: SIM118
			"max_iterations": (task.spec.get("optimization") or {}).get("max_iterations"),
			"experiments_total": int(total or 0),
			"experiments_planned": planned_for_spec(task.spec, task.deployment_mode),
			"experiments_successful": int(ok or 0),
			"experiments_finished": int(done or 0),
			"objective": objectives[0],
			"objectives": objectives,
			"direction": info.direction if info else "maximize",
			"objective_unit": info.unit if info else None,
			"best_objective_value": float(best_value) if best_value is not None else None,
			"predicted": bool(predicted),
			"owner": owner,
		}
	)


def list_tasks(
	store: Store,
	*,
	status: str | None = None,
	engine: str | None = None,
	q: str | None = None,
	skip: int = 0,
	limit: int | None = None,
) -> tuple[int, list[TaskPublic]]:
	"""(total before paging, a page of tasks newest first): the one list of `autotuner list` and GET /api/tasks/."""
	where = []
	if status:
		where.append(Task.status == status)
	if engine:
		where.append(Task.engine == engine)
	if q:
		where.append(Task.name.contains(q, autoescape=True))
	with store.session() as s:
		total = s.scalar(select(func.count(Task.id)).where(*where)) or 0
		query = _task_query().where(*where).order_by(Task.id.desc()).offset(skip)
		if limit is not None:
			query = query.limit(limit)
		return int(total), [_view(row) for row in s.execute(query).all()]


def task_view(store: Store, task_id: int) -> TaskPublic:
	with store.session() as s:
		row = s.execute(_task_query().where(Task.id == task_id)).first()
		if row is None:
			raise NotFound(f"task {task_id} not found", hint="`autotuner list` (or GET /api/tasks/) lists the tasks")
		return _view(row)
