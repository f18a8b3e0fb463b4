"""The in-process worker: long-lived threads take task ids from a queue and run them one at a time each."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from sqlalchemy import select, update

from ..store import Store, Task, TaskStatus
from .execute import Publish, execute_task

log = logging.getLogger(__name__)


class LocalWorker:
	"""`slots` threads, each living as long as the worker (so engines it starts live exactly as long as their task)."""

	mode = "in-process"

	def __init__(self, store: Store, publish: Publish, *, slots: int = 1, **runner_kw: Any) -> None:
		self.store = store
		self.publish = publish
		self.slots = max(1, slots)
		self.runner_kw = runner_kw
		self._queue: queue.Queue[int | None] = queue.Queue()
		self._threads: list[threading.Thread] = []
		self._current: dict[int, tuple[threading.Event, threading.Event]] = {}  # task -> (stop, by the user)
		self._state: dict[str, int | None] = {}
		self._lock = threading.Lock()

	def start(self) -> None:
		self._recover()
		for i in range(self.slots):
			name = f"autotuner-worker-{i}"
			self._state[name] = None
			t = threading.Thread(target=self._loop, name=name, daemon=True)
			t.start()
			self._threads.append(t)

	def _recover(self) -> None:
		"""A serve process that died left tasks `running` or `queued`: queue them again (they resume exactly)."""
		with self.store.session() as s:
			s.execute(update(Task).where(Task.status == TaskStatus.RUNNING).values(status=TaskStatus.QUEUED))
			queued = list(s.scalars(select(Task.id).where(Task.status == TaskStatus.QUEUED).order_by(Task.id)))
		for task_id in queued:
			self._queue.put(task_id)

	def _loop(self) -> None:
		me = threading.current_thread().name
		while True:
			task_id = self._queue.get()
			if task_id is None:
				return
			cancel, user_cancel = threading.Event(), threading.Event()
			with self._lock:
				self._current[task_id] = (cancel, user_cancel)
				self._state[me] = task_id
			try:
				execute_task(self.store, task_id, cancel, self.publish, user_cancel=user_cancel, **self.runner_kw)
			except Exception:
				log.exception("worker could not run task %s", task_id)
			finally:
				with self._lock:
					self._current.pop(task_id, None)
					self._state[me] = None

	def enqueue(self, task_id: int) -> None:
		self._queue.put(task_id)

	def cancel(self, task_id: int) -> None:
		with self._lock:
			events = self._current.get(task_id)
		if events is not None:
			events[1].set()
			events[0].set()

	def stop(self, timeout: float = 30.0) -> None:
		with self._lock:  # running tasks go back to `queued`: the next start resumes them
			for cancel, _by_user in self._current.values():
				cancel.set()
		for _ in self._threads:
			self._queue.put(None)
		for t in self._threads:
			t.join(timeout)
		self._threads.clear()

	def workers(self) -> list[dict[str, Any]]:
		with self._lock:
			return [
				{"id": name, "kind": self.mode, "state": "busy" if tid else "idle", "task_id": tid}
				for name, tid in self._state.items()
			]
