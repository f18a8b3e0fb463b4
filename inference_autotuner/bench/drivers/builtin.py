"""The built-in async streaming client (bench/client.py) behind the driver protocol."""

from __future__ import annotations

import asyncio

from ..client import run_load
from ..metrics import RunMetrics
from ..request import RunRequest


class BuiltinDriver:
	name = "builtin"
	supports_rate = True  # Poisson arrivals (RunRequest.request_rate)
	supports_early_stop = True  # in-run early stop (RunRequest.stop_check)
	workloads = ("dataset", "sessions", "shared_prefix", "trace")  # bench/workload.py

	def missing(self) -> str | None:
		return None

	async def run(self, req: RunRequest, cancel: asyncio.Event | None = None) -> RunMetrics:
		return await run_load(req, cancel)
