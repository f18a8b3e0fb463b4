"""`autotuner worker`: an ARQ worker that runs queued tasks from Redis.

Each task runs in its own thread that lives for the whole task (engines die with the thread that started them);
the job's coroutine watches the cancel key, keeps this worker's heartbeat and the task's owner key alive, and
relays events on pub/sub. Tasks whose owner key expired (their worker was killed) are queued again by any worker,
and so are queued tasks whose job a restarted Redis lost.

On PostgreSQL a worker is also a cluster member (cluster.py, docs/distributed.md): the task it runs opens its search
to other workers, and an idle worker joins such a task with its own cores or GPUs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from typing import Any

import redis
from arq.connections import RedisSettings
from arq.worker import Worker, func
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from ..store import Store, Task, TaskStatus
from ..store.db import Heartbeat
from .cluster import Member, announce, join, joinable, open_search, refresh_open
from .execute import execute_task
from .redis_keys import EVENTS, HEARTBEAT_TTL, QUEUE, cancel_key, owner_key, worker_key

log = logging.getLogger(__name__)


async def run_task(ctx: dict[str, Any], task_id: int) -> str:
	store: Store = ctx["store"]
	r: redis.Redis = ctx["redis_sync"]
	me: str = ctx["worker_id"]
	member: Member = ctx["member"]
	r.set(owner_key(task_id), me, ex=HEARTBEAT_TTL)
	ctx["current"].add(task_id)
	cluster = None
	if ctx["shared"]:  # PostgreSQL: other workers may join this task's search
		cluster = member.cluster()
		cluster.on_search = lambda is_open: open_search(member, r, task_id, is_open)

	def publish(ev: dict[str, Any]) -> None:
		with contextlib.suppress(redis.RedisError, OSError):
			r.publish(EVENTS, json.dumps(ev, default=str))

	cancel, user_cancel = threading.Event(), threading.Event()
	result: dict[str, str] = {}

	def target() -> None:
		result["status"] = execute_task(store, task_id, cancel, publish, user_cancel=user_cancel, cluster=cluster)

	thread = threading.Thread(target=target, name=f"autotuner-task-{task_id}", daemon=True)
	thread.start()
	try:
		while thread.is_alive():
			with contextlib.suppress(redis.RedisError, OSError):  # Redis restarting: the task goes on meanwhile
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
		open_search(member, r, task_id, False)
		with contextlib.suppress(redis.RedisError, OSError):
			r.delete(owner_key(task_id))
			if user_cancel.is_set():
				r.delete(cancel_key(task_id))
	return result.get("status", "unknown")


async def _requeue_orphans(ctx: dict[str, Any]) -> None:
	"""Tasks `running` with no live owner (their worker was killed): back to queued, and on the queue. An owner key
	must stay missing for HEARTBEAT_TTL seconds first: a restarted Redis comes back without it, and the live owner
	writes it again within a second."""
	store: Store = ctx["store"]
	r: redis.Redis = ctx["redis_sync"]
	missing: dict[int, float] = ctx.setdefault("missing_owner", {})
	with store.session() as s:
		running = list(s.scalars(select(Task.id).where(Task.status == TaskStatus.RUNNING)))
	for task_id in list(missing):
		if task_id not in running:
			missing.pop(task_id)
	for task_id in running:
		if r.exists(owner_key(task_id)):
			missing.pop(task_id, None)
			continue
		if time.monotonic() - missing.setdefault(task_id, time.monotonic()) < HEARTBEAT_TTL:
			continue
		missing.pop(task_id, None)
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
	await _requeue_lost_jobs(ctx)


async def _requeue_lost_jobs(ctx: dict[str, Any]) -> None:
	"""Tasks `queued` with no job on the queue and no owner (a Redis restarted without its data lost them): put
	them on the queue again. A second job for one task is harmless: claim() lets one of them run it."""
	store: Store = ctx["store"]
	r: redis.Redis = ctx["redis_sync"]
	with store.session() as s:
		queued = list(s.scalars(select(Task.id).where(Task.status == TaskStatus.QUEUED)))
	if not queued:
		return
	jobs = {(j.decode() if isinstance(j, bytes) else str(j)) for j in r.zrange(QUEUE, 0, -1)}  # type: ignore[union-attr]
	for task_id in queued:
		if r.exists(owner_key(task_id)) or any(j.startswith(f"task-{task_id}-") for j in jobs):
			continue
		log.warning("task %s is queued but its job is gone (Redis restarted?); queued again", task_id)
		await ctx["redis"].enqueue_job("run_task", task_id, _job_id=f"task-{task_id}-{uuid.uuid4().hex[:8]}")


async def _heartbeat(ctx: dict[str, Any]) -> None:
	r: redis.Redis = ctx["redis_sync"]
	me: str = ctx["worker_id"]
	member: Member = ctx["member"]
	started = time.time()
	n = 0
	while True:
		current = sorted(ctx["current"])
		with contextlib.suppress(redis.RedisError, OSError, DBAPIError):  # Redis or the database away: next beat
			r.set(worker_key(me), announce(member, current, started), ex=HEARTBEAT_TTL)
			refresh_open(member, r)
			if ctx["shared"] and not current and not member.joined:  # idle: join a task whose search is open
				for task_id in filter(member.may_join, joinable(r)):
					join(member, ctx["store"], r, task_id, ctx["publish"])
					break
			if n % 2 == 0:  # every 2 s: a task whose owner key stays missing 10 s more is queued again
				await _requeue_orphans(ctx)
		n += 1
		await asyncio.sleep(1)


class _Worker(Worker):
	"""ARQ's worker, but one that outlives a Redis restart: a failed poll of the queue waits and polls again (ARQ's
	own would end the worker, and with it the tasks it runs)."""

	_redis_lost = False

	async def _poll_iteration(self) -> None:
		try:
			await super()._poll_iteration()
		except (redis.RedisError, OSError) as exc:
			if not self._redis_lost:
				log.warning("Redis unreachable (%s); tasks go on, polling again", exc)
			self._redis_lost = True
			await asyncio.sleep(1)
			return
		if self._redis_lost:
			log.warning("Redis answers again")
			self._redis_lost = False


def make_worker(
	db_url: str,
	redis_url: str,
	*,
	max_jobs: int = 1,
	burst: bool = False,
	name: str | None = None,
	cpus: list[int] | None = None,
	heartbeat: Heartbeat | None = None,
) -> Worker:
	async def startup(ctx: dict[str, Any]) -> None:
		from ..deploy.local import LocalProcessDeployer

		ctx["store"] = store = Store(db_url)
		ctx["redis_sync"] = r = redis.Redis.from_url(redis_url, socket_timeout=5)
		ctx["member"] = member = Member.here(name, cpus, heartbeat or Heartbeat())
		ctx["worker_id"] = member.name
		ctx["shared"] = store.engine.dialect.name == "postgresql"  # joining needs one database for every host
		ctx["current"] = set()

		def publish(ev: dict[str, Any]) -> None:
			with contextlib.suppress(redis.RedisError, OSError):
				r.publish(EVENTS, json.dumps(ev, default=str))

		ctx["publish"] = publish
		swept = LocalProcessDeployer().sweep()  # engines a killed worker of this host left
		if swept:
			log.warning("removed %s engine process(es) left by a killed worker", swept)
		ctx["heartbeat"] = asyncio.create_task(_heartbeat(ctx))

	async def shutdown(ctx: dict[str, Any]) -> None:
		for stop in list(ctx["member"].joined.values()):  # joined tasks: this worker's part stops (measured again)
			stop.set()
		ctx["heartbeat"].cancel()
		with contextlib.suppress(BaseException):
			await ctx["heartbeat"]
		with contextlib.suppress(Exception):
			ctx["redis_sync"].delete(worker_key(ctx["worker_id"]))
			ctx["redis_sync"].close()
		ctx["store"].engine.dispose()

	return _Worker(
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


def run_worker(db_url: str, redis_url: str, *, max_jobs: int = 1, **member: Any) -> None:
	"""`member`: name, cpus, heartbeat (make_worker)."""
	logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
	make_worker(db_url, redis_url, max_jobs=max_jobs, **member).run()
