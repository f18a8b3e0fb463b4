"""Sizing: the fewest GPUs (replicas x world size) that serve a target request rate within the SLOs, from what each
configuration was measured to sustain (`autotuner best --target-rate R`)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field

from ..bench.metrics import RunMetrics
from ..scoring.objectives import cost_per_mtok
from ..scoring.slo import evaluate_slo
from ..spec.models import SLOSpec
from .collect import params_key_of, world_size_of


class Sizing(BaseModel):
	number: int = Field(description="The configuration's experiment that sustained the highest rate")
	params: dict[str, Any]
	world_size: int = Field(description="GPUs one replica uses")
	capacity: float = Field(description="req/s one replica sustained with every SLO met (the best run's throughput)")
	run: str = Field(description="The run that sustained it: scenario and load level")
	replicas: int
	gpus: int = Field(description="replicas x world_size")
	cost_per_hour: float | None = Field(None, description="gpus x the GPU-hour price, when the spec gives one")
	cost_per_mtok: float | None = None
	predicted: bool = False


def _label(run: RunMetrics) -> str:
	if run.concurrency is not None:
		return f"{run.scenario} c={run.concurrency}"
	return f"{run.scenario} rate={run.request_rate}"


def capacity_of(exp: dict[str, Any], slo: SLOSpec | None) -> tuple[float, str] | None:
	"""The highest request throughput among the experiment's runs that completed requests without errors and met
	every SLO (a soft violation counts as not met); with a load search its probes are these runs."""
	best: tuple[float, str] | None = None
	for raw in exp.get("runs") or []:
		try:
			run = RunMetrics.model_validate(raw)
		except ValueError:
			continue
		if run.completed <= 0 or run.errored > 0 or not run.valid:
			continue
		res = evaluate_slo(run, slo)
		if res.violations or res.unevaluated:
			continue
		rate = run.request_throughput
		if rate and math.isfinite(rate) and (best is None or rate > best[0]):
			best = (rate, _label(run))
	return best


def fewest_gpus(
	experiments: list[dict[str, Any]], slo: SLOSpec | None, target_rate: float, gpu_hour_usd: float | None = None
) -> list[Sizing]:
	"""Every successful configuration sized for `target_rate` req/s, fewest GPUs first (then the higher capacity)."""
	by_config: dict[str, Sizing] = {}
	for e in experiments:
		if e["status"] != "success":
			continue
		found = capacity_of(e, slo)
		if found is None:
			continue
		rate, label = found
		ws = world_size_of(e)
		replicas = max(1, math.ceil(target_rate / rate - 1e-9))
		key = params_key_of(e["params"])
		prev = by_config.get(key)
		if prev is not None and prev.capacity >= rate:
			continue
		gpus = replicas * ws
		out_tps = (e.get("figures") or {}).get("output_throughput")
		by_config[key] = Sizing(
			number=e["number"],
			params=e["params"],
			world_size=ws,
			capacity=rate,
			run=label,
			replicas=replicas,
			gpus=gpus,
			cost_per_hour=gpus * gpu_hour_usd if gpu_hour_usd is not None else None,
			cost_per_mtok=cost_per_mtok(out_tps, ws, gpu_hour_usd),
			predicted=bool(e.get("predicted")),
		)
	return sorted(by_config.values(), key=lambda s: (s.gpus, -s.capacity, s.number))
