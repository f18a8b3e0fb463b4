"""Server settings: database, queue, worker slots. Unsafe or impossible combinations are refused at start."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import AutotunerError
from ..paths import default_db_url


@dataclass
class Settings:
	db_url: str | None = None  # default: SQLite in the data dir (AUTOTUNER_DB)
	redis_url: str | None = None  # None: in-process worker; else ARQ queue + `autotuner worker` processes
	worker_slots: int = 1  # in-process worker: tasks run at the same time
	run_worker: bool = True  # in-process worker in this process (ignored with redis_url)

	def __post_init__(self) -> None:
		self.db_url = self.db_url or default_db_url()
		if self.worker_slots < 1:
			raise AutotunerError("worker slots must be >= 1", hint="use --slots 1 or more")
		if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
			raise AutotunerError(
				f"not a Redis URL: {self.redis_url}", hint="use redis://host:6379/0 or unix:///path/redis.sock"
			)

	@property
	def queue_mode(self) -> str:
		return "redis" if self.redis_url else "in-process"
