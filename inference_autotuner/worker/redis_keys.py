"""Names shared by the API and ARQ workers on Redis."""

QUEUE = "autotuner:queue"  # ARQ queue
EVENTS = "autotuner:events"  # pub/sub channel: worker -> API, JSON events with task_id
HEARTBEAT_TTL = 10  # seconds


def cancel_key(task_id: int) -> str:
	"""Set by the API to ask the worker running the task to stop it."""
	return f"autotuner:cancel:{task_id}"


def owner_key(task_id: int) -> str:
	"""Held (with a TTL, refreshed) by the worker running the task; gone = that worker died."""
	return f"autotuner:owner:{task_id}"


def worker_key(worker_id: str) -> str:
	return f"autotuner:worker:{worker_id}"


def joinable_key(task_id: int | str) -> str:
	"""Held (with a TTL, refreshed) while the task's search is open to other workers (docs/distributed.md)."""
	return f"autotuner:joinable:{task_id}"
