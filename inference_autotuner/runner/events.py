"""Events a task emits while it runs: one pydantic model per `type`, joined in the TaskEvent union.

The runner emits the models (never dicts: an EventSink takes a TaskEvent); they are serialised once, where they cross
a process or wire boundary (the worker's TaskLog publishes model_dump(mode="json") to Redis and the WebSocket). The
worker's task log, the CLI's live view and the web app read them through this module: parse_event() gives the model
(of a model as it is, of a wire dict validated), describe() the one line each of them shows. The union is
published in the API's OpenAPI schema (components TaskEvent and its members), which is where the web's TypeScript
event types are generated from (`cd web && npm run gen:api`). A new event: a model here, added to TaskEvent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, computed_field

log = logging.getLogger(__name__)


def _num(value: float | None) -> str:
	return "-" if value is None else f"{value:.4g}"


def load_level(concurrency: int | None, request_rate: float | None) -> str:
	"""'concurrency 4' or 'rate 2.5 req/s': the load of a run, whichever kind it has."""
	if concurrency is None and request_rate is not None:
		return f"rate {request_rate:g} req/s"
	return f"concurrency {concurrency}"


class _Event(BaseModel):
	# every field is in every message: required in the published schema (TypeScript narrows on `type`)
	model_config = ConfigDict(extra="ignore", json_schema_serialization_defaults_required=True)

	task_id: int | None = Field(None, description="The task (set by the worker; absent in the CLI's own view)")

	def describe(self) -> str | None:
		"""One readable line (the task log, the CLI's notes, the web's live status); None for the noisy ones."""
		return None

	@computed_field(description="describe(): the event as one readable line, or null for the noisy ones")  # type: ignore[prop-decorator]
	@property
	def text(self) -> str | None:
		return self.describe()


class TaskStatusEvent(_Event):
	type: Literal["task_status"] = "task_status"
	status: str
	error: str | None = None
	snapshot: bool = Field(False, description="The first message of a WebSocket: the status when it connected")

	def describe(self) -> str | None:
		return f"status: {self.status}" + (f" ({self.error})" if self.error else "")


class TaskStarted(_Event):
	type: Literal["task_started"] = "task_started"
	name: str | None = None
	max_iterations: int
	done: int = Field(description="Search experiments already finished (a resumed task)")
	space_size: int | None = None
	parallel: int = 1
	planned: int | None = Field(None, description="Experiments in all: search, baseline and repeats")
	done_all: int | None = Field(None, description="Experiments of every origin already finished")

	def describe(self) -> str | None:
		return f"task started: {self.done} of {self.max_iterations} experiments done"


class ExperimentStarted(_Event):
	type: Literal["experiment_started"] = "experiment_started"
	number: int
	params: dict[str, Any]
	origin: str | None = None

	def describe(self) -> str | None:
		return f"experiment {self.number} started: {json.dumps(self.params, sort_keys=True, default=str)}"


class EngineReady(_Event):
	type: Literal["engine_ready"] = "engine_ready"
	number: int
	seconds: float | None = None

	def describe(self) -> str | None:
		return f"experiment {self.number}: engine ready in {self.seconds or 0:.1f} s"


class RunStarted(_Event):
	type: Literal["run_started"] = "run_started"
	number: int
	scenario: str
	concurrency: int | None = Field(None, description="Concurrent requests; null for a request-rate run")
	request_rate: float | None = Field(None, description="Poisson arrivals in req/s; null for a concurrency run")
	probe: int | None = Field(None, description="The load search's probe number, when it is one")

	@computed_field(description="'concurrency 4' or 'rate 2.5 req/s': the load, whichever kind the run has")  # type: ignore[prop-decorator]
	@property
	def level(self) -> str:
		return load_level(self.concurrency, self.request_rate)

	def describe(self) -> str | None:
		probe = " (load search)" if self.probe is not None else ""
		return f"experiment {self.number}: run {self.scenario} at {self.level}{probe}"


class RunProgress(_Event):
	type: Literal["run_progress"] = "run_progress"
	number: int
	concurrency: int | None = None
	done: int
	total: int


class RunFinished(_Event):
	type: Literal["run_finished"] = "run_finished"
	number: int
	metrics: dict[str, Any] = Field(description="The run's RunMetrics")


class RunStoppedEarly(_Event):
	type: Literal["run_stopped_early"] = "run_stopped_early"
	number: int
	scenario: str | None = None
	level: float | None = None
	reason: str = ""
	skipped_levels: list[float] = Field(default_factory=list)
	saved_seconds: float | None = None

	def describe(self) -> str | None:
		return f"experiment {self.number}: run stopped early: {self.reason}"[:200]


class LoadSearchFinished(_Event):
	type: Literal["load_search_finished"] = "load_search_finished"
	number: int
	scenario: str | None = None
	mode: str | None = None
	max_load: float | None = None
	first_fail: float | None = None
	probes: list[float] = Field(default_factory=list)
	stopped: str | None = None

	def describe(self) -> str | None:
		return f"experiment {self.number}: max load within the SLOs {self.max_load} ({self.scenario or ''})"


class ExperimentFinished(_Event):
	type: Literal["experiment_finished"] = "experiment_finished"
	number: int
	status: str
	origin: str | None = None
	objective_value: float | None = None
	objective_values: list[float | None] | None = None
	score: float | None = Field(None, description="Lower is better")
	reason: str | None = None
	figures: dict[str, Any] | None = None
	params: dict[str, Any] = Field(default_factory=dict)
	duration: float | None = None
	saved_seconds: float | None = None
	predicted: bool = False

	def describe(self) -> str | None:
		tail = f" ({self.reason})" if self.reason else ""
		return f"experiment {self.number} {self.status}: objective {_num(self.objective_value)}{tail}"


class TaskFinished(_Event):
	type: Literal["task_finished"] = "task_finished"
	status: str
	experiments: int
	best_experiment_id: int | None = None
	best_number: int | None = Field(None, description="The recommendation's experiment number")
	error: str | None = None

	def describe(self) -> str | None:
		return f"task finished: {self.status}, {self.experiments} experiment(s)"


class LogMessage(_Event):
	type: Literal["log"] = "log"
	message: str

	def describe(self) -> str | None:
		return self.message


class LogLine(_Event):
	type: Literal["log_line"] = "log_line"
	line: str = Field(description="A line of the task's log file, time-stamped")


TaskEvent = Annotated[
	TaskStatusEvent
	| TaskStarted
	| ExperimentStarted
	| EngineReady
	| RunStarted
	| RunProgress
	| RunFinished
	| RunStoppedEarly
	| LoadSearchFinished
	| ExperimentFinished
	| TaskFinished
	| LogMessage
	| LogLine,
	Field(discriminator="type"),
]
EVENTS: TypeAdapter[TaskEvent] = TypeAdapter(TaskEvent)
EventSink = Callable[[TaskEvent], None]  # what the runner emits into: always a model of the union
Event = dict[str, Any] | _Event  # what a reader may be given: a model, or its dict as it came over the wire


def parse_event(ev: Event) -> TaskEvent | None:
	"""The model of an event (a model as it is, a dict validated by its `type`); None for one that does not fit
	(logged: events never break a run)."""
	if isinstance(ev, _Event):
		return ev  # type: ignore[return-value]
	try:
		return EVENTS.validate_python(ev)
	except ValidationError as exc:
		log.warning("an event of type %r does not fit its model: %s", ev.get("type"), exc.errors()[:1])
		return None


def event_schemas(ref_template: str = "#/components/schemas/{model}") -> dict[str, Any]:
	"""JSON schemas of TaskEvent and its members, for the OpenAPI components (as serialized: `text` included)."""
	schema = EVENTS.json_schema(mode="serialization", ref_template=ref_template)
	defs = schema.pop("$defs", {})
	return {**defs, "TaskEvent": schema}


def no_events(_: Any) -> None:
	return None
