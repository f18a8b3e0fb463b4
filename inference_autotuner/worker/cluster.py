"""A worker as one of several serving a task (docs/distributed.md): what it offers, and joining others' tasks.

`autotuner worker` with a PostgreSQL database is a cluster member: it announces its name, host and resources (CPU
cores, GPUs) in its Redis heartbeat; the task it runs opens its search to others (a `joinable` key, refreshed while
the search phase lasts); when idle, it joins such a task (runner/join.py) with its own slots, in a thread that lives
as long as its part of the search, and stops it on the task's cancel key or its own shutdown.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from ..gpus import discover
from ..runner.shared import Cluster
from ..store import Store, Task
from ..store.db import Heartbeat
from .execute import Publish, TaskLog
from .redis_keys import HEARTBEAT_TTL, cancel_key, joinable_key

log = logging.getLogger(__name__)
REJOIN_AFTER = 10.0  # seconds before a worker joins again a task whose search it left


@dataclass
class Member:
	"""This worker: its name, host, resources and the tasks it serves (as the task's runner or a joined helper)."""

	name: str
	host: str
	heartbeat: Heartbeat
	cpus: list[int] = field(default_factory=list)  # cores its engines run on (its CPU affinity)
	gpus: int = 0
	joined: dict[int, threading.Event] = field(default_factory=dict)  # task -> stop its part
	open: set[int] = field(default_factory=set)  # tasks this worker runs whose search others may join
	left: dict[int, float] = field(default_factory=dict)  # task -> when this worker's part of it ended

	def may_join(self, task_id: int) -> bool:
		"""Not a task it serves already, nor one it just left (its search was over for this worker)."""
		return (
			task_id not in self.joined
			and task_id not in self.open
			and time.monotonic() - self.left.get(task_id, -1e9) > REJOIN_AFTER
		)

	@classmethod
	def here(cls, name: str | None, cpus: list[int] | None, heartbeat: Heartbeat) -> Member:
		"""This process as a member: pinned to `cpus` (engines inherit the affinity) when given."""
		if cpus:
			os.sched_setaffinity(0, cpus)
		cores = (
			sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
		)
		host = socket.gethostname()
		return cls(name or f"{host}-{os.getpid()}", host, heartbeat, cores, len(discover()))

	def cluster(self) -> Cluster:
		"""What the task's runner needs to know of this worker."""
		return Cluster(
			worker=self.name,
			host=self.host,
			heartbeat=self.heartbeat,
			cpu_count=len(self.cpus) or None,
			gpus=self.gpus or None,
		)

	def resources(self) -> dict[str, Any]:
		return {"cpus": self.cpus, "gpus": self.gpus}


def open_search(member: Member, r: redis.Redis, task_id: int, is_open: bool) -> None:
	"""The runner's search phase opened or closed: others may join while the key lives (refresh_open)."""
	if is_open:
		member.open.add(task_id)
	else:
		member.open.discard(task_id)
	with contextlib.suppress(redis.RedisError, OSError):
		if is_open:
			r.set(joinable_key(task_id), member.name, ex=HEARTBEAT_TTL)
		else:
			r.delete(joinable_key(task_id))


def refresh_open(member: Member, r: redis.Redis) -> None:
	for task_id in list(member.open):
		with contextlib.suppress(redis.RedisError, OSError):
			r.set(joinable_key(task_id), member.name, ex=HEARTBEAT_TTL)


def joinable(r: redis.Redis) -> list[int]:
	"""Tasks whose search other workers may join now."""
	out = []
	with contextlib.suppress(redis.RedisError, OSError):
		for key in r.scan_iter(match=joinable_key("*"), count=100):
			tail = (key.decode() if isinstance(key, bytes) else str(key)).rsplit(":", 1)[-1]
			if tail.isdigit():
				out.append(int(tail))
	return sorted(out)


def join(member: Member, store: Store, r: redis.Redis, task_id: int, publish: Publish) -> threading.Thread:
	"""Serve `task_id`'s search from this worker, in a thread of its own (engines die with the thread that started
	them); it stops when the search is over, the task is cancelled (its cancel key) or stop is set."""
	from ..runner.join import JoinRunner

	stop = threading.Event()
	member.joined[task_id] = stop

	def target() -> None:
		try:
			with store.session() as s:
				task = s.get(Task, task_id)
				name = task.name if task is not None else str(task_id)
			runner = JoinRunner(
				store, task_id, emit=TaskLog(task_id, name, publish), cancel=stop, cluster=member.cluster()
			)
			runner.run()
		except Exception:
			log.exception("worker %s could not serve task %s", member.name, task_id)
		finally:
			member.left[task_id] = time.monotonic()
			member.joined.pop(task_id, None)

	def watch() -> None:  # the task's cancel key stops this part too (the runner also sees the task's status)
		while task_id in member.joined and not stop.is_set():
			with contextlib.suppress(redis.RedisError, OSError):
				if r.exists(cancel_key(task_id)):
					stop.set()
			stop.wait(0.5)

	thread = threading.Thread(target=target, name=f"autotuner-join-{task_id}", daemon=True)
	thread.start()
	threading.Thread(target=watch, name=f"autotuner-join-watch-{task_id}", daemon=True).start()
	log.info("worker %s joined task %s", member.name, task_id)
	return thread


def announce(member: Member, current: list[int], started: float) -> str:
	"""The worker's heartbeat record (JSON) in Redis: who, where, what it offers, which tasks it serves."""
	joined = sorted(member.joined)
	return json.dumps(
		{
			"id": member.name,
			"kind": "redis",
			"host": member.host,
			"pid": os.getpid(),
			"state": "busy" if current or joined else "idle",
			"task_id": next(iter(current or joined), None),
			"tasks": current,
			"joined": joined,
			"resources": member.resources(),
			"since": started,
		}
	)
