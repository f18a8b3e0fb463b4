"""One run as every load driver (and the built-in client's run_load) receives it: RunRequest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .metrics import GoodputSLO, RequestRecord, RunMetrics
from .traffic import Scenario


@dataclass
class RunRequest:
	"""One run, as every driver receives it. Times in seconds."""

	base_url: str
	scenario: Scenario
	concurrency: int
	max_requests: int
	max_duration_s: float
	warmup: int = 0
	endpoint: str = "completions"
	model: str | None = None
	extra_body: dict[str, Any] = field(default_factory=dict)
	goodput_slo: GoodputSLO | None = None
	tokenizer_dir: str | None = None
	"""A local tokenizer folder, used only when the server has no /tokenize endpoint (and by the external tools)."""
	workdir: Path | None = None
	seed: int = 0
	request_timeout: float = 300.0
	progress: Callable[[int, int], None] | None = None
	request_rate: float | None = None
	"""Open loop: Poisson arrivals at this many requests/s instead of `concurrency` (drivers with supports_rate)."""
	stop_check: Callable[[RequestRecord], str | None] | None = None
	"""In-run early stop (bench/early_stop.py), fed each finished request; only the builtin driver calls it."""
	objectives: tuple[str, ...] = ()
	"""The task's objectives: the builtin driver measures their in-run precision (bench/precision.py)."""
	precision: float | None = None
	"""benchmark.precision: the builtin driver sends no more once every objective is known to this (relative)."""
	client_processes: int = 1
	"""benchmark.client_processes: the builtin driver splits the load over this many client processes."""
	speedup: float | None = None
	"""Trace replay (benchmark.trace): recorded times divided by this (the max-load search's level); None: the
	trace's own speedup."""

	def labelled(self, metrics: RunMetrics) -> RunMetrics:
		"""A tool's parsed figures, labelled with this run's load level: concurrency, or request rate (open loop)."""
		if self.request_rate is None:
			return metrics
		return metrics.model_copy(update={"concurrency": None, "request_rate": self.request_rate})
