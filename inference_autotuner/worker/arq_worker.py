"""`autotuner worker`: an ARQ worker that runs queued tasks from Redis.

Each task runs in its own thread that lives for the whole task (engines die with the thread that started them);
the job's coroutine watches the cancel key, keeps this worker's heartbeat and the task's owner key alive, and
relays events on pub/sub. Tasks whose owner key expired (their worker was killed) are queued again by any worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

import redis
from arq.connections import RedisSettings
from arq.worker import Worker, func
from sqlalchemy import select, update

from ..store import Store, Task, TaskStatus
from .execute import execute_task
from .redis_keys import EVENTS, HEARTBEAT_TTL, QUEUE, cancel_key, owner_key, worker_key

log = logging.getLogger(__name__)


async def run_task(ctx: dict[str, Any], task_id: int) -> str:
	store: Store = ctx["store"]
	r: redis.Redis = ctx["redis_sync"]
	me: str = ctx["worker_id"]
	r.set(owner_key(task_id), me, ex=HEARTBEAT_TTL)
	ctx["current"].add(task_id)

	def publish(ev: dict[str, Any]) -> None:
		with contextlib.suppress(redis.RedisError, OSError):
			r.publish(EVENTS, json.dumps(ev, default=str))

	cancel, user_cancel = threading.Event(), threading.Event()
	result: dict[str, str] = {}

	def target() -> None:
		result["status"] = execute_task(store, task_id, cancel, publish, user_cancel=user_cancel)

	thread = threading.Thread(target=target, name=f"autotuner-task-{task_id}", daemon=True)
	thread.start()
	try:
		while thread.is_alive():
			if not cancel.is_set() and r.exists(cancel_key(task_id)):
				user_cancel.set()
				cancel.set()
			r.set(owner_key(task_id), me, ex=HEARTBEAT_TTL)
			await asyncio.sleep(0.25)
	except asyncio.CancelledError:  # the worker is shutting down: stop the task; it goes back to queued
		cancel.set()
		thread.join(60)
		raise
	finally:
		ctx["current"].discard(task_id)
		with contextlib.suppress(redis.RedisError, OSError):
			r.delete(owner_key(task_id))
			if user_cancel.is_set():
				r.delete(cancel_key(task_id))
	return result.get("status", "unknown")


async def _requeue_orphans(ctx: dict[str, Any]) -> None:
	"""Tasks `running` with no live owner (their worker was killed): back to queued, and on the queue."""
	store: Store = ctx["store"]
	r: redis.Redis = ctx["redis_sync"]
	with store.session() as s:
		running = list(s.scalars(select(Task.id).where(Task.status == TaskStatus.RUNNING)))
	for task_id in running:
		if r.exists(owner_key(task_id)):
			continue
		with store.session() as s:
			res = s.execute(
				update(Task)
				.where(Task.id == task_id, Task.status == TaskStatus.RUNNING)
				.values(status=TaskStatus.QUEUED)
			)
			moved = getattr(res, "rowcount", 0) == 1
		if moved:
			log.warning("task %s lost its worker; queued again", task_id)
			await ctx["redis"].enqueue_job("run_task", task_id, _job_id=f"task-{task_id}-{uuid.uuid4().hex[:8]}")


async def _heartbeat(ctx: dict[str, Any]) -> None:
	r: redis.Redis = ctx["redis_sync"]
	me: str = ctx["worker_id"]
	started = time.time()
	n = 0
	while True:
		current = sorted(ctx["current"])
		info = {
			"id": me,
			"kind": "redis",
			"host": socket.gethostname(),
			"pid": os.getpid(),
			"state": "busy" if current else "idle",
			"task_id": current[0] if current else None,
			"tasks": current,
			"since": started,
		}
		with contextlib.suppress(redis.RedisError, OSError):
			r.set(worker_key(me), json.dumps(info), ex=HEARTBEAT_TTL)
			if n % 5 == 0:
				await _requeue_orphans(ctx)
		n += 1
		await asyncio.sleep(2)


def make_worker(db_url: str, redis_url: str, *, max_jobs: int = 1, burst: bool = False) -> Worker:
	async def startup(ctx: dict[str, Any]) -> None:
		ctx["store"] = Store(db_url)
		ctx["redis_sync"] = redis.Redis.from_url(redis_url, socket_timeout=5)
		ctx["worker_id"] = f"{socket.gethostname()}-{os.getpid()}"
		ctx["current"] = set()
		ctx["heartbeat"] = asyncio.create_task(_heartbeat(ctx))

	async def shutdown(ctx: dict[str, Any]) -> None:
		ctx["heartbeat"].cancel()
		with contextlib.suppress(BaseException):
			await ctx["heartbeat"]
		with contextlib.suppress(Exception):
			ctx["redis_sync"].delete(worker_key(ctx["worker_id"]))
			ctx["redis_sync"].close()
		ctx["store"].engine.dispose()

	return Worker(
		functions=[func(run_task, name="run_task", max_tries=1)],  # type: ignore[arg-type]
		queue_name=QUEUE,
		redis_settings=RedisSettings.from_dsn(redis_url),
		on_startup=startup,
		on_shutdown=shutdown,
		max_jobs=max_jobs,
		job_timeout=30 * 24 * 3600,
		keep_result=3600,
		poll_delay=0.2,
		burst=burst,
		handle_signals=True,
	)


def run_worker(db_url: str, redis_url: str, *, max_jobs: int = 1) -> None:
	logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
	make_worker(db_url, redis_url, max_jobs=max_jobs).run()
