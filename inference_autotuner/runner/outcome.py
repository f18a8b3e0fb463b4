"""What one experiment came to (`Outcome`): filled by a measurer (runner/measure.py), judged by runner/experiment.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..bench.metrics import RunMetrics
from ..scoring import ScoreResult
from .levels import LevelsResult


@dataclass
class Outcome:
	status: str  # success | failed | infeasible | interrupted | skipped (refused before launch)
	runs: list[RunMetrics] = field(default_factory=list)
	score: ScoreResult | None = None
	reason: str | None = None
	argv: list[str] | None = None
	startup_seconds: float = 0.0
	bench_seconds: float = 0.0
	duration: float = 0.0
	stop_seconds: float = 0.0
	gpu_info: dict[str, Any] | None = None
	predicted: bool = False  # figures from a performance model (deployment_mode predict), not a measurement
	saved_seconds: float = 0.0  # estimated load-run time not spent: early stop of a lost SLO, or pruning
	pruned: bool = False  # on_run asked to stop after some levels (multi-fidelity pruner)
	notes: list[str] = field(default_factory=list)  # why levels were skipped, and the like
	stopped_early: list[str] = field(default_factory=list)  # runs stopped early (a hard SLO clearly lost)
	levels: LevelsResult | None = None  # what the sweep or load search found (max load, the runs it scores)
	# what the measurer saw when the load ended (before the engine was stopped), for the verdict:
	measured: bool = False  # the runs ended (or were cut short) without an error: judge them
	cancelled: bool = False  # the task was cancelled during the load runs
	exit_code: int | None = None  # the engine had exited by the end of the load runs
	timed_out: bool = False  # timeout_per_iteration ran out before the runs could judge the configuration


RunHook = Callable[[list[RunMetrics]], bool]
"""Called after each load run with the runs so far; True stops the experiment's remaining levels (pruned)."""
