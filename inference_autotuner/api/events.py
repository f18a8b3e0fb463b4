"""Fan-out of task events to WebSocket clients; safe to publish from any thread (the worker's)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

Event = dict[str, Any]


class EventHub:
	"""Subscribers per task id (0 = every task); each subscriber is an asyncio queue on its own event loop."""

	def __init__(self, maxsize: int = 1000) -> None:
		self._subs: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Event]]]] = {}
		self._lock = threading.Lock()
		self.maxsize = maxsize

	def subscribe(self, task_id: int) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue[Event]]:
		sub = (asyncio.get_running_loop(), asyncio.Queue[Event](self.maxsize))
		with self._lock:
			self._subs.setdefault(task_id, set()).add(sub)
		return sub

	def unsubscribe(self, task_id: int, sub: tuple[asyncio.AbstractEventLoop, asyncio.Queue[Event]]) -> None:
		with self._lock:
			subs = self._subs.get(task_id)
			if subs is not None:
				subs.discard(sub)
				if not subs:
					self._subs.pop(task_id, None)

	def publish(self, event: Event) -> None:
		task_id = int(event.get("task_id") or 0)
		with self._lock:
			targets = list(self._subs.get(task_id, ())) + (list(self._subs.get(0, ())) if task_id else [])
		for loop, q in targets:
			with contextlib.suppress(RuntimeError):  # that client's loop is closed: it is going away
				loop.call_soon_threadsafe(_put, q, event)

	def subscribers(self) -> int:
		with self._lock:
			return sum(len(v) for v in self._subs.values())


def _put(q: asyncio.Queue[Event], event: Event) -> None:
	if q.full():  # a slow client loses its oldest events, never blocks the worker
		with contextlib.suppress(asyncio.QueueEmpty):
			q.get_nowait()
	q.put_nowait(event)
