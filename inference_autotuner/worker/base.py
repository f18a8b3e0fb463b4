"""What the API needs of a task queue: put a task on it, ask it to stop one, say how its workers are doing."""

from __future__ import annotations

from typing import Any, Protocol


class TaskQueue(Protocol):
	mode: str  # "in-process" | "redis"

	def start(self) -> None:
		"""Start consuming (in-process) or connect (redis)."""
		...

	def stop(self) -> None:
		"""Stop: running tasks are cancelled (and stay resumable)."""
		...

	def enqueue(self, task_id: int) -> None:
		"""Run this task (its status is already `queued`)."""
		...

	def cancel(self, task_id: int) -> None:
		"""Ask whichever worker runs this task to stop it (engine stopped, status `cancelled`)."""
		...

	def workers(self) -> list[dict[str, Any]]:
		"""One entry per worker: id, kind, state, current task."""
		...
