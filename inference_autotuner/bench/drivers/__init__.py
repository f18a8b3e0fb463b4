"""Load drivers: what sends load in a run. One module each behind the small `Driver` protocol (base.py).

- builtin: the built-in async streaming client (bench/client.py)
- genai-bench: sgl-project/genai-bench, the seed's load generator (extra `genai-bench`)
- aiperf: NVIDIA's AIPerf (extra `aiperf`)
- guidellm: vllm-project/guidellm (extra `guidellm`)

Every driver's results land in the same RunMetrics (docs/drivers.md gives each tool's mapping).
"""

from __future__ import annotations

from .aiperf import AiperfDriver
from .base import Driver, RunRequest
from .builtin import BuiltinDriver
from .genai_bench import GenaiBenchDriver
from .guidellm import GuidellmDriver

DRIVERS: dict[str, type] = {
	"builtin": BuiltinDriver,
	"genai-bench": GenaiBenchDriver,
	"aiperf": AiperfDriver,
	"guidellm": GuidellmDriver,
}
"""Every driver by the name a spec gives in benchmark.driver."""


def get_driver(name: str) -> Driver:
	"""The driver called `name`; ValueError naming the valid ones otherwise."""
	cls = DRIVERS.get(name)
	if cls is None:
		raise ValueError(f"unknown load driver {name!r}; valid: {', '.join(DRIVERS)}")
	driver: Driver = cls()
	return driver


__all__ = ["DRIVERS", "Driver", "RunRequest", "get_driver"]
