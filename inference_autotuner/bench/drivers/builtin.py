"""The built-in async streaming client (bench/client.py) behind the driver protocol."""

from __future__ import annotations

import asyncio

from ..client import run_load
from ..metrics import RunMetrics
from .base import RunRequest


class BuiltinDriver:
	name = "builtin"
	supports_rate = True  # Poisson arrivals (RunRequest.request_rate)
	supports_early_stop = True  # in-run early stop (RunRequest.stop_check)

	def missing(self) -> str | None:
		return None

	async def run(self, req: RunRequest, cancel: asyncio.Event | None = None) -> RunMetrics:
		return await run_load(
			req.base_url,
			scenario=req.scenario,
			concurrency=req.concurrency,
			max_requests=req.max_requests,
			max_duration=req.max_duration_s,
			warmup_requests=req.warmup,
			endpoint=req.endpoint,  # type: ignore[arg-type]
			model=req.model,
			extra_body=dict(req.extra_body),
			goodput_slo=req.goodput_slo,
			seed=req.seed,
			request_timeout=req.request_timeout,
			model_tokenizer=req.tokenizer_dir,
			cancel=cancel,
			progress=req.progress,
			request_rate=req.request_rate,
			stop_check=req.stop_check,
			objectives=req.objectives,
			precision=req.precision,
			processes=req.client_processes,
		)
