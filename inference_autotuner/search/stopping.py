"""Stop when done: a search ends once more experiments are unlikely to help.

Rule: after `patience` experiments in a row that did not beat the best feasible value by more than the noise floor
(relative, 1% by default: the spread of repeated measurements on a quiet machine, and the benchmark's 99% target),
the search stops. It needs a feasible best first: a search that has found nothing feasible keeps looking. Failed,
pruned and infeasible experiments count as not improving. The reason is returned for the task's log.
"""

from __future__ import annotations

import math

import optuna
from optuna.trial import TrialState

from ..spec.models import OptimizationSpec

NOISE_FLOOR = 0.01
DEFAULT_PATIENCE = 10  # strategies auto and gp when optimization.stop_after is unset


def patience_of(opt: OptimizationSpec) -> int:
	"""Experiments without improvement before the search stops; 0: never (grid search enumerates, never stops)."""
	if opt.strategy == "grid_search":
		return 0
	if opt.stop_after is not None:
		return opt.stop_after
	return DEFAULT_PATIENCE if opt.strategy in ("auto", "gp") and not opt.multi_objective else 0


def should_stop(study: optuna.Study, patience: int, floor: float = NOISE_FLOOR) -> str | None:
	"""Why the search should stop now (a sentence for the log), or None to go on. Single-objective studies only."""
	if patience <= 0 or len(study.directions) != 1:
		return None
	trials = sorted(
		(t for t in study.get_trials(deepcopy=False) if t.state.is_finished() and t.state != TrialState.FAIL),
		key=lambda t: t.number,
	)
	best: float | None = None
	since = 0
	best_at = 0
	for i, t in enumerate(trials, 1):
		ok = t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)
		ok = ok and all(c <= 0 for c in (t.constraints or {}).values())
		if ok and (best is None or t.value < best - floor * abs(best)):  # type: ignore[operator]
			best, since, best_at = t.value, 0, i
		else:
			since += 1
	if best is None or since < patience:
		return None
	return (
		f"stopping: {since} experiments since the best (experiment {best_at} of the search) without an improvement "
		f"beyond the {floor:.0%} noise floor (optimization.stop_after: {patience}; 0 turns this off)"
	)
