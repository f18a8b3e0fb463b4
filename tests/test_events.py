"""Task events (runner/events.py): one model per type, one describe() read by the worker's task log, the CLI's live
view and the web (published in the OpenAPI schema)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, get_args

from rich.console import Console

from inference_autotuner.api import Settings, create_app
from inference_autotuner.cli.render import LiveView
from inference_autotuner.runner.events import (
	EVENTS,
	ExperimentFinished,
	RunStarted,
	TaskEvent,
	TaskStatusEvent,
	parse_event,
)
from inference_autotuner.runner.task import TaskRunner, get_or_create_task
from inference_autotuner.services.validate import parse_spec
from inference_autotuner.store import Store
from inference_autotuner.worker.execute import TaskLog

RATE_RUN = {"type": "run_started", "number": 1, "scenario": "D(16,8)", "concurrency": None, "request_rate": 2.0}


def test_a_request_rate_run_is_described_by_its_rate() -> None:
	ev = parse_event(RATE_RUN)
	assert isinstance(ev, RunStarted) and ev.level == "rate 2 req/s"
	assert ev.describe() == "experiment 1: run D(16,8) at rate 2 req/s"
	data = ev.model_dump(mode="json")
	assert data["level"] == "rate 2 req/s" and data["text"] == ev.describe() and data["concurrency"] is None
	conc = parse_event({**RATE_RUN, "concurrency": 4, "request_rate": None, "probe": 2})
	assert conc is not None and conc.describe() == "experiment 1: run D(16,8) at concurrency 4 (load search)"


def test_the_live_view_shows_what_describe_says() -> None:
	view = LiveView("tokens/s")
	view.update({"type": "experiment_started", "number": 1, "params": {"parallel": 2}})
	view.update(RATE_RUN)
	assert view.status == "experiment 1: run D(16,8) at rate 2 req/s"
	view.update({"type": "log", "message": "noise floor: ±3.0% at 95%"})
	view.update({"type": "run_stopped_early", "number": 1, "reason": "p90 TTFT over its SLO"})
	assert view.messages == ["noise floor: ±3.0% at 95%", "experiment 1: run stopped early: p90 TTFT over its SLO"]
	console = Console(width=200, record=True)
	console.print(view)
	assert "requests (rate 2 req/s)" in console.export_text()


def test_the_task_log_writes_describe_and_publishes_the_model() -> None:
	published: list[dict[str, Any]] = []
	tlog = TaskLog(7, "events", published.append)
	tlog(TaskStatusEvent(status="running"))
	tlog(RATE_RUN)
	tlog({"type": "run_progress", "number": 1, "concurrency": None, "done": 1, "total": 4})  # not described
	tlog({"type": "no_such_event", "number": 1})  # does not fit: published as it came, never breaks the run
	lines = tlog.path.read_text().splitlines()
	assert [line.split(" ", 2)[2] for line in lines] == ["status: running", "experiment 1: run D(16,8) at rate 2 req/s"]
	kinds = [e["type"] for e in published]
	assert kinds == ["task_status", "log_line", "run_started", "log_line", "run_progress", "no_such_event"]
	assert all(e["task_id"] == 7 for e in published)
	for e in published[:-1]:  # every one but the stray fits the union, as serialized
		assert EVENTS.dump_python(EVENTS.validate_python(e), mode="json") == e
	tlog(TaskStatusEvent(status="completed"))  # the task ends, as a worker's does: /metrics no longer counts it running


def test_the_union_is_in_the_openapi_schema() -> None:
	schemas = create_app(Settings(run_worker=False)).openapi()["components"]["schemas"]
	mapping = schemas["TaskEvent"]["discriminator"]["mapping"]
	assert {"run_started", "experiment_finished", "task_status", "log_line"} <= set(mapping)
	run = schemas["RunStarted"]
	assert {"level", "text", "request_rate", "concurrency", "type"} <= set(run["required"])  # TypeScript narrows


def test_every_event_of_a_real_tuning_is_a_model_of_the_union(model_path: Path, tmp_path: Path) -> None:
	"""A real llama.cpp tuning (two experiments at load levels 1 and 2, then the best measured again): the runner emits models of
	the TaskEvent union, never dicts, and each one crosses the wire (the worker's TaskLog) as its own dump."""
	spec = parse_spec(
		{
			"task_name": "typed-events",
			"model": {"id_or_path": str(model_path)},
			"base_runtime": "llama.cpp",
			"parameters": {"parallel": [1, 2], "threads": [1]},
			"optimization": {
				"strategy": "grid_search",
				"max_iterations": 3,
				"baseline": False,
				"repeat_top_k": 1,
				"repeats": 1,
				"warm_start": False,
				"timeout_per_iteration": 300,
			},
			"benchmark": {
				"traffic_scenarios": ["D(16,8)"],
				"num_concurrency": [1, 2],
				"max_requests_per_iteration": 4,
				"audit_retries": 0,
			},
		}
	)
	store = Store(f"sqlite:///{tmp_path / 'events.db'}")
	task_id = get_or_create_task(store, spec)
	events: list[Any] = []
	published: list[dict[str, Any]] = []
	tlog = TaskLog(task_id, "typed-events", published.append)

	def sink(ev: Any) -> None:
		events.append(ev)
		tlog(ev)

	result = TaskRunner(store, task_id, emit=sink, cancel=threading.Event()).run()
	assert result.status == "completed", result.error
	members = get_args(get_args(TaskEvent)[0])
	assert all(isinstance(ev, members) for ev in events), [type(ev).__name__ for ev in events]
	kinds = {ev.type for ev in events}
	assert {
		"task_started",
		"experiment_started",
		"engine_ready",
		"run_started",
		"run_progress",
		"run_finished",
		"experiment_finished",
		"log",
		"task_finished",
	} <= kinds, kinds
	own = [e for e in published if e["type"] != "log_line"]
	assert len(own) == len(events)
	for ev, data in zip(events, own, strict=True):
		assert data == ev.model_copy(update={"task_id": task_id}).model_dump(mode="json")
		assert EVENTS.dump_python(EVENTS.validate_python(data), mode="json") == data  # the wire form parses back
	finished = [ev for ev in events if isinstance(ev, ExperimentFinished)]
	assert [ev.origin for ev in finished] == ["search", "search", "repeat"], finished  # the best measured again
