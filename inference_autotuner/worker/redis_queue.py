"""The API's side of the ARQ queue: enqueue tasks, ask workers to cancel, relay worker events to the EventHub."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

import redis
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from redis import asyncio as aioredis

from ..errors import Unavailable
from .execute import Publish
from .redis_keys import EVENTS, QUEUE, cancel_key, worker_key

log = logging.getLogger(__name__)


class RedisQueue:
	mode = "redis"

	def __init__(self, url: str, publish: Publish) -> None:
		self.url = url
		self.publish = publish
		self._sync = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
		self._pool: ArqRedis | None = None
		self._loop: asyncio.AbstractEventLoop | None = None
		self._relay: asyncio.Task[None] | None = None

	async def start(self) -> None:
		try:
			self._pool = await create_pool(RedisSettings.from_dsn(self.url), default_queue_name=QUEUE)
		except Exception as exc:
			raise Unavailable(
				f"cannot reach Redis at {self.url}: {exc}", hint="start redis-server or fix --redis"
			) from None
		self._loop = asyncio.get_running_loop()
		self._relay = asyncio.create_task(self._relay_events())

	async def _relay_events(self) -> None:
		client = aioredis.Redis.from_url(self.url)
		pubsub = client.pubsub()
		try:
			await pubsub.subscribe(EVENTS)
			while True:
				msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
				if msg is None or msg.get("type") != "message":
					continue
				with contextlib.suppress(ValueError, TypeError):
					self.publish(json.loads(msg["data"]))
		except asyncio.CancelledError:
			pass
		except Exception:
			log.exception("event relay from Redis stopped")
		finally:
			with contextlib.suppress(Exception):
				await pubsub.aclose()
				await client.aclose()

	async def stop(self) -> None:
		if self._relay is not None:
			self._relay.cancel()
			with contextlib.suppress(asyncio.CancelledError, Exception):
				await self._relay
		if self._pool is not None:
			await self._pool.aclose()
		self._sync.close()

	def enqueue(self, task_id: int) -> None:
		if self._pool is None or self._loop is None:
			raise Unavailable("the Redis queue is not connected")
		pool = self._pool
		try:
			self._sync.delete(cancel_key(task_id))
			job_id = f"task-{task_id}-{uuid.uuid4().hex[:8]}"
			fut = asyncio.run_coroutine_threadsafe(pool.enqueue_job("run_task", task_id, _job_id=job_id), self._loop)
			fut.result(timeout=10)
		except (redis.RedisError, OSError, TimeoutError) as exc:
			raise Unavailable(f"cannot queue task {task_id} on Redis: {exc}", hint="is redis-server running?") from None

	def cancel(self, task_id: int) -> None:
		try:
			self._sync.set(cancel_key(task_id), "1", ex=86400)
		except (redis.RedisError, OSError) as exc:
			raise Unavailable(f"cannot reach Redis to cancel task {task_id}: {exc}") from None

	def workers(self) -> list[dict[str, Any]]:
		out = []
		try:
			for key in self._sync.scan_iter(match=worker_key("*"), count=100):
				raw: Any = self._sync.get(key)
				if raw:
					with contextlib.suppress(ValueError):
						out.append(json.loads(raw))
		except (redis.RedisError, OSError) as exc:
			return [{"id": "redis", "kind": self.mode, "state": "unreachable", "error": str(exc)[:200]}]
		return sorted(out, key=lambda w: str(w.get("id")))
