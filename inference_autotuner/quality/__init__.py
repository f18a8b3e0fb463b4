"""The quality guardrail (docs/quality.md): a configuration that is faster because it answers worse is infeasible.

Each experiment's engine is probed with fixed prompts (greedy, top-k log-probabilities) and compared with a
reference configuration's probe: top-1 agreement, mean KL over the top-k, exact match; optionally an eval set's
accuracy. Thresholds (`quality:` in the spec) make a configuration below them infeasible.
"""

from __future__ import annotations

from .agreement import Comparison, compare, position_kl
from .data import EvalItem, load_eval, probe_prompts
from .guard import FIGURES, QUALITY_OBJECTIVES, ProbeResult, QualityGuard, judge, quality_spec
from .requests import Completion, LogprobsUnavailable, Position, complete

__all__ = [
	"FIGURES",
	"QUALITY_OBJECTIVES",
	"Comparison",
	"Completion",
	"EvalItem",
	"LogprobsUnavailable",
	"Position",
	"ProbeResult",
	"QualityGuard",
	"compare",
	"complete",
	"judge",
	"load_eval",
	"position_kl",
	"probe_prompts",
	"quality_spec",
]
