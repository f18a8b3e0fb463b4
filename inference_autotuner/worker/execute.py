"""Run one queued task to its end: claim it, run the TaskRunner, settle its final status, log and publish events.

Call it in a thread that lives for the whole task: the local deployer asks engines to die with the thread that
started them (PR_SET_PDEATHSIG), so a short-lived pool thread would kill the engine as soon as it returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import update

from .. import telemetry
from ..errors import AutotunerError
from ..paths import logs_dir, safe_name
from ..runner.events import Event, LogLine, TaskStatusEvent, parse_event
from ..store import Store, Task, TaskStatus
from ..store.models import utcnow

log = logging.getLogger(__name__)
Publish = Callable[[dict[str, Any]], None]


def task_log_path(task_id: int, name: str) -> Path:
	return logs_dir() / f"task_{task_id}_{safe_name(name)}" / "task.log"


class TaskLog:
	"""Appends readable lines to the task's log file, publishes each event (plus a `log_line` per line) and counts it
	for /metrics (telemetry.observe)."""

	def __init__(self, task_id: int, name: str, publish: Publish) -> None:
		self.task_id = task_id
		self.path = task_log_path(task_id, name)
		self.path.parent.mkdir(parents=True, exist_ok=True)
		self.publish = publish
		self._lock = threading.Lock()

	def __call__(self, raw: Event) -> None:
		event = parse_event(raw)
		if event is None:  # does not fit its model (logged): published as it came, not described
			data, line = {**dict(raw), "task_id": self.task_id}, None  # type: ignore[arg-type]
		else:
			event = event.model_copy(update={"task_id": self.task_id})
			data, line = event.model_dump(mode="json"), event.describe()
		telemetry.observe(data)  # the Prometheus counters of this process (never raises)
		try:
			self.publish(data)
			if line is not None:
				stamped = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}"
				with self._lock, self.path.open("a", encoding="utf-8") as f:
					f.write(stamped + "\n")
				self.publish(LogLine(task_id=self.task_id, line=stamped).model_dump(mode="json"))
		except Exception:  # events must never break the run
			log.exception("could not record event %s", data.get("type"))


def claim(store: Store, task_id: int) -> str | None:
	"""queued -> running, atomically; returns the task name, or None if it is no longer queued (cancelled, gone)."""
	with store.session() as s:
		res = s.execute(
			update(Task)
			.where(Task.id == task_id, Task.status == TaskStatus.QUEUED)
			.values(status=TaskStatus.RUNNING, started_at=utcnow(), finished_at=None, error=None)
		)
		if getattr(res, "rowcount", 0) != 1:
			return None
		task = s.get(Task, task_id)
		return task.name if task else None


def execute_task(
	store: Store,
	task_id: int,
	cancel: threading.Event,
	publish: Publish,
	*,
	user_cancel: threading.Event | None = None,
	**runner_kw: Any,
) -> str:
	"""Run a queued task; returns its final status (or `skipped` when it was not queued any more).

	`cancel` stops the run. If `user_cancel` is set too (a cancel request) the task ends `cancelled`; if only
	`cancel` is (the worker is shutting down) it goes back to `queued`, so the next worker start resumes it.
	"""
	from ..runner.shared import SharedTaskRunner
	from ..runner.task import TaskRunner

	runner_cls = TaskRunner if runner_kw.get("cluster") is None else SharedTaskRunner  # other workers may join
	runner_kw = {k: v for k, v in runner_kw.items() if k != "cluster" or v is not None}
	name = claim(store, task_id)
	if name is None:
		return "skipped"
	tlog = TaskLog(task_id, name, publish)
	tlog(TaskStatusEvent(status=TaskStatus.RUNNING))
	error: str | None = None

	def cancel_status() -> str:  # written by the runner itself, so no reader ever sees a passing `interrupted`
		by_user = user_cancel is None or user_cancel.is_set()
		return TaskStatus.CANCELLED if by_user else TaskStatus.QUEUED

	try:
		runner = runner_cls(store, task_id, emit=tlog, cancel=cancel, cancel_status=cancel_status, **runner_kw)
		result = runner.run()
		status, error = result.status, result.error  # a task whose every experiment failed says why
	except AutotunerError as exc:
		status, error = TaskStatus.FAILED, str(exc)
	except BaseException as exc:  # never lose the task: record what happened, keep it resumable
		status, error = TaskStatus.FAILED, f"{type(exc).__name__}: {exc}"
		log.exception("task %s failed", task_id)
	if cancel.is_set() and status in (TaskStatus.INTERRUPTED, TaskStatus.RUNNING, TaskStatus.FAILED):
		status, error = cancel_status(), None
	with store.session() as s:
		task = s.get(Task, task_id)
		if task is not None:
			task.status = status
			task.finished_at = utcnow()
			if error is not None:
				task.error = error
	tlog(TaskStatusEvent(status=status, error=error))
	return status
