"""GPU acquisition for every deployer that runs engines on this host (local process, docker): one helper.

A launch says how many GPUs it holds here (`Launch.gpus`: world size for a GPU engine, 0 for a CPU engine or a
cluster that schedules its own); `acquire` waits for them (the allocator's flock'd GPUs, gpus.py) up to `wait` s and
answers EngineStartError when they do not come; `release` gives them back; `info` is the experiment's gpu_info.
"""

from __future__ import annotations

import os

from ..errors import EngineStartError
from ..gpus import Allocation, GPUAllocator, OutOfGPUsError
from .base import Launch


class GPUHold:
	"""The GPUs one deployer's engines hold: acquired per launch, released at stop (or a failed start)."""

	def __init__(self, allocator: GPUAllocator | None = None, wait: float | None = None) -> None:
		self.allocator = allocator or GPUAllocator()
		self.wait = wait if wait is not None else float(os.environ.get("AUTOTUNER_GPU_WAIT", "600"))

	def acquire(self, launch: Launch) -> Allocation | None:
		"""`launch.gpus` GPUs of this host (None when it needs none)."""
		if launch.gpus <= 0:
			return None
		try:
			return self.allocator.acquire(launch.gpus, timeout=self.wait)
		except OutOfGPUsError as exc:
			raise EngineStartError(exc.message, hint=exc.hint) from None

	def release(self, allocation: Allocation | None) -> None:
		if allocation is not None:
			self.allocator.release(allocation)

	@staticmethod
	def info(allocation: Allocation | None, launch: Launch) -> dict[str, object]:
		"""gpu_info of the experiment: the GPUs it held (none: count 0) and its world size."""
		return (allocation or Allocation([], launch.world_size)).info()
