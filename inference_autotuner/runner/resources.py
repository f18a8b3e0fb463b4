"""How many experiments may run at once: optimization.max_parallel, capped by what the host can give each one."""

from __future__ import annotations

import os
from typing import Any

from ..space import Space
from ..spec.models import TaskSpec

CPU_ENGINES = ("llamacpp",)


def _max_value(space: Space, name: str) -> float | None:
	"""The largest value a dimension (or fixed flag) `name` can take; None when absent or not numeric."""
	if name in space.fixed:
		v = space.fixed[name]
		return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
	for d in space.dimensions:
		if d.name == name:
			values = d.grid_values()
			nums = [float(v) for v in (values or []) if isinstance(v, int | float) and not isinstance(v, bool)]
			if nums:
				return max(nums)
			return float(d.high) if d.high is not None else None
	return None


def parallel_slots(
	spec: TaskSpec, space: Space, *, cpu_count: int | None = None, gpus: int | None = None
) -> tuple[int, str]:
	"""(experiments at once, why). The cap, by deployment:

	- predict, kubernetes, ome: max_parallel as asked (a model, or the cluster's scheduler, holds the resources).
	- llama.cpp on this host: cores // (the most threads one engine may use; all cores when `threads` is not set),
	  so parallel engines do not share cores (the load generators still do: see docs/search.md).
	- GPU engines: GPUs // the largest world size of the space (hardware.gpu_count, else the GPUs found here);
	  the deployer hands each experiment its own GPUs.
	"""
	want = spec.optimization.max_parallel
	if want <= 1:
		return 1, "max_parallel is 1"
	if spec.deployment_mode in ("predict", "kubernetes", "ome"):
		return want, f"{spec.deployment_mode}: resources are not held by this host"
	if spec.base_runtime in CPU_ENGINES:
		cores = cpu_count or os.cpu_count() or 1
		threads = _max_value(space, "threads") or _max_value(space, "t")
		per = int(threads) if threads and threads > 0 else cores
		slots = max(1, cores // max(1, per))
		return min(want, slots), f"{cores} cores, up to {per} thread(s) per engine"
	total = gpus
	if total is None:
		total = spec.hardware.gpu_count if spec.hardware and spec.hardware.gpu_count else None
	if total is None:
		from ..gpus import discover

		total = len(discover())
	world = _world_size_bound(spec)
	slots = max(1, total // world) if total else 1
	return min(want, slots), f"{total} GPU(s), world size up to {world}"


def _world_size_bound(spec: TaskSpec) -> int:
	"""The largest world size the parallel_config (or tp/pp flags) may ask for; 1 without any."""
	best = 1
	cfg: dict[str, Any] = spec.parallel_config or {}
	for key in ("tp", "pp", "dp"):
		v = cfg.get(key)
		vals = v if isinstance(v, list) else [v]
		nums = [int(x) for x in vals if isinstance(x, int | float) and not isinstance(x, bool)]
		if nums:
			best *= max(nums)
	for flag in ("tensor-parallel-size", "tp", "tp-size", "pipeline-parallel-size"):
		v = spec.parameters.get(flag)
		vals = v if isinstance(v, list) else [v]
		nums = [int(x) for x in vals if isinstance(x, int | float) and not isinstance(x, bool)]
		if nums:
			best = max(best, max(nums))
	return max(1, best)
